import type { ClickHouseClient } from '@clickhouse/client';
import type { Consumer, JetStreamClient, JetStreamManager, JsMsg } from 'nats';
import { AckPolicy, DeliverPolicy, nanos, NatsError } from 'nats';
import type { Namespace } from '../../namespace.ts';
import type { PositionedDecision } from '../../ports/decision-sink.ts';
import { decodePack } from '../nats/log-envelope.ts';
import { decisionRow, logEntryRow } from './audit-rows.ts';

const decoder = new TextDecoder();
/** JetStream's API error code for "consumer not found". */
const CONSUMER_NOT_FOUND = 10014;

type Source = 'log' | 'decisions';

/**
 * Copies a stream into its audit table (DESIGN §5): a durable consumer reads a batch of messages,
 * their rows go to ClickHouse in one insert, and only then are the messages acked. JetStream is
 * the spool while ClickHouse is down: a failed insert acks nothing, and the messages come again
 * after a delay. Rows written twice (an ack lost after an insert) collapse in the
 * ReplacingMergeTree tables.
 */
export class AuditWriter {
  private consumer: Consumer | undefined;

  constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly ns: Namespace,
    private readonly clickhouse: ClickHouseClient,
    private readonly source: Source,
    /** How long to wait before a failed batch is delivered again. */
    private readonly retryMs = 5_000,
  ) {}

  /** One batch: the number of rows written (0 when the stream had nothing new). Throws when the insert failed. */
  async step(maxMessages = 500): Promise<number> {
    const consumer = await this.ensureConsumer();
    const messages: JsMsg[] = [];
    for await (const message of await consumer.fetch({ max_messages: maxMessages, expires: 1_000 }))
      messages.push(message);
    if (messages.length === 0) return 0;
    const rows = messages.flatMap((message) => this.rowsOf(message));
    try {
      await this.clickhouse.insert({
        table: `${this.ns.database}.${this.table}`,
        values: rows,
        format: 'JSONEachRow',
      });
    } catch (error) {
      for (const message of messages) message.nak(this.retryMs);
      throw error;
    }
    for (const message of messages) message.ack();
    return rows.length;
  }

  private get table(): string {
    return this.source === 'log' ? 'log_entries' : 'decisions';
  }

  private get stream(): string {
    return this.source === 'log' ? this.ns.logStream : this.ns.decisionsStream;
  }

  private rowsOf(message: JsMsg): Record<string, unknown>[] {
    const partition = Number(message.subject.slice(message.subject.lastIndexOf('.') + 1));
    if (this.source === 'log') {
      return decodePack(message.data, `${this.stream} seq ${message.seq}`).map((entry) =>
        logEntryRow(entry, { partition, seq: message.seq }),
      );
    }
    return decoder
      .decode(message.data)
      .split('\n')
      .map((line) => {
        const { decision, seq } = JSON.parse(line) as PositionedDecision;
        return decisionRow(decision, { partition, seq });
      });
  }

  private async ensureConsumer(): Promise<Consumer> {
    if (this.consumer !== undefined) return this.consumer;
    const name = 'audit_writer';
    if (!(await this.consumerExists(name))) {
      await this.jsm.consumers.add(this.stream, {
        durable_name: name,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        ack_wait: nanos(60_000),
        max_ack_pending: 50_000,
      });
    }
    this.consumer = await this.js.consumers.get(this.stream, name);
    return this.consumer;
  }

  private async consumerExists(name: string): Promise<boolean> {
    try {
      await this.jsm.consumers.info(this.stream, name);
      return true;
    } catch (error) {
      if (error instanceof NatsError && error.api_error?.err_code === CONSUMER_NOT_FOUND) return false;
      throw error;
    }
  }
}
