import type { AttemptErrorKind, DeliveryStatus } from './model.js';

/**
 * A retry policy is data: the delay before each attempt (index 0 = first attempt), which
 * failures are worth retrying, and how receivers' `Retry-After` and jitter bend the delays.
 * Profiles pick one; the engine never hard-codes a schedule.
 */
export interface RetryPolicy {
  /** Delay in ms before attempt i+1, measured from the previous attempt. Length = max attempts. */
  delaysMs: readonly number[];
  /** `any`: every failure is retried. `transient`: only 5xx, 429, timeouts and network errors. */
  retryOn: 'any' | 'transient';
  /** Fraction of random spread applied to each delay (0.2 = ±20%); 0 keeps delays exact. */
  jitter: number;
  /** Honour `Retry-After` on 429/503: the next delay becomes at least that, up to this cap (ms). 0 = ignore. */
  retryAfterCapMs: number;
}

const S = 1000;
const M = 60 * S;
const H = 60 * M;

/** Herald's native schedule: immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h, then failed. */
export const NATIVE_RETRY_POLICY: RetryPolicy = {
  delaysMs: [0, 5 * S, 5 * M, 30 * M, 2 * H, 5 * H, 10 * H, 10 * H],
  retryOn: 'any',
  jitter: 0.2,
  retryAfterCapMs: 10 * H,
};

/** What an attempt came to, as far as retrying is concerned. */
export interface AttemptResult {
  ok: boolean;
  statusCode: number | null;
  errorKind: AttemptErrorKind | null;
  /** Parsed `Retry-After` of the response, in ms, if any. */
  retryAfterMs: number | null;
}

export interface RetryDecision {
  status: Extract<DeliveryStatus, 'delivered' | 'retrying' | 'failed'>;
  /** Absolute time of the next attempt when retrying, else null. */
  nextAttemptAt: number | null;
}

export function isRetryable(policy: RetryPolicy, result: AttemptResult): boolean {
  if (result.ok) return false;
  // Never retry into a blocked (private) address, nor an URL that cannot be sent to.
  if (result.errorKind === 'blocked' || result.errorKind === 'invalid_url') return false;
  if (policy.retryOn === 'any') return true;
  if (result.statusCode === null) return true; // timeout, connection, dns, tls
  return result.statusCode >= 500 || result.statusCode === 429;
}

/**
 * Decides what happens after attempt number `attemptNumber` (1-based) finished at `now`.
 * `random` is injectable so jitter is testable; it must return a value in [0, 1).
 */
export function decideAfterAttempt(
  policy: RetryPolicy,
  attemptNumber: number,
  result: AttemptResult,
  now: number,
  random: () => number = Math.random,
): RetryDecision {
  if (result.ok) return { status: 'delivered', nextAttemptAt: null };
  const nextDelay = policy.delaysMs[attemptNumber];
  if (nextDelay === undefined || !isRetryable(policy, result)) return { status: 'failed', nextAttemptAt: null };
  let delay = nextDelay * (1 + policy.jitter * (2 * random() - 1));
  const throttled = result.statusCode === 429 || result.statusCode === 503;
  if (throttled && result.retryAfterMs !== null && policy.retryAfterCapMs > 0) {
    delay = Math.max(delay, Math.min(result.retryAfterMs, policy.retryAfterCapMs));
  }
  return { status: 'retrying', nextAttemptAt: now + Math.round(delay) };
}

/** Parses a `Retry-After` header (delta-seconds or HTTP-date) into milliseconds from `now`. */
export function parseRetryAfter(value: string | undefined | null, now: number): number | null {
  if (!value) return null;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return null;
  return Math.max(0, date - now);
}
