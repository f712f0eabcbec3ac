import type { CompiledCondition } from './condition.ts';
import { compileCondition } from './condition.ts';
import type { Channel, Message } from './message-schema.ts';
import { DEFAULT_DEFER_MAX_MS } from './message-schema.ts';
import type { CompiledSchedule } from './schedule.ts';
import { compileSchedule } from './schedule.ts';
import type { CompiledTemplate } from './template.ts';
import { compileTemplate } from './template.ts';

/** A live message compiled once per version: everything `decide` needs, nothing it must re-read. */
export type CompiledMessage = {
  readonly id: string;
  readonly version: number;
  readonly channel: Channel;
  readonly live_since: number;
  readonly where: CompiledCondition;
  readonly audience: CompiledCondition;
  readonly schedule: CompiledSchedule;
  /** `schedule.outside: "defer"`: the longest an entry outside the window waits for it; null: suppressed at once. */
  readonly defer_max: number | null;
  /** 0 means no minimum interval. */
  readonly min_interval: number;
  readonly max_sends: number | null;
  readonly counts_toward_caps: boolean;
  readonly subject: CompiledTemplate | null;
  readonly body: CompiledTemplate;
};

/** Live messages by trigger event, each list in candidate order (DESIGN §4). Rebuilt only when the message set changes. */
export type RuleIndex = {
  readonly byEvent: ReadonlyMap<string, readonly CompiledMessage[]>;
  readonly messages: readonly Message[];
};

export function buildRuleIndex(messages: readonly Message[]): RuleIndex {
  const byEvent = new Map<string, { priority: number; compiled: CompiledMessage }[]>();
  for (const message of messages) {
    if (message.state !== 'live') continue;
    const list = byEvent.get(message.trigger.event) ?? [];
    list.push({ priority: message.priority, compiled: compileMessage(message) });
    byEvent.set(message.trigger.event, list);
  }
  const ordered = new Map<string, readonly CompiledMessage[]>();
  for (const [event, list] of byEvent) {
    // Priority first (higher first), then id in code-unit order, never locale order.
    list.sort(
      (a, b) =>
        b.priority - a.priority ||
        (a.compiled.id < b.compiled.id ? -1 : a.compiled.id > b.compiled.id ? 1 : 0),
    );
    ordered.set(
      event,
      list.map((entry) => entry.compiled),
    );
  }
  return { byEvent: ordered, messages };
}

export function compileMessage(message: Message): CompiledMessage {
  return {
    id: message.id,
    version: message.version,
    channel: message.channel,
    live_since: message.live_since ?? 0,
    where: compileCondition(message.trigger.where),
    audience: compileCondition(message.audience),
    schedule: compileSchedule(message.schedule),
    defer_max:
      message.schedule?.outside === 'defer' ? (message.schedule.defer_max ?? DEFAULT_DEFER_MAX_MS) : null,
    min_interval: message.frequency.min_interval,
    max_sends: message.frequency.max_sends,
    counts_toward_caps: !message.global_cap_exempt,
    subject: message.template.subject === undefined ? null : compileTemplate(message.template.subject),
    body: compileTemplate(message.template.body),
  };
}
