import { createDecipheriv, createECDH, hkdfSync, randomBytes } from 'node:crypto';
import type { ECDH } from 'node:crypto';

/**
 * A browser's side of Web Push, written from the RFCs rather than taken from `web-push`, so a test
 * checks the library against the standard: the subscription's keys as `PushManager.subscribe`
 * makes them, and the decryption of a push message as the browser does it (RFC 8291 on RFC 8188's
 * `aes128gcm` content coding).
 */
export type UserAgentKeys = {
  readonly ecdh: ECDH;
  /** The subscription's `keys` as `PushSubscription.toJSON()` gives them. */
  readonly keys: { readonly p256dh: string; readonly auth: string };
};

/** An ECDH P-256 key pair and a 16-byte authentication secret (RFC 8291 §2, §3.2). */
export function userAgentKeys(): UserAgentKeys {
  const ecdh = createECDH('prime256v1');
  const publicKey = ecdh.generateKeys(); // uncompressed: 0x04 || X || Y, 65 bytes
  return {
    ecdh,
    keys: { p256dh: publicKey.toString('base64url'), auth: randomBytes(16).toString('base64url') },
  };
}

const info = (text: string) => Buffer.from(`${text}\0`, 'latin1');
const hkdf = (salt: Buffer, ikm: Buffer, context: Buffer, length: number) =>
  Buffer.from(hkdfSync('sha256', ikm, salt, context, length));

/**
 * The plaintext of an `aes128gcm` push message body. RFC 8188 §2.1 header: salt (16 bytes), record
 * size (4, big-endian), key id length (1), key id (here the application server's ephemeral public
 * key, 65 bytes, RFC 8291 §4). Then RFC 8291 §3.3–3.4: the ECDH secret of the user agent's private
 * key and that public key; PRK_key = HKDF(auth secret, ECDH secret, "WebPush: info" 0x00 ||
 * ua_public || as_public, 32); CEK = HKDF(salt, PRK_key, "Content-Encoding: aes128gcm" 0x00, 16);
 * NONCE = HKDF(salt, PRK_key, "Content-Encoding: nonce" 0x00, 12); one AES-128-GCM record whose
 * plaintext ends with the padding delimiter 0x02 (the last record) and zero or more 0x00.
 */
export function decryptPushMessage(body: Buffer, { ecdh, keys }: UserAgentKeys): string {
  const salt = body.subarray(0, 16);
  const recordSize = body.readUInt32BE(16);
  const idLength = body.readUInt8(20);
  if (idLength !== 65) throw new Error(`the key id is ${idLength} bytes, not an uncompressed P-256 key`);
  const asPublic = body.subarray(21, 21 + idLength);
  const record = body.subarray(21 + idLength);
  if (record.length > recordSize) throw new Error('more than one record: a push message is one');

  const uaPublic = Buffer.from(keys.p256dh, 'base64url');
  const ecdhSecret = ecdh.computeSecret(asPublic);
  const keyInfo = Buffer.concat([info('WebPush: info'), uaPublic, asPublic]);
  const prkKey = hkdf(Buffer.from(keys.auth, 'base64url'), ecdhSecret, keyInfo, 32);
  const cek = hkdf(salt, prkKey, info('Content-Encoding: aes128gcm'), 16);
  const nonce = hkdf(salt, prkKey, info('Content-Encoding: nonce'), 12);

  const decipher = createDecipheriv('aes-128-gcm', cek, nonce);
  decipher.setAuthTag(record.subarray(record.length - 16));
  const padded = Buffer.concat([decipher.update(record.subarray(0, record.length - 16)), decipher.final()]);
  let end = padded.length - 1;
  while (end >= 0 && padded[end] === 0) end--;
  if (padded[end] !== 2) throw new Error('the last record does not end with the padding delimiter 0x02');
  return padded.subarray(0, end).toString('utf8');
}
