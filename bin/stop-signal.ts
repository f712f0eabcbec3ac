/** A repeat of the stop signal this soon after the first is the same stop (see below). */
const SAME_STOP_MS = 1_000;

/**
 * Aborts on the first SIGINT or SIGTERM: the loops finish their step and the connections drain. A
 * second signal later ends the process at once, as a second Ctrl-C does. One within a second is
 * the same stop told twice: under `npm start`, a terminal's Ctrl-C reaches the whole process group
 * and npm forwards it to its child as well.
 */
export function stopSignal(): AbortSignal {
  const stop = new AbortController();
  let stoppedAt = 0;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (!stop.signal.aborted) {
        stoppedAt = Date.now();
        stop.abort();
      } else if (Date.now() - stoppedAt > SAME_STOP_MS) {
        process.exit(signal === 'SIGINT' ? 130 : 143);
      }
    });
  }
  return stop.signal;
}

/**
 * Runs the roles of one process together until the signal aborts. When one fails, the others are
 * stopped and awaited before the failure is thrown, so the process ends instead of running on
 * without, say, its API.
 */
export async function runTogether<T extends unknown[]>(
  signal: AbortSignal,
  roles: { [K in keyof T]: (signal: AbortSignal) => Promise<T[K]> },
): Promise<T> {
  const together = new AbortController();
  const stop = () => {
    together.abort();
  };
  signal.addEventListener('abort', stop, { once: true });
  try {
    const settled = await Promise.allSettled(
      roles.map((role) =>
        role(together.signal).catch((error: unknown) => {
          stop();
          throw error;
        }),
      ),
    );
    const failed = settled.find((result) => result.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
    return settled.map((result) => (result as PromiseFulfilledResult<unknown>).value) as T;
  } finally {
    signal.removeEventListener('abort', stop);
  }
}
