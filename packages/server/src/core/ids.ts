import { randomBytes, randomFillSync } from 'node:crypto';
import { monotonicFactory } from 'ulid';

/**
 * ulid's default PRNG makes one crypto call per character (16 per id: 3% of delivery CPU in
 * profiles). Same crypto-grade randomness, drawn from a pooled buffer.
 */
const pool = new Uint8Array(4096);
let poolAt = pool.length;
function pooledRandom(): number {
  if (poolAt >= pool.length) {
    randomFillSync(pool);
    poolAt = 0;
  }
  return pool[poolAt++]! / 256;
}

const nextUlid = monotonicFactory(pooledRandom);

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
