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

/**
 * Ids are monotonic within a process: one monotonic factory, which for a time a little behind the
 * latest it saw (concurrent requests, a small clock step) keeps the latest time. A time far behind
 * (an injected test clock, a large clock step back) gets a separate monotonic run instead, so the
 * id still says roughly when its row was made (retention prunes by id range); that run restarts
 * whenever it goes back again.
 */
const FAR_BEHIND_MS = 3_600_000;
const forward = monotonicFactory(pooledRandom);
let latest = 0;
let behind = { latest: 0, next: monotonicFactory(pooledRandom) };
function nextUlid(now: number): string {
  if (now > latest - FAR_BEHIND_MS) {
    latest = Math.max(latest, now);
    return forward(now);
  }
  if (now < behind.latest) behind = { latest: now, next: monotonicFactory(pooledRandom) };
  behind.latest = now;
  return behind.next(now);
}

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
