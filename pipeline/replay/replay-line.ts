import type { Decision } from '../core/decision.ts';

/**
 * One decision as DESIGN §7 writes it: `{"entry_id","message_id","user_id","at","outcome","reason","content"}`
 * in that key order; `reason` null when sent; `content` `{subject, body}` only when sent.
 */
export function replayLine(decision: Decision): string {
  const { entry_id, message_id, user_id, at } = decision;
  if (decision.outcome === 'sent') {
    const { subject, body } = decision.content;
    return JSON.stringify({
      entry_id,
      message_id,
      user_id,
      at,
      outcome: 'sent',
      reason: null,
      content: { subject, body },
    });
  }
  return JSON.stringify({
    entry_id,
    message_id,
    user_id,
    at,
    outcome: decision.outcome,
    reason: decision.reason,
  });
}
