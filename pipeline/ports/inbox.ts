import type { Channel } from '../core/message-schema.ts';

/** The channels a page shows (README "Show messages in your app"); `tour` and `carousel` are kept in the inbox only. */
export const IN_APP_CHANNELS = ['banner', 'post', 'chat', 'survey', 'tour', 'carousel'] as const;
export type InAppChannel = (typeof IN_APP_CHANNELS)[number] & Channel;

/** The channels the SDK renders in the page as they arrive. */
export const RENDERED_CHANNELS: readonly InAppChannel[] = ['banner', 'post', 'chat', 'survey'];

export const isInAppChannel = (channel: string): channel is InAppChannel =>
  (IN_APP_CHANNELS as readonly string[]).includes(channel);

/** What a user's page is told of a send on an in-app channel, and what the inbox keeps. */
export type InboxMessage = {
  readonly decision_id: string;
  readonly message_id: string;
  readonly channel: InAppChannel;
  readonly subject: string | null;
  readonly body: string;
  /** When it was sent (`sentAt`: a held send's deliver_at, else the entry's received_at), ms. */
  readonly at: number;
};

/**
 * A message in a user's inbox: `seq` orders the user's inbox (1, 2, 3… per user, never reused),
 * so a page that reconnects asks for what came after the last it saw.
 */
export type InboxEntry = InboxMessage & {
  readonly seq: number;
  readonly seen: boolean;
  readonly dismissed: boolean;
};

export const INBOX_ACTIONS = ['seen', 'dismissed', 'clicked'] as const;
export type InboxAction = (typeof INBOX_ACTIONS)[number];

/** The newest messages a user's inbox keeps; older ones fall off as new ones come. */
export const INBOX_SIZE = 100;

/**
 * Each user's in-app messages (Redis). Contract: `add` of a decision id already in the inbox
 * changes nothing and answers its entry as stored (a delivery read twice is one message);
 * `list` is newest first; `mark` answers undefined for a decision id not in the user's inbox, and
 * whether this was the first time the action was marked.
 */
export type Inbox = {
  add(
    userId: string,
    message: InboxMessage,
  ): Promise<{ readonly entry: InboxEntry; readonly added: boolean }>;
  list(
    userId: string,
    options?: { readonly afterSeq?: number; readonly limit?: number },
  ): Promise<InboxEntry[]>;
  mark(
    userId: string,
    decisionId: string,
    action: InboxAction,
  ): Promise<{ readonly first: boolean; readonly entry: InboxEntry } | undefined>;
};

/** One in-app send for one user's open pages: what every API process hears. */
export type InAppNotice = { readonly user_id: string; readonly entry: InboxEntry };

/**
 * The fan-out of in-app sends to the API processes (core NATS: each process subscribes once and
 * routes to its own connections). At most once: a page that missed one reads it from the inbox.
 */
export type InAppFeed = {
  publish(notice: InAppNotice): void;
  /** Calls `on` for every notice until the returned function is called. */
  subscribe(on: (notice: InAppNotice) => void): () => void;
};
