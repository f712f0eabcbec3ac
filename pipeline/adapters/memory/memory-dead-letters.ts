import type { DeadLetter, DeadLetterSink } from '../../ports/dead-letters.ts';

/** Dead letters in memory, for tests and simulations: kept once by their place in the log, as the JetStream sink's dedup keeps them. */
export class MemoryDeadLetters implements DeadLetterSink {
  readonly byPlace = new Map<string, DeadLetter>();

  publish(letters: readonly DeadLetter[]): Promise<void> {
    for (const letter of letters) {
      const place = `${letter.partition}:${letter.seq}:${letter.kind}:${letter.index}`;
      if (!this.byPlace.has(place)) this.byPlace.set(place, letter);
    }
    return Promise.resolve();
  }
}
