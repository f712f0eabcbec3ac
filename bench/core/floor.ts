import type { LogEntry } from '../../pipeline/core/log-entry.ts';
import type { Message } from '../../pipeline/core/message-schema.ts';
import { ndjsonLines } from '../../pipeline/adapters/file/ndjson-lines.ts';
import type { LineSink } from '../../pipeline/ports/line-sink.ts';

/**
 * Baseline (a), the floor: the work any replay must do and nothing else. It reads the log with the
 * same reader, `JSON.parse`s every line, and `JSON.stringify`s one output object per candidate
 * (the same number of decisions the replay writes) to the same kind of sink. No validation, no
 * rule, no state.
 */
export async function floorReplay(
  logPath: string,
  messages: readonly Message[],
  sink: LineSink,
): Promise<number> {
  const byEvent = new Map<string, Message[]>();
  for (const message of messages)
    byEvent.set(message.trigger.event, [...(byEvent.get(message.trigger.event) ?? []), message]);
  let entries = 0;
  for await (const { lines } of ndjsonLines(logPath)) {
    for (const line of lines) {
      const entry = JSON.parse(line) as LogEntry;
      entries++;
      if (entry.type !== 'track') continue;
      for (const message of byEvent.get(entry.name) ?? []) {
        const { id: entry_id, user_id, received_at: at } = entry;
        sink.writeLine(
          JSON.stringify({
            entry_id,
            message_id: message.id,
            user_id,
            at,
            outcome: 'filtered',
            reason: 'event_filter',
          }),
        );
      }
    }
    await sink.flush();
  }
  await sink.close();
  return entries;
}
