import { afterAll, describe, expect, it } from 'vitest';
import { apiFixture } from './api-fixture.ts';

const f = await apiFixture();
afterAll(async () => {
  await f.close();
});

describe('the OpenAPI document', () => {
  it('defines every schema it refers to (the recursive conditions included)', async () => {
    const doc = (await f.app.inject({ method: 'GET', url: '/openapi.json' })).json<{
      components?: { schemas?: Record<string, unknown> };
    }>();
    const defined = new Set(
      Object.keys(doc.components?.schemas ?? {}).map((name) => `#/components/schemas/${name}`),
    );
    const refs = new Set([...JSON.stringify(doc).matchAll(/"\$ref":"([^"]+)"/g)].map((m) => m[1] ?? ''));
    expect(refs.size).toBeGreaterThan(5);
    expect([...refs].filter((ref) => !defined.has(ref))).toEqual([]);
  });
});
