import type { ApiClient, PushResult, PushSubscriptionWire } from './api-client.ts';
import { NudgeError, isRecord } from './nudge-error.ts';

export type SubscribePushOptions = {
  /**
   * A subscription the page made itself (a `PushSubscription`, or its `toJSON()`): sent as it is,
   * less `expirationTime`. Without it, the SDK subscribes the browser.
   */
  readonly subscription?: PushSubscription | PushSubscriptionJSON;
  /**
   * The URL of the page's service worker (of its own origin, importing `<api>/sdk/nudge-sw.js`),
   * registered when given; without it, the page's service worker already registered is used.
   */
  readonly serviceWorker?: string;
};

/**
 * Web Push for the booted user (README "Push notifications"): the browser subscribes with the
 * deployment's VAPID public key (asking the person for permission to notify, if it was never
 * given: call this from a click), and the subscription is added to the user on the API.
 */
export async function subscribePush(client: ApiClient, options: SubscribePushOptions): Promise<PushResult> {
  const subscription = options.subscription ?? (await subscribeBrowser(client, options.serviceWorker));
  return client.addPushSubscription(wireForm(subscription));
}

/** `{endpoint, keys: {p256dh, auth}}` of a subscription or its JSON; nothing else (`expirationTime`) goes. */
function wireForm(subscription: PushSubscription | PushSubscriptionJSON): PushSubscriptionWire {
  const json: unknown = 'toJSON' in subscription ? subscription.toJSON() : subscription;
  const keys = isRecord(json) ? json['keys'] : undefined;
  const endpoint = isRecord(json) ? json['endpoint'] : undefined;
  const p256dh = isRecord(keys) ? keys['p256dh'] : undefined;
  const auth = isRecord(keys) ? keys['auth'] : undefined;
  if (typeof endpoint !== 'string' || typeof p256dh !== 'string' || typeof auth !== 'string')
    throw new NudgeError(0, 'invalid_argument', 'subscription needs endpoint and keys.p256dh, keys.auth');
  return { endpoint, keys: { p256dh, auth } };
}

async function subscribeBrowser(
  client: ApiClient,
  serviceWorker: string | undefined,
): Promise<PushSubscription> {
  if (!('serviceWorker' in navigator) || typeof PushManager === 'undefined')
    throw new NudgeError(
      0,
      'push_unsupported',
      'this browser (or a page not on https) has no service workers or Push API',
    );
  const registration = await activeRegistration(serviceWorker);
  const applicationServerKey = fromBase64url(await client.pushKey());
  const existing = await registration.pushManager.getSubscription();
  if (existing !== null) {
    if (sameKey(existing.options.applicationServerKey, applicationServerKey)) return existing;
    // Made with other VAPID keys (rotated since): the browser refuses a second key while it stands.
    await existing.unsubscribe();
  }
  try {
    return await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey });
  } catch (error) {
    if (error instanceof DOMException && error.name === 'NotAllowedError')
      throw new NudgeError(0, 'permission_denied', 'the person did not allow notifications from this site');
    throw new NudgeError(0, 'push_failed', `the browser could not subscribe: ${String(error)}`);
  }
}

/** The page's service worker registration, once its worker is active (subscribing needs one). */
async function activeRegistration(url: string | undefined): Promise<ServiceWorkerRegistration> {
  let registration: ServiceWorkerRegistration | undefined;
  try {
    registration =
      url === undefined
        ? await navigator.serviceWorker.getRegistration()
        : await navigator.serviceWorker.register(url);
  } catch (error) {
    throw new NudgeError(
      0,
      'no_service_worker',
      `the service worker ${String(url)} could not be registered: ${String(error)}`,
    );
  }
  if (registration === undefined)
    throw new NudgeError(
      0,
      'no_service_worker',
      'this page has no service worker: pass { serviceWorker: "/sw.js" }, a script of your origin that imports <api>/sdk/nudge-sw.js',
    );
  if (registration.active !== null) return registration;
  const worker = registration.installing ?? registration.waiting;
  if (worker === null)
    throw new NudgeError(0, 'no_service_worker', 'the service worker has no worker installing');
  const found = registration;
  return new Promise((resolve, reject) => {
    worker.addEventListener('statechange', () => {
      if (worker.state === 'activated') resolve(found);
      else if (worker.state === 'redundant')
        reject(new NudgeError(0, 'no_service_worker', 'the service worker failed to install'));
    });
  });
}

function fromBase64url(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(
    text
      .replace(/-/g, '+')
      .replace(/_/g, '/')
      .padEnd(Math.ceil(text.length / 4) * 4, '='),
  );
  const bytes = new Uint8Array(new ArrayBuffer(binary.length));
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

function sameKey(key: ArrayBuffer | null, expected: Uint8Array): boolean {
  if (key === null || key.byteLength !== expected.length) return false;
  const bytes = new Uint8Array(key);
  return bytes.every((byte, i) => byte === expected[i]);
}
