import { randomUUID } from 'node:crypto';

/** A replay's id: `r_` and 16 hex digits, for the API's URLs and `replay_decisions`. */
export const newReplayId = (): string => `r_${randomUUID().replaceAll('-', '').slice(0, 16)}`;
