import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { SMTPServer } from 'smtp-server';

export type MailSink = {
  /** `smtp://127.0.0.1:<port>`: what `nudge send email --smtp` is given. */
  readonly url: string;
  /** Where each mail is written, as `<time>-<n>.eml`. */
  readonly dir: string;
  close(): Promise<void>;
};

/**
 * A real SMTP server on loopback that keeps every mail it is given as an `.eml` file, for the
 * quick start: the email sender talks SMTP to it exactly as to a provider, and a newcomer opens
 * the files in any mail program. No authentication, no TLS: it listens on 127.0.0.1 only.
 */
export async function startMailSink(dir: string): Promise<MailSink> {
  await mkdir(dir, { recursive: true });
  let count = 0;
  const server = new SMTPServer({
    disabledCommands: ['AUTH', 'STARTTLS'],
    logger: false,
    // A reverse DNS lookup of every client: slow or failing where there is no resolver, and useless on loopback.
    disableReverseLookup: true,
    banner: 'Nudge quick-start mail sink',
    onData(stream, _session, done) {
      const file = join(dir, `${new Date().toISOString().replaceAll(':', '-')}-${String(++count)}.eml`);
      pipeline(stream, createWriteStream(file)).then(
        () => {
          done();
        },
        (error: unknown) => {
          done(error instanceof Error ? error : new Error(String(error)));
        },
      );
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      resolve();
    });
  });
  const address = server.server.address();
  if (address === null || typeof address === 'string') throw new Error('the mail sink has no port');
  return {
    url: `smtp://127.0.0.1:${String(address.port)}`,
    dir,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
      }),
  };
}
