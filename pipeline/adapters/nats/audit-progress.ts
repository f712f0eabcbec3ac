import { setTimeout as sleep } from 'node:timers/promises';
import type { JetStreamManager } from 'nats';
import type { Namespace } from '../../namespace.ts';

/**
 * Waits until the ClickHouse writers (durable consumers named `durable` on the log and decisions
 * streams) have stored the log through `upTo` and every decision the decisions stream holds now:
 * a writer acks only after its insert, so an ack floor that far means ClickHouse has it all. The
 * decisions of the entries through a checkpoint were published before it was saved, hence before
 * this is called. While ClickHouse is down this waits, telling `report` every 10 s.
 */
export function auditCaughtUp(
  jsm: JetStreamManager,
  ns: Namespace,
  durable: string,
  report: (line: string) => void = () => undefined,
): (partition: number, upTo: number) => Promise<void> {
  return async (partition, upTo) => {
    const decisions = (await jsm.streams.info(ns.decisionsStream)).state.last_seq;
    const floor = async (stream: string) =>
      (await jsm.consumers.info(stream, durable).catch(() => undefined))?.ack_floor.stream_seq ?? 0;
    for (let waited = 0; ; waited += POLL_MS) {
      const [log, decided] = [await floor(ns.logStream), await floor(ns.decisionsStream)];
      if (log >= upTo && decided >= decisions) return;
      if (waited % 10_000 === 0)
        report(
          `partition ${partition}: waiting for ClickHouse to hold the log through ${upTo} (it has ${log}) and the decisions through ${decisions} (it has ${decided})`,
        );
      await sleep(POLL_MS);
    }
  };
}

const POLL_MS = 500;
