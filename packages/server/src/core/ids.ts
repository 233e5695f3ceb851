import { randomBytes } from 'node:crypto';
import { monotonicFactory } from 'ulid';

const nextUlid = monotonicFactory();

/**
 * Time-sortable, prefixed identifier (`evt_01J…`). Sorting ids sorts by creation time,
 * which is what cursor pagination over events and deliveries relies on.
 */
export function newId(prefix: string, now: number = Date.now()): string {
  return `${prefix}_${nextUlid(now)}`;
}

/** `prefix` followed by `hexChars` random hex characters (e.g. Screenshot API `wh_` + 16 hex). */
export function newHexId(prefix: string, hexChars: number): string {
  return prefix + randomBytes(Math.ceil(hexChars / 2)).toString('hex').slice(0, hexChars);
}

/** URL-safe random token of `bytes` bytes of entropy. */
export function randomToken(bytes: number): string {
  return randomBytes(bytes).toString('base64url');
}
