import { concat, fromBase64, fromHex, utf8 } from './bytes.js';

export type ProfileName = 'standard' | 'lily' | 'screenshot';

/** How one Herald profile signs, from the receiver's side (the server's side: core/profiles/*.ts). */
export interface ProfileRules {
  /** Headers that must be present and non-empty, lower-case, in the order they are checked. */
  readonly required: readonly string[];
  /** The header holding the send time in seconds since the epoch, if the profile sends one. */
  readonly timestampHeader?: string;
  readonly signatureHeader: string;
  /** What a secret looks like, for the error message. */
  readonly secretFormat: string;
  /** The HMAC key a secret stands for; null when the secret is unusable. */
  key(secret: string): Uint8Array<ArrayBuffer> | null;
  /** The bytes the sender signed. */
  signedContent(header: (name: string) => string, body: Uint8Array): Uint8Array<ArrayBuffer>;
  /** The signatures offered in the signature header, decoded; malformed entries are left out. */
  signatures(value: string): Uint8Array[];
}

const STANDARD_PREFIX = 'whsec_';

/** Standard Webhooks (https://www.standardwebhooks.com): `v1,` base64 HMAC-SHA256 of `id.timestamp.body`. */
const standard: ProfileRules = {
  required: ['webhook-id', 'webhook-timestamp', 'webhook-signature'],
  timestampHeader: 'webhook-timestamp',
  signatureHeader: 'webhook-signature',
  secretFormat: '"whsec_" followed by base64',
  key(secret) {
    const key = fromBase64(secret.startsWith(STANDARD_PREFIX) ? secret.slice(STANDARD_PREFIX.length) : secret);
    return key && key.length > 0 ? key : null;
  },
  signedContent: (header, body) => concat(utf8(`${header('webhook-id')}.${header('webhook-timestamp')}.`), body),
  // Space-separated `version,signature` pairs: one per secret the sender signs with during a
  // rotation. Versions other than v1 are for future schemes and are skipped, as the spec says.
  signatures: (value) =>
    value
      .split(' ')
      .filter((entry) => entry.startsWith('v1,'))
      .map((entry) => fromBase64(entry.slice(3)))
      .filter((sig): sig is Uint8Array<ArrayBuffer> => sig !== null),
};

/** `sha256=<hex>`: HMAC-SHA256 of the raw body keyed with the secret's UTF-8 bytes (Lily, Screenshot API). */
function hexSha256(value: string): Uint8Array[] {
  const sig = value.startsWith('sha256=') ? fromHex(value.slice(7)) : null;
  return sig ? [sig] : [];
}

function utf8Key(secret: string): Uint8Array<ArrayBuffer> | null {
  return secret.length > 0 ? utf8(secret) : null;
}

/** Lily Media AI (its webhooks guide): `X-Lily-Signature: sha256=<hex>`, `X-Lily-Timestamp` checked for replays. */
const lily: ProfileRules = {
  required: ['x-lily-signature', 'x-lily-timestamp'],
  timestampHeader: 'x-lily-timestamp',
  signatureHeader: 'x-lily-signature',
  secretFormat: 'a non-empty string',
  key: utf8Key,
  // The guide signs the body alone: the timestamp is checked against the tolerance but is not
  // covered by the signature, so it stops naive replays only.
  signedContent: (_header, body) => new Uint8Array(body),
  signatures: hexSha256,
};

/** Screenshot API (its webhooks guide): `X-Webhook-Signature-256: sha256=<hex>`, no timestamp. */
const screenshot: ProfileRules = {
  required: ['x-webhook-signature-256'],
  signatureHeader: 'x-webhook-signature-256',
  secretFormat: 'a non-empty string',
  key: utf8Key,
  signedContent: (_header, body) => new Uint8Array(body),
  signatures: hexSha256,
};

export const PROFILES: Readonly<Record<ProfileName, ProfileRules>> = { standard, lily, screenshot };
