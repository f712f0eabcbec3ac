import type { SendResult } from '../../ports/channel.ts';
import type { Delivery } from '../../ports/delivery.ts';
import type { SmsProvider } from '../../ports/sms-provider.ts';

export type TwilioSmsOptions = {
  /** Where the Messages API is; another host speaking the same API (a proxy, a test) may stand in. */
  readonly baseUrl?: string;
  readonly accountSid: string;
  readonly authToken: string;
  /** The sending number (E.164, `+15005550006`) or alphanumeric sender id, as the account allows. */
  readonly from: string;
  /** How long one request may take, answer included, before it counts as no answer (transient). */
  readonly timeoutMs?: number;
};

export const TWILIO_API = 'https://api.twilio.com';

/**
 * Sends texts through Twilio's Messages API (`POST /2010-04-01/Accounts/{sid}/Messages.json`,
 * form-encoded `To`, `From`, `Body`, HTTP Basic auth with the account SID and auth token), or any
 * provider speaking its shape. The text is the delivery's body alone: an SMS has no subject, and a
 * subject written for mail would lengthen (and split into more billed segments) every text.
 * `I-Twilio-Idempotency-Token` carries the decision id, so a provider that honours it drops a
 * delivery sent again after a crash. A 2xx is delivered (the provider queued it); 429 and 5xx are
 * transient, as is no answer in time; any other answer is permanent, its reason the JSON body's
 * `message` when there is one.
 */
export class TwilioSms implements SmsProvider {
  private readonly url: string;
  private readonly authorization: string;

  constructor(private readonly options: TwilioSmsOptions) {
    const base = (options.baseUrl ?? TWILIO_API).replace(/\/+$/, '');
    this.url = `${base}/2010-04-01/Accounts/${encodeURIComponent(options.accountSid)}/Messages.json`;
    const credentials = Buffer.from(`${options.accountSid}:${options.authToken}`).toString('base64');
    this.authorization = `Basic ${credentials}`;
  }

  async send(delivery: Delivery, to: string): Promise<SendResult> {
    let response: Response;
    let text: string;
    try {
      response = await fetch(this.url, {
        method: 'POST',
        headers: {
          authorization: this.authorization,
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'application/json',
          'i-twilio-idempotency-token': delivery.decision_id,
        },
        body: new URLSearchParams({ To: to, From: this.options.from, Body: delivery.body }),
        // A redirect is an answer about the configured URL, not one to follow with the credentials.
        redirect: 'manual',
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 10_000),
      });
      text = await response.text();
    } catch (error) {
      return {
        result: 'transient',
        status: 0,
        reason: `no answer from the provider: ${fetchFailure(error)}`,
      };
    }
    return smsResult(response.status, text);
  }
}

/** What the provider's answer to one send means: its HTTP status, and its body for the reason. */
export function smsResult(status: number, body: string): SendResult {
  if (status >= 200 && status < 300) return { result: 'delivered', status };
  const said = providerMessage(body);
  return {
    result: status === 429 || status >= 500 ? 'transient' : 'permanent',
    status,
    reason: said ?? `the provider answered ${status}`,
  };
}

/** Twilio's error body, `{"code": 21211, "message": "…", "status": 400}`: "message (code 21211)". */
function providerMessage(body: string): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const { message, code } = parsed as { message?: unknown; code?: unknown };
  if (typeof message !== 'string' || message.trim() === '') return undefined;
  return typeof code === 'number' || typeof code === 'string' ? `${message} (code ${code})` : message;
}

/** A fetch failure's own words: undici puts the socket's error (ECONNREFUSED …) in `cause`. */
function fetchFailure(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
  return `${error.name === 'TimeoutError' ? 'timed out' : error.message}${cause}`;
}
