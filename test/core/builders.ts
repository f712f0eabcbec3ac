/** Small builders shared by the core tests: every message goes through `MessageSchema.parse`, as in production. */
import type { CompiledCaps } from '../../pipeline/core/caps.ts';
import { compileCaps } from '../../pipeline/core/caps.ts';
import { decide } from '../../pipeline/core/decide.ts';
import type { Decision, Reason } from '../../pipeline/core/decision.ts';
import type { Facts } from '../../pipeline/core/facts.ts';
import type {
  IdentifyEntry,
  LogEntry,
  PreferencesEntry,
  PushSubscriptionEntry,
  TrackEntry,
} from '../../pipeline/core/log-entry.ts';
import type { Message, MessageInput } from '../../pipeline/core/message-schema.ts';
import { GlobalCapListSchema, MessageSchema } from '../../pipeline/core/message-schema.ts';
import type { RuleIndex } from '../../pipeline/core/rule-index.ts';
import { buildRuleIndex } from '../../pipeline/core/rule-index.ts';
import type { FlatObject } from '../../pipeline/core/scalar.ts';
import type { UserState } from '../../pipeline/core/user-state.ts';

export const SECOND = 1_000;
export const MINUTE = 60_000;
export const HOUR = 3_600_000;
export const DAY = 86_400_000;

/** An instant from an ISO text, e.g. `at('2026-03-29T08:00:00Z')`. */
export function at(iso: string): number {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) throw new Error(`bad instant ${iso}`);
  return ms;
}

/** A valid live message triggered by `evt` on the `banner` channel (always reachable), with `overrides` on top, parsed. */
export function message(overrides: Partial<MessageInput> = {}): Message {
  return MessageSchema.parse({
    id: 'm',
    channel: 'banner',
    state: 'live',
    trigger: { event: 'evt' },
    template: { body: 'hi' },
    ...overrides,
  });
}

/** The message input before parsing, for schema tests. */
export function messageInput(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: 'm',
    channel: 'banner',
    state: 'live',
    trigger: { event: 'evt' },
    template: { body: 'hi' },
    ...overrides,
  };
}

/** A P-256 public key and an auth secret of the right sizes (RFC 8291's example), for subscriptions in tests. */
export const P256DH =
  'BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM';
export const AUTH = 'tBHItJI5svbpez7KI4CCXg';

let sequence = 0;

/** A `track` entry of `evt` by `u1` at 0 unless overridden; ids are unique per call. */
export function track(fields: Partial<Omit<TrackEntry, 'type'>> = {}): TrackEntry {
  sequence += 1;
  return { type: 'track', id: `t${sequence}`, name: 'evt', user_id: 'u1', received_at: 0, ...fields };
}

/** An `identify` entry of `u1` at 0 unless overridden. */
export function identify(
  attributes: FlatObject,
  fields: Partial<Omit<IdentifyEntry, 'type' | 'attributes'>> = {},
): IdentifyEntry {
  sequence += 1;
  return { type: 'identify', id: `i${sequence}`, user_id: 'u1', received_at: 0, attributes, ...fields };
}

/** A `preferences` entry of `u1` at 0 unless overridden; channels and messages empty unless given. */
export function preferences(
  choices: Partial<Pick<PreferencesEntry, 'channels' | 'messages'>>,
  fields: Partial<Omit<PreferencesEntry, 'type' | 'channels' | 'messages'>> = {},
): PreferencesEntry {
  sequence += 1;
  return {
    type: 'preferences',
    id: `p${sequence}`,
    user_id: 'u1',
    received_at: 0,
    channels: {},
    messages: {},
    ...choices,
    ...fields,
  };
}

/** A `push_subscription` entry of `u1` at 0 unless overridden, for the endpoint `https://push.example/<n>`. */
export function pushSubscription(
  action: 'add' | 'remove',
  endpoint = 0,
  fields: Partial<Omit<PushSubscriptionEntry, 'type' | 'action' | 'subscription'>> = {},
): PushSubscriptionEntry {
  sequence += 1;
  return {
    type: 'push_subscription',
    id: `s${sequence}`,
    user_id: 'u1',
    received_at: 0,
    action,
    subscription: { endpoint: `https://push.example/${endpoint}`, keys: { p256dh: P256DH, auth: AUTH } },
    ...fields,
  };
}

/** Entries that give `user_id` an email address, a phone number and a push subscription, so every channel reaches them. */
export function reachable(user_id = 'u1'): LogEntry[] {
  return [
    identify({ email: `${user_id}@example.com`, phone: '+15550001' }, { user_id }),
    pushSubscription('add', 0, { user_id }),
  ];
}

export function index(...messages: Message[]): RuleIndex {
  return buildRuleIndex(messages);
}

/** Compiled global caps from their JSON form, parsed like the caps file. */
export function caps(...input: unknown[]): CompiledCaps {
  return compileCaps(GlobalCapListSchema.parse(input));
}

export const NONE = caps();

/** Facts for condition and template tests. */
export function facts(parts: Partial<Facts> = {}): Facts {
  return { name: 'evt', metadata: undefined, context: undefined, user: {}, ...parts };
}

/** Decides a log in order, keeping one state per user; returns every decision and the final states. */
export function run(
  entries: readonly LogEntry[],
  rules: RuleIndex,
  compiled: CompiledCaps = NONE,
  initial: ReadonlyMap<string, UserState> = new Map(),
): { decisions: Decision[]; states: Map<string, UserState> } {
  const states = new Map(initial);
  const decisions: Decision[] = [];
  for (const entry of entries) {
    const result = decide(states.get(entry.user_id), entry, rules, compiled);
    states.set(entry.user_id, result.state);
    decisions.push(...result.decisions);
  }
  return { decisions, states };
}

/** `outcome:reason` (or `sent`) per decision: compact for table assertions. */
export function verdicts(decisions: readonly Decision[]): string[] {
  return decisions.map((d) => (d.reason === null ? 'sent' : `${d.outcome}:${d.reason}`));
}

/** The one element of a list, failing the test otherwise. */
export function only<T>(items: readonly T[]): T {
  if (items.length !== 1) throw new Error(`expected exactly one item, got ${items.length}`);
  const [item] = items;
  return item as T;
}

/** The element at `i`, failing the test when there is none. */
export function nth<T>(items: readonly T[], i: number): T {
  if (i < 0 || i >= items.length) throw new Error(`no item ${i} among ${items.length}`);
  return items[i] as T;
}

export type DecisionFor<R extends Reason | null> = Decision & { readonly reason: R };

/** The decision narrowed to a reason (null: sent), failing the test when it has another. */
export function withReason<R extends Reason | null>(decision: Decision, reason: R): DecisionFor<R> {
  if (decision.reason !== reason) {
    throw new Error(`expected reason ${String(reason)}, got ${String(decision.reason)}`);
  }
  return decision as DecisionFor<R>;
}

/** Freezes an object graph (arrays and plain objects) so that any mutation throws in strict mode. */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const key of Reflect.ownKeys(value)) {
      deepFreeze((value as Record<PropertyKey, unknown>)[key]);
    }
  }
  return value;
}
