import type { Decision } from '../core/decision.ts';
import { explain } from '../core/explain.ts';

/** One decision as a DESIGN §7 replay line (see `ReplayLineFormatter`). */
export function replayLine(decision: Decision): string {
  return new ReplayLineFormatter().format(decision);
}

const VERDICT_TEXT = {
  event_filter: '"outcome":"filtered","reason":"event_filter"}',
  audience: '"outcome":"filtered","reason":"audience"}',
  unsubscribed: '"outcome":"suppressed","reason":"unsubscribed"}',
  unreachable: '"outcome":"suppressed","reason":"unreachable"}',
  schedule: '"outcome":"suppressed","reason":"schedule"}',
  max_sends: '"outcome":"suppressed","reason":"max_sends"}',
  min_interval: '"outcome":"suppressed","reason":"min_interval"}',
  global_cap: '"outcome":"suppressed","reason":"global_cap"}',
} as const;

/**
 * Decisions as DESIGN §7 replay lines: `{"entry_id","message_id","user_id","at","outcome","reason","content"}`
 * in that key order, with `"deliver_at"` after `at` on a send held for its schedule only; `reason` null when sent; `content` `{subject, body}` only when sent, a missing
 * subject as null. Written as text rather than by `JSON.stringify` of an object (a test holds the
 * two equal), because the decisions of one entry share its id and user and every message id
 * recurs: their JSON is made once and reused.
 */
export class ReplayLineFormatter {
  private entryId: string | undefined;
  private entryPrefix = '';
  private userId: string | undefined;
  private userPart = '';
  private readonly messageParts = new Map<string, string>();

  /** `explain` adds `"explanation"`, the sentence for a person, as a last key: beyond the DESIGN §7 contract, off by default. */
  constructor(private readonly options: { explain?: boolean } = {}) {}

  format(decision: Decision): string {
    const line = this.contractLine(decision);
    return this.options.explain === true
      ? `${line.slice(0, -1)},"explanation":${JSON.stringify(explain(decision))}}`
      : line;
  }

  private contractLine(decision: Decision): string {
    if (decision.entry_id !== this.entryId) {
      this.entryId = decision.entry_id;
      this.entryPrefix = `{"entry_id":${JSON.stringify(decision.entry_id)},"message_id":`;
    }
    if (decision.user_id !== this.userId) {
      this.userId = decision.user_id;
      this.userPart = `,"user_id":${JSON.stringify(decision.user_id)},"at":`;
    }
    let messagePart = this.messageParts.get(decision.message_id);
    if (messagePart === undefined) {
      messagePart = JSON.stringify(decision.message_id);
      this.messageParts.set(decision.message_id, messagePart);
    }
    const head = `${this.entryPrefix}${messagePart}${this.userPart}${decision.at},`;
    if (decision.reason !== null) return head + VERDICT_TEXT[decision.reason];
    // A send held for its schedule says when it is delivered, right after `at`; others are as before.
    const held = decision.deliver_at === undefined ? '' : `"deliver_at":${decision.deliver_at},`;
    const { subject, body } = decision.content;
    return `${head}${held}"outcome":"sent","reason":null,"content":{"subject":${JSON.stringify(subject)},"body":${JSON.stringify(body)}}}`;
  }
}
