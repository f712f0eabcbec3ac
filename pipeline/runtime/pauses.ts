/**
 * Sleeps that all wake when a signal aborts, through one listener on it. `timers/promises`'
 * `setTimeout(ms, value, { signal })` adds a listener a sleep: a matcher with 8 partitions and its
 * background loops has more than ten asleep at once, which Node reports as a listener leak
 * (`MaxListenersExceededWarning`), and a signal shared further would hide a real one behind them.
 */
export class Pauses {
  private readonly waiting = new Set<() => void>();

  constructor(private readonly signal: AbortSignal) {
    signal.addEventListener(
      'abort',
      () => {
        for (const wake of [...this.waiting]) wake();
      },
      { once: true },
    );
  }

  /** Resolves after `ms`, or at once when the signal aborts (never rejects). */
  pause(ms: number): Promise<void> {
    if (this.signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.waiting.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.waiting.add(wake);
    });
  }

  /** Sleeps, then tells whether to go on (false once the signal aborted). */
  async goOnAfter(ms: number): Promise<boolean> {
    await this.pause(ms);
    return !this.signal.aborted;
  }

  /** Sleeps pending now: each is one timer, gone when it wakes. */
  get pending(): number {
    return this.waiting.size;
  }
}
