import { equalBytes, hmacSha256, toBytes } from './bytes.js';
import { WebhookVerificationError } from './errors.js';
import { headerReader, type HeadersLike } from './headers.js';
import { PROFILES, type ProfileName } from './profiles.js';

/** How far a timestamp may be from the receiver's clock, either way, unless `toleranceSeconds` says otherwise. */
export const DEFAULT_TOLERANCE_SECONDS = 5 * 60;

/** The raw body as received: bytes, or a string taken as its UTF-8 text. Never re-serialised JSON. */
export type RawBody = string | Uint8Array | ArrayBuffer;

export interface VerifyOptions {
  /** The endpoint's profile; `standard` (Standard Webhooks) unless it was created with another. */
  profile?: ProfileName;
  /**
   * The endpoint's signing secret, or several: during a rotation pass the new and the old one,
   * and a webhook signed with either is accepted.
   */
  secret: string | readonly string[];
  /** Seconds the timestamp header may differ from now (profiles that send one). Default 300. */
  toleranceSeconds?: number;
  /** The receiver's current time (a Date, or epoch milliseconds); defaults to the clock. For tests. */
  now?: Date | number;
}

/**
 * Checks that a webhook came from Herald, unchanged and recently, and returns its parsed JSON
 * payload. Throws `WebhookVerificationError` (with a `reason`) otherwise. Runs anywhere Web
 * Crypto does: Node 20, browsers, Workers, Deno, Bun.
 * @example
 * const event = await verify(rawBody, req.headers, { secret: process.env.WEBHOOK_SECRET! });
 */
export async function verify<T = unknown>(body: RawBody, headers: HeadersLike, options: VerifyOptions): Promise<T> {
  const bytes = toBytes(body);
  await check(bytes, headers, options);
  try {
    return JSON.parse(new TextDecoder().decode(bytes)) as T;
  } catch {
    throw new WebhookVerificationError('invalid_payload', 'the signature is valid but the body is not JSON');
  }
}

/** `verify` without parsing the body: resolves when the signature is good, throws `WebhookVerificationError` otherwise. */
export function verifySignature(body: RawBody, headers: HeadersLike, options: VerifyOptions): Promise<void> {
  return check(toBytes(body), headers, options);
}

async function check(body: Uint8Array, headers: HeadersLike, options: VerifyOptions): Promise<void> {
  const profileName = options.profile ?? 'standard';
  const rules = PROFILES[profileName];
  if (!rules) throw new TypeError(`unknown profile "${String(profileName)}": use one of ${Object.keys(PROFILES).join(', ')}`);
  const tolerance = options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  if (!(tolerance >= 0)) throw new TypeError(`toleranceSeconds must be a number of seconds >= 0, got ${String(tolerance)}`);

  // A bad secret is a configuration error whatever the request, so it is reported first.
  // `secret: process.env.X` with X unset is the classic slip, so a missing secret is a bad one too.
  const given: unknown = options.secret;
  const secrets: readonly unknown[] = Array.isArray(given) ? given : given === undefined || given === null ? [] : [given];
  if (secrets.length === 0) throw new WebhookVerificationError('bad_secret', 'no secret given: pass the endpoint\'s signing secret (is its environment variable set?)');
  const keys = secrets.map((secret, i) => {
    const key = typeof secret === 'string' ? rules.key(secret) : null;
    if (!key) {
      const which = secrets.length > 1 ? `secret #${i + 1}` : 'the secret';
      throw new WebhookVerificationError('bad_secret', `${which} is not usable for the ${profileName} profile: it must be ${rules.secretFormat}`);
    }
    return key;
  });

  const read = headerReader(headers);
  for (const name of rules.required) {
    if (!read(name)) {
      throw new WebhookVerificationError('missing_header', `missing ${name} header: is this a Herald webhook sent with the ${profileName} profile?`, name);
    }
  }
  const header = (name: string) => read(name) ?? '';

  if (rules.timestampHeader) checkTimestamp(rules.timestampHeader, header(rules.timestampHeader), tolerance, options.now);

  const offered = rules.signatures(header(rules.signatureHeader));
  const content = rules.signedContent(header, body);
  for (const key of keys) {
    const expected = await hmacSha256(key, content);
    if (offered.some((sig) => equalBytes(sig, expected))) return;
  }
  throw new WebhookVerificationError(
    'no_matching_signature',
    `no signature in ${rules.signatureHeader} matches the body with the ${keys.length === 1 ? 'secret' : `${keys.length} secrets`} given: ` +
      'check the secret, and verify the raw bytes received (not JSON parsed and serialised again)',
  );
}

function checkTimestamp(name: string, value: string, tolerance: number, now: Date | number | undefined): void {
  if (!/^\d{1,15}$/.test(value)) {
    throw new WebhookVerificationError('invalid_timestamp', `${name} must be whole seconds since the epoch, got "${value.slice(0, 40)}"`, name);
  }
  const nowMs = now === undefined ? Date.now() : typeof now === 'number' ? now : now.getTime();
  const age = Math.floor(nowMs / 1000) - Number(value);
  if (age > tolerance) {
    throw new WebhookVerificationError('stale_timestamp', `${name} is ${age} s old, over the ${tolerance} s tolerance: a replayed request, or this machine's clock is off`, name);
  }
  if (-age > tolerance) {
    throw new WebhookVerificationError('future_timestamp', `${name} is ${-age} s in the future, over the ${tolerance} s tolerance: check this machine's clock`, name);
  }
}
