import type { UnsubscribeTarget } from './unsubscribe-token.ts';
import { signFields, targetOf, verifiedFields } from './unsubscribe-token.ts';

/**
 * What a tracking token may record: `open` is a mail's open pixel (it records `seen`), `click` a
 * push notification's (its service worker records `seen` when it shows it, `clicked` when it is
 * clicked).
 */
export type TrackKind = 'open' | 'click';
const KINDS: ReadonlySet<string> = new Set<TrackKind>(['open', 'click']);

/** One send, as a tracking token stands for it: enough to record an outcome without reading anything. */
export type TrackTarget = UnsubscribeTarget & {
  readonly kind: TrackKind;
  readonly decision_id: string;
  /** When it was sent (`sentAt`: a held send's deliver_at, else the delivery's `at`), ms: the outcome's latency is counted from it. */
  readonly at: number;
};

/**
 * The token of a tracking link (README "Deliveries"): signed like an unsubscribe token, with the
 * same secret, and told apart from one by its `kind`, which an unsubscribe token never has (and
 * which this requires), so neither can stand for the other. Key-less and never expiring, like an
 * unsubscribe link: all it can do is record that its one send was opened or clicked, which the
 * outcomes table counts once however often it is said.
 */
export function signTrackToken(secret: string, target: TrackTarget): string {
  return signFields(secret, {
    kind: target.kind,
    decision_id: target.decision_id,
    message_id: target.message_id,
    user_id: target.user_id,
    channel: target.channel,
    at: target.at,
  });
}

/** The target of a tracking token signed with `secret`, or undefined for any other text (an unsubscribe token included). */
export function verifyTrackToken(secret: string, token: string): TrackTarget | undefined {
  const fields = verifiedFields(secret, token);
  if (fields === undefined) return undefined;
  const { kind, decision_id, at } = fields;
  if (typeof kind !== 'string' || !KINDS.has(kind)) return undefined;
  if (typeof decision_id !== 'string' || decision_id === '') return undefined;
  if (typeof at !== 'number' || !Number.isSafeInteger(at) || at < 0) return undefined;
  const target = targetOf(fields);
  return target === undefined ? undefined : { ...target, kind: kind as TrackKind, decision_id, at };
}

/** `{public URL}/v1/track/{token}`: a push payload's `track`, under which its worker POSTs `/seen` and `/click`. */
export function trackUrl(publicUrl: string, token: string): string {
  return `${publicUrl.replace(/\/+$/, '')}/v1/track/${token}`;
}

/** `{public URL}/v1/track/{token}/open.gif`: the 1×1 image at the end of a mail's HTML part. */
export const openPixelUrl = (publicUrl: string, token: string): string =>
  `${trackUrl(publicUrl, token)}/open.gif`;
