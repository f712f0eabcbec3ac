/**
 * The SDK's service worker part, served at `/sdk/nudge-sw.js` (README "Push notifications"): it
 * shows each push the push sender sends as a notification, and a click on one brings the site's
 * page to the front (or opens one). Where the push carries a tracking link (`track`, which
 * `nudge send push` signs for each send), it reports to it that the notification was shown
 * (`POST {track}/seen`) and clicked (`POST {track}/click`), for the funnel. A service worker must come from the page's own origin, so a
 * site adds this one to its own: `importScripts('https://nudge.example.com/sdk/nudge-sw.js')` in
 * its `sw.js`. It adds two listeners and no global.
 */

/** What the push sender sends (encrypted by the browser's push service, decrypted by the browser). */
type PushPayload = {
  readonly title: string;
  readonly body: string;
  readonly decisionId: string | undefined;
  readonly messageId: string | undefined;
  readonly track: string | undefined;
};

// The parts of the service worker's scope used here: this file is checked with the SDK's types,
// a page's (the DOM's), which have no service worker scope; the bundle runs in one.
type ExtendableEventLike = Event & { waitUntil(promise: Promise<unknown>): void };
type PushData = { json(): unknown; text(): string };
type WindowClientLike = { readonly url: string; focus(): Promise<unknown> };
declare const registration: ServiceWorkerRegistration;
declare const clients: {
  matchAll(options: { type: 'window'; includeUncontrolled: boolean }): Promise<readonly WindowClientLike[]>;
  openWindow(url: string): Promise<unknown>;
};

const isExtendable = (event: Event): event is ExtendableEventLike =>
  'waitUntil' in event && typeof event.waitUntil === 'function';

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const isPushData = (value: unknown): value is PushData =>
  isRecord(value) && typeof value['json'] === 'function' && typeof value['text'] === 'function';

const text = (value: unknown): string | undefined =>
  typeof value === 'string' && value !== '' ? value : undefined;

/** `{subject, body, decision_id, message_id}`; a payload that is not JSON is shown as its text. */
function payloadOf(data: unknown): PushPayload {
  const push = isPushData(data) ? data : undefined;
  let parsed: unknown;
  try {
    parsed = push?.json();
  } catch {
    parsed = { body: push?.text() };
  }
  const fields = isRecord(parsed) ? parsed : {};
  const subject = text(fields['subject']);
  const body = text(fields['body']) ?? '';
  // A notification needs a title: the subject, or the body when the message has none.
  return {
    title: subject ?? (body === '' ? 'New message' : body),
    body: subject === undefined ? '' : body,
    decisionId: text(fields['decision_id']),
    messageId: text(fields['message_id']),
    track: trackOf(fields['track']),
  };
}

/** The tracking link, if the payload has one that is an http(s) URL. */
function trackOf(value: unknown): string | undefined {
  const url = text(value);
  return url !== undefined && /^https?:\/\//.test(url) ? url : undefined;
}

/**
 * Reports a notification's `seen` or `click` to its tracking link, once and never failing: a POST
 * with no body, which needs no CORS preflight (`no-cors`: the answer is not read), so the API's
 * origin need not allow the site's. A report lost costs one count in the funnel, never the
 * notification.
 */
function report(track: string | undefined, action: 'seen' | 'click'): Promise<unknown> {
  if (track === undefined) return Promise.resolve();
  return fetch(`${track}/${action}`, { method: 'POST', mode: 'no-cors', keepalive: true }).catch(
    () => undefined,
  );
}

const trackIn = (data: unknown): string | undefined => (isRecord(data) ? trackOf(data['track']) : undefined);

addEventListener('push', (event) => {
  if (!isExtendable(event)) return;
  const payload = payloadOf('data' in event ? event.data : undefined);
  event.waitUntil(
    registration
      .showNotification(payload.title, {
        body: payload.body,
        // One notification per send: the same decision pushed twice replaces itself.
        ...(payload.decisionId === undefined ? {} : { tag: payload.decisionId }),
        data: { decision_id: payload.decisionId, message_id: payload.messageId, track: payload.track },
      })
      .then(() => report(payload.track, 'seen')),
  );
});

addEventListener('notificationclick', (event) => {
  if (!isExtendable(event) || !('notification' in event) || !(event.notification instanceof Notification))
    return;
  event.notification.close();
  const track = trackIn(event.notification.data);
  event.waitUntil(
    Promise.all([
      report(track, 'click'),
      clients.matchAll({ type: 'window', includeUncontrolled: true }).then((open) => {
        const page = open.find((client) => client.url.startsWith(registration.scope));
        return page === undefined ? clients.openWindow(registration.scope) : page.focus();
      }),
    ]),
  );
});

export {};
