import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { CHANNELS } from '../../pipeline/core/message-schema.ts';

describe("the composer's copy of the channels (its page is served as it is, without imports)", () => {
  it('lists the channels of pipeline/core/message-schema.ts, in their order, for the Channel select', async () => {
    const page = await readFile(new URL('../../dashboards/composer-fields.js', import.meta.url), 'utf8');
    const list = /export const CHANNELS = (\[[^\]]*\]);/.exec(page)?.[1];
    expect(list, 'composer-fields.js defines CHANNELS').toBeDefined();
    expect([...(list ?? '').matchAll(/'([^']*)'/g)].map((m) => m[1])).toEqual([...CHANNELS]);
  });
});
