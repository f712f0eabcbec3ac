import { createHash } from 'node:crypto';
import { createTransport } from 'nodemailer';
import type { NodemailerError } from 'nodemailer/lib/errors';
import type { Mailer, SendResult } from '../../ports/channel.ts';
import type { Delivery } from '../../ports/delivery.ts';
import { renderMail } from './mail-template.ts';

export type SmtpMailerOptions = {
  /** `smtp://[user:pass@]host:port` (STARTTLS when the server offers it) or `smtps://` (TLS from the start). */
  readonly url: string;
  /** The sender, `no-reply@example.com` or `"Name" <no-reply@example.com>`. */
  readonly from: string;
  /** Connections kept open to the server. */
  readonly maxConnections?: number;
  /** false: a connection of its own for every mail (what `bench:email` measures the pool against). */
  readonly pool?: boolean;
  readonly timeoutMs?: number;
  /**
   * The signed unsubscribe link of a delivery (README "Deliveries"): put in the `List-Unsubscribe`
   * header with `List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058: a mailbox
   * provider's "Unsubscribe" button POSTs it) and in the footer of both parts. `nudge send email`
   * always gives it; a rejection (its secret could not be read) is the sender's own failure, and
   * the delivery comes again.
   */
  readonly unsubscribeUrl?: (delivery: Delivery) => Promise<string>;
  /**
   * The signed open pixel of a delivery (`{public URL}/v1/track/{token}/open.gif`), placed at the
   * end of the HTML part; `nudge send email` always gives it. A rejection fails the send as one of
   * `unsubscribeUrl` does.
   */
  readonly openPixelUrl?: (delivery: Delivery) => Promise<string>;
};

/**
 * Mails deliveries through one SMTP server over a pool of kept-open connections. The reply decides
 * the result by its class (RFC 5321): 2xx delivered, 4xx transient, 5xx permanent; an error with no
 * reply (refused, reset, timed out) is transient. The Message-ID is made from the decision id, so a
 * delivery sent twice (a crash between the server's 250 and the ack) carries the same Message-ID
 * both times and the receiver can tell; `X-Nudge-Decision-Id` names the decision itself.
 */
export class SmtpMailer implements Mailer {
  private readonly transport;
  private readonly domain: string;

  constructor(private readonly options: SmtpMailerOptions) {
    const url = new URL(options.url);
    const secure = url.protocol === 'smtps:';
    const timeout = options.timeoutMs ?? 10_000;
    this.transport = createTransport({
      pool: options.pool ?? true,
      maxConnections: options.maxConnections ?? 5,
      host: url.hostname.replace(/^\[|\]$/g, ''),
      port: url.port === '' ? (secure ? 465 : 25) : Number(url.port),
      secure,
      auth:
        url.username === ''
          ? undefined
          : { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) },
      connectionTimeout: timeout,
      greetingTimeout: timeout,
      socketTimeout: 3 * timeout,
    });
    this.domain = /@([^\s@<>]+)>?\s*$/.exec(options.from)?.[1] ?? 'nudge.invalid';
  }

  async send(delivery: Delivery, to: string): Promise<SendResult> {
    const [unsubscribe, pixel] = await Promise.all([
      this.options.unsubscribeUrl?.(delivery),
      this.options.openPixelUrl?.(delivery),
    ]);
    const mail = renderMail(delivery, unsubscribe, pixel);
    try {
      // Pooled or not, the answer is the same SentMessageInfo; the union of transports loses its type.
      const info = (await this.transport.sendMail({
        from: this.options.from,
        to,
        subject: mail.subject,
        text: mail.text,
        html: mail.html,
        messageId: messageId(delivery.decision_id, this.domain),
        headers: {
          'X-Nudge-Decision-Id': delivery.decision_id,
          ...(unsubscribe === undefined
            ? {}
            : {
                'List-Unsubscribe': `<${unsubscribe}>`,
                'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
              }),
        },
      })) as { readonly response: string };
      // The reply to the end of DATA: "250 …" (a reply code is the protocol, not message text).
      return { result: 'delivered', status: Number(/^\d{3}/.exec(info.response)?.[0] ?? 250) };
    } catch (error) {
      return smtpFailure(error as NodemailerError);
    }
  }

  /** Closes the pool's connections. */
  close(): void {
    this.transport.close();
  }
}

/** `<sha256(decision id)@domain>`: the same for every try of one delivery, and safe whatever the id holds. */
export function messageId(decisionId: string, domain: string): string {
  return `<${createHash('sha256').update(decisionId).digest('hex').slice(0, 40)}@${domain}>`;
}

function smtpFailure(error: NodemailerError): SendResult {
  const code = error.responseCode;
  if (code !== undefined && code >= 400 && code < 600)
    return {
      result: code >= 500 ? 'permanent' : 'transient',
      status: code,
      reason: error.response ?? error.message,
    };
  return { result: 'transient', status: 0, reason: `${error.code ?? 'error'}: ${error.message}` };
}
