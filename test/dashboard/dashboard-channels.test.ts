import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { IN_APP_CHANNELS } from '../../pipeline/ports/inbox.ts';

describe("the dashboard's copy of the in-app channels (its page is served as it is, without imports)", () => {
  it('lists the channels of pipeline/ports/inbox.ts, so the funnel shows seen, clicked and dismissed for those', async () => {
    const page = await readFile(new URL('../../dashboards/dashboard.js', import.meta.url), 'utf8');
    const list = /const IN_APP_CHANNELS = (\[[^\]]*\]);/.exec(page)?.[1];
    expect(list, 'dashboard.js defines IN_APP_CHANNELS').toBeDefined();
    expect(JSON.parse((list ?? '').replaceAll("'", '"'))).toEqual([...IN_APP_CHANNELS]);
  });
});
