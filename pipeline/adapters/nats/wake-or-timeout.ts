/**
 * Waits until the function handed to `hold` is called (a message arrived) or `ms` pass, whichever
 * comes first; `hold` is given undefined once the wait is over. The readers that buffer messages
 * from a consume callback wait this way for the first one.
 */
export async function wakeOrTimeout(
  hold: (wake: (() => void) | undefined) => void,
  ms: number,
): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await new Promise<void>((resolve) => {
    hold(resolve);
    timer = setTimeout(resolve, ms);
  });
  clearTimeout(timer);
  hold(undefined);
}
