import { Pauses } from './pauses.ts';

/** Work a process runs in a loop (an audit writer, the held sends' releaser): each step returns what it did. */
export type Step = { readonly name: string; readonly step: () => Promise<number> };

/**
 * Each step run over and over until the signal aborts, a failing one tried again a second later,
 * with what each has done counted for the status line. The matcher runs its background work so,
 * and so does a process started with roles that leave the matcher out (`nudge start --roles`).
 */
export class StepLoops {
  private readonly done = new Map<string, number>();

  constructor(
    private readonly steps: readonly Step[],
    private readonly report: (line: string) => void,
  ) {}

  loops(signal: AbortSignal, pauses: Pauses): Promise<void>[] {
    return this.steps.map((work) => this.loop(work, signal, pauses));
  }

  /** "entries to ClickHouse 1200, deliveries 40": what each step has done so far. */
  summary(): string {
    return this.steps.map(({ name }) => `${name} ${this.done.get(name) ?? 0}`).join(', ');
  }

  private async loop(work: Step, signal: AbortSignal, pauses: Pauses): Promise<void> {
    while (!signal.aborted) {
      try {
        const done = await work.step();
        this.done.set(work.name, (this.done.get(work.name) ?? 0) + done);
      } catch (error) {
        this.report(`${work.name}: ${(error as Error).message}; retrying`);
        await pauses.pause(1_000);
      }
    }
  }
}

/** `work` every `ms` until the signal aborts (the sleep first), a failure reported and tried again next time. */
export async function every(
  ms: number,
  pauses: Pauses,
  work: () => Promise<void>,
  report: (line: string) => void,
): Promise<void> {
  while (await pauses.goOnAfter(ms)) {
    await work().catch((error: unknown) => {
      report(`${(error as Error).message}; retrying`);
    });
  }
}

/** Steps alone (a process without the matcher's role), with their counts reported every five seconds. */
export async function runSteps(
  steps: readonly Step[],
  signal: AbortSignal,
  report: (line: string) => void,
): Promise<void> {
  const pauses = new Pauses(signal);
  const loops = new StepLoops(steps, report);
  await Promise.all([
    ...loops.loops(signal, pauses),
    every(
      5_000,
      pauses,
      () => {
        report(loops.summary());
        return Promise.resolve();
      },
      report,
    ),
  ]);
}
