import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { smsResult, TwilioSms } from '../../../pipeline/adapters/http/twilio-sms.ts';
import type { Delivery } from '../../../pipeline/ports/delivery.ts';

const TWILIO_400 = JSON.stringify({
  code: 21211,
  message: "The 'To' number 123 is not a valid phone number.",
  more_info: 'https://www.twilio.com/docs/errors/21211',
  status: 400,
});

describe('smsResult', () => {
  it.each([
    [200, '{}', 'delivered'],
    [201, '{"sid":"SM1","status":"queued"}', 'delivered'],
    [429, '{"code":20429,"message":"Too Many Requests"}', 'transient'],
    [500, '', 'transient'],
    [502, '<html>Bad Gateway</html>', 'transient'],
    [503, '{}', 'transient'],
    [400, TWILIO_400, 'permanent'],
    [401, '{"code":20003,"message":"Authenticate"}', 'permanent'],
    [404, '', 'permanent'],
    [408, '', 'permanent'],
    [301, '', 'permanent'],
  ])('%i is %s', (status, body, result) => {
    expect(smsResult(status, body)).toMatchObject({ result, status });
  });

  it("takes the reason from the JSON body's message, with its code", () => {
    expect(smsResult(400, TWILIO_400)).toEqual({
      result: 'permanent',
      status: 400,
      reason: "The 'To' number 123 is not a valid phone number. (code 21211)",
    });
    expect(smsResult(400, '{"message":"no"}')).toMatchObject({ reason: 'no' });
  });

  it.each(['', 'not json', '[]', 'null', '{"message":""}', '{"message":42}'])(
    'says what the status was when the body %j has no message',
    (body) => {
      expect(smsResult(403, body)).toMatchObject({ reason: 'the provider answered 403' });
    },
  );
});

const delivery: Delivery = {
  decision_id: 'm:e1',
  message_id: 'm',
  message_version: 1,
  user_id: 'u',
  channel: 'sms',
  at: 0,
  subject: null,
  body: 'hi',
};

async function listening(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

async function closed(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => {
    server.close(() => {
      resolve();
    });
  });
}

describe('TwilioSms without an answer', () => {
  it('is transient with status 0 when nothing listens', async () => {
    const gone = createServer();
    const port = await listening(gone);
    await closed(gone);
    const sms = new TwilioSms({
      baseUrl: `http://127.0.0.1:${port}`,
      accountSid: 'AC1',
      authToken: 't',
      from: '+1',
    });
    expect(await sms.send(delivery, '+15550000001')).toMatchObject({ result: 'transient', status: 0 });
  });

  it('is transient with status 0 when the provider never answers within the timeout', async () => {
    // Takes the request and never answers it.
    const silent = createServer(() => undefined);
    const port = await listening(silent);
    try {
      const sms = new TwilioSms({
        baseUrl: `http://127.0.0.1:${port}`,
        accountSid: 'AC1',
        authToken: 't',
        from: '+1',
        timeoutMs: 200,
      });
      expect(await sms.send(delivery, '+15550000001')).toEqual({
        result: 'transient',
        status: 0,
        reason: 'no answer from the provider: timed out',
      });
    } finally {
      await closed(silent);
    }
  });
});
