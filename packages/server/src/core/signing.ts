import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Signature schemes, each defined once. A profile names the scheme it uses; the engine
 * signs each attempt exactly once, after the body is final.
 */

const STANDARD_SECRET_PREFIX = 'whsec_';

/** Standard Webhooks secrets are `whsec_` + base64 key; the HMAC key is the decoded bytes. */
export function standardSecretKey(secret: string): Buffer {
  const encoded = secret.startsWith(STANDARD_SECRET_PREFIX) ? secret.slice(STANDARD_SECRET_PREFIX.length) : secret;
  return Buffer.from(encoded, 'base64');
}

export function isStandardSecret(secret: string): boolean {
  if (!secret.startsWith(STANDARD_SECRET_PREFIX)) return false;
  const encoded = secret.slice(STANDARD_SECRET_PREFIX.length);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded)) return false;
  const bytes = Buffer.from(encoded, 'base64').length;
  return bytes >= 24 && bytes <= 64;
}

/**
 * Standard Webhooks v1: base64 HMAC-SHA256 over `id.timestamp.body`. Several secrets (during a
 * rotation) give several space-separated signatures, which the spec allows receivers to try in turn.
 */
export function signStandard(secrets: readonly string[], msgId: string, timestampSec: number, body: string): string {
  const signed = `${msgId}.${timestampSec}.${body}`;
  return secrets
    .map((secret) => `v1,${createHmac('sha256', standardSecretKey(secret)).update(signed).digest('base64')}`)
    .join(' ');
}

/** `sha256=<hex>` HMAC-SHA256 of the raw body with the secret's UTF-8 bytes (Lily, Screenshot API, GitHub style). */
export function signHexSha256(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** Constant-time equality for secrets and signatures of any length. */
export function safeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  // Compare equal-length buffers so the time does not depend on where they differ.
  if (left.length !== right.length) {
    timingSafeEqual(left, left);
    return false;
  }
  return timingSafeEqual(left, right);
}
