import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TrackTarget } from '../../api/auth/track-token.ts';
import { signTrackToken } from '../../api/auth/track-token.ts';
import { newUnsubscribeSecret, signUnsubscribeToken } from '../../api/auth/unsubscribe-token.ts';
import { PIXEL } from '../../api/routes/track/track.routes.ts';
import type { Decision } from '../../pipeline/core/decision.ts';
import type { StatsMessages } from '../../pipeline/ports/audit-reader.ts';
import { clickhouseClient } from '../clickhouse-cli.ts';
import { apiFixture, NOW } from './api-fixture.ts';
import { expectErrorShape, send } from './api-helpers.ts';
import { recordDeliveryTraffic } from './delivery-traffic.ts';

/**
 * The tracking links of mail opens and push clicks (issue #17), through `inject` on the real
 * Redis and ClickHouse: no key, the signed token the credential, its kind deciding what may be
 * recorded, each outcome stored once per send in `inapp_outcomes`, and the funnel counting them.
 */
const DAY = 86_400_000;
const T0 = Math.floor(NOW / DAY) * DAY - DAY;
let f: Awaited<ReturnType<typeof apiFixture>>;
let secret: string;
let decisions: Decision[] = [];
let tracked = new Set<string>();

beforeAll(async () => {
  f = await apiFixture();
  // Made here first, as the email sender makes it when it runs before any API.
  secret = await f.keyStore.ensureUnsubscribeSecret(newUnsubscribeSecret());
  const recorded = await recordDeliveryTraffic(f, T0);
  decisions = recorded.decisions;
  tracked = new Set(recorded.inApp.map((o) => o.decision_id));
}, 120_000);

afterAll(async () => {
  await f.close();
});

/** A sent decision of `channel` that nothing has been recorded for yet, the `n`-th of them. */
function untracked(channel: string, n: number): Decision {
  const found = decisions.filter(
    (d) => d.outcome === 'sent' && d.channel === channel && !tracked.has(d.decision_id),
  )[n];
  if (found === undefined) throw new Error(`no ${n}-th untracked ${channel} send`);
  return found;
}

const tokenOf = (send: Decision, kind: TrackTarget['kind']) =>
  signTrackToken(secret, {
    kind,
    decision_id: send.decision_id,
    message_id: send.message_id,
    user_id: send.user_id,
    channel: send.channel,
    at: send.at,
  });

const outcomesOf = (decisionId: string) =>
  clickhouseClient<{ channel: string; outcome: string; latency_ms: string; rows: string }>(
    `SELECT channel, outcome, any(latency_ms) AS latency_ms, count() AS rows
     FROM ${f.ns.database}.inapp_outcomes FINAL WHERE decision_id = '${decisionId}'
     GROUP BY channel, outcome ORDER BY outcome`,
  );

const pixel = (token: string) => send(f.app, { method: 'GET', url: `/v1/track/${token}/open.gif` });

const expectGif = (response: Awaited<ReturnType<typeof pixel>>) => {
  expect(response.statusCode).toBe(200);
  expect(response.headers['content-type']).toBe('image/gif');
  expect(response.headers['cache-control']).toBe('no-store');
  expect(response.rawPayload).toEqual(PIXEL);
  // GIF89a, 1×1.
  expect(response.rawPayload.subarray(0, 10)).toEqual(Buffer.from('GIF89a\x01\x00\x01\x00', 'latin1'));
};

const emailSeen = async () => {
  const response = await send(f.app, {
    method: 'GET',
    url: `/v1/stats/messages?from=${T0}&to=${NOW + 1}&channel=email`,
    key: f.keys.read,
  });
  expect(response.statusCode, response.body).toBe(200);
  return (JSON.parse(response.body) as StatsMessages).messages.find((m) => m.message_id === 'weekly-tip')
    ?.seen;
};

describe('GET /v1/track/:token/open.gif', () => {
  it('records one `seen` for the mail, however often it is loaded, and the funnel counts it', async () => {
    const mail = untracked('email', 0);
    const before = await emailSeen();
    expectGif(await pixel(tokenOf(mail, 'open')));
    expectGif(await pixel(tokenOf(mail, 'open')));
    expect(await outcomesOf(mail.decision_id)).toEqual([
      { channel: 'email', outcome: 'seen', latency_ms: String(NOW - mail.at), rows: '1' },
    ]);
    expect(await emailSeen()).toBe((before ?? 0) + 1);
  });

  it('answers the GIF to a forged token, an unsubscribe token or a click token, and records nothing', async () => {
    const mail = untracked('email', 1);
    const open = tokenOf(mail, 'open');
    const [payload = '', signature = ''] = open.split('.');
    const forged = [
      `${payload}.${signature.slice(0, 42)}${signature.endsWith('A') ? 'B' : 'A'}`,
      signTrackToken(newUnsubscribeSecret(), { ...tokenTarget(mail), kind: 'open' }),
      signUnsubscribeToken(secret, { user_id: mail.user_id, message_id: mail.message_id, channel: 'email' }),
      tokenOf(mail, 'click'),
      'not-a-token',
    ];
    for (const token of forged) expectGif(await pixel(token));
    expect(await outcomesOf(mail.decision_id)).toEqual([]);
  });
});

describe('POST /v1/track/:token/seen and /click', () => {
  it("records the push's `seen` and `clicked`, each once, with 204", async () => {
    const push = untracked('push', 0);
    const token = tokenOf(push, 'click');
    for (const action of ['seen', 'click', 'click']) {
      const response = await f.app.inject({ method: 'POST', url: `/v1/track/${token}/${action}` });
      expect(response.statusCode, response.body).toBe(204);
    }
    expect((await outcomesOf(push.decision_id)).map((o) => [o.channel, o.outcome, o.rows])).toEqual([
      ['push', 'clicked', '1'],
      ['push', 'seen', '1'],
    ]);
  });

  it('takes the kind from the token, not the path: an open token is a 400, as is a forged one; nothing is recorded', async () => {
    const mail = untracked('email', 2);
    const push = untracked('push', 1);
    for (const url of [
      `/v1/track/${tokenOf(mail, 'open')}/click`,
      `/v1/track/${tokenOf(mail, 'open')}/seen`,
      `/v1/track/${tokenOf(push, 'click').slice(0, -2)}/click`,
    ])
      expect(expectErrorShape(await f.app.inject({ method: 'POST', url }), 400).code).toBe('invalid_request');
    expect(
      expectErrorShape(
        await f.app.inject({ method: 'POST', url: `/v1/track/${tokenOf(push, 'click')}/open` }),
        404,
      ).code,
    ).toBe('not_found');
    expect(await outcomesOf(mail.decision_id)).toEqual([]);
    expect(await outcomesOf(push.decision_id)).toEqual([]);
  });

  it('is not in the OpenAPI document', async () => {
    const doc = await send(f.app, { method: 'GET', url: '/openapi.json' });
    const paths = Object.keys((JSON.parse(doc.body) as { paths: Record<string, unknown> }).paths);
    expect(paths).toContain('/v1/track');
    expect(paths.filter((path) => path.startsWith('/v1/track/'))).toEqual([]);
  });
});

const tokenTarget = (send: Decision) => ({
  decision_id: send.decision_id,
  message_id: send.message_id,
  user_id: send.user_id,
  channel: 'email' as const,
  at: send.at,
});
