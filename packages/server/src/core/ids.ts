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
 * Ids are monotonic within a process. A monotonic factory given an earlier time than it has seen
 * keeps the later one, so an id would no longer say when its row was made (retention prunes by id
 * range). Times behind the latest (an injected clock, a clock step) get a separate monotonic run,
 * restarted whenever they go back again.
 */
const forward = monotonicFactory(pooledRandom);
let latest = 0;
let behind = { latest: 0, next: monotonicFactory(pooledRandom) };
function nextUlid(now: number): string {
  if (now >= latest) {
    latest = now;
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
