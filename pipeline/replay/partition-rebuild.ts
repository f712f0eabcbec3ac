import type { PartitionRebuild } from '../ports/checkpoints.ts';
import type { CatalogHistory, RecordedLog } from '../ports/recorded-log.ts';
import { capsHorizon, statesFromHistories } from './window-replay.ts';

/**
 * A partition's states rebuilt from the recorded log (DESIGN §5, "State lost from Redis can be
 * rebuilt from ClickHouse"): once the audit holds everything through the checkpoint, each user's
 * state there is folded from their recorded sends, identifies and latest entries, as a replay
 * rebuilds the state at the start of its window.
 */
export function auditRebuild(options: {
  readonly recorded: RecordedLog;
  readonly catalog: () => Promise<CatalogHistory>;
  readonly caughtUp: (partition: number, upTo: number) => Promise<void>;
}): PartitionRebuild {
  return async (partition, upTo) => {
    await options.caughtUp(partition, upTo);
    const catalog = await options.catalog();
    const histories = await options.recorded.partitionHistories(partition, upTo, capsHorizon(catalog));
    return statesFromHistories(histories, catalog);
  };
}
