import type { AttemptSignal } from './endpoint-health.js';
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
  /**
   * Standard Webhooks receiver signals: `410 Gone` disables the endpoint, and `429`/`503` with
   * `Retry-After` pauses it until then (up to `retryAfterCapMs`) without using up an attempt.
   * Off for the compatibility profiles, whose guides fix their delays exactly.
   */
  receiverSignals: boolean;
  /** Longest pause a receiver's `Retry-After` can ask for (ms). */
  retryAfterCapMs: number;
}

/** Throttled attempts that do not count against the schedule, per delivery; later ones count as failures. */
export const MAX_FREE_THROTTLES = 20;
/** Shortest pause after a throttling answer, so `Retry-After: 0` cannot make a hot loop. */
const MIN_THROTTLE_MS = 1000;

const S = 1000;
const M = 60 * S;
const H = 60 * M;

/** Herald's native schedule: immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h, then failed. */
export const NATIVE_RETRY_POLICY: RetryPolicy = {
  delaysMs: [0, 5 * S, 5 * M, 30 * M, 2 * H, 5 * H, 10 * H, 10 * H],
  retryOn: 'any',
  jitter: 0.2,
  receiverSignals: true,
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
  /** What the attempt says about the endpoint's health. */
  signal: AttemptSignal;
}

/** Where a delivery stands against its retry schedule. */
export interface AttemptBudget {
  /** This attempt's number, 1-based, counting every attempt made. */
  attemptNumber: number;
  /** Earlier attempts that were throttled and so did not count against the schedule. */
  throttledCount: number;
  /** A manual replay allows attempts up to this number only; null = the policy's schedule. */
  attemptLimit: number | null;
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
 * Decides what happens after an attempt that finished at `now`. `budget` may be just the 1-based
 * attempt number. `random` is injectable so jitter is testable; it must return a value in [0, 1).
 */
export function decideAfterAttempt(
  policy: RetryPolicy,
  budget: number | AttemptBudget,
  result: AttemptResult,
  now: number,
  random: () => number = Math.random,
): RetryDecision {
  const b: AttemptBudget = typeof budget === 'number' ? { attemptNumber: budget, throttledCount: 0, attemptLimit: null } : budget;
  if (result.ok) return { status: 'delivered', nextAttemptAt: null, signal: { kind: 'ok' } };
  const failed: RetryDecision = { status: 'failed', nextAttemptAt: null, signal: { kind: 'failure' } };
  if (policy.receiverSignals) {
    if (result.statusCode === 410) return { ...failed, signal: { kind: 'gone' } };
    const throttled = result.statusCode === 429 || result.statusCode === 503;
    if (throttled && result.retryAfterMs !== null && b.throttledCount < MAX_FREE_THROTTLES) {
      const until = now + Math.max(MIN_THROTTLE_MS, Math.min(result.retryAfterMs, policy.retryAfterCapMs));
      const allowed = b.attemptLimit === null || b.attemptNumber < b.attemptLimit;
      return allowed ? { status: 'retrying', nextAttemptAt: until, signal: { kind: 'throttled', until } } : { ...failed, signal: { kind: 'throttled', until } };
    }
  }
  if (b.attemptLimit !== null && b.attemptNumber >= b.attemptLimit) return failed;
  const nextDelay = policy.delaysMs[b.attemptNumber - b.throttledCount];
  if (nextDelay === undefined || !isRetryable(policy, result)) return failed;
  const delay = nextDelay * (1 + policy.jitter * (2 * random() - 1));
  return { status: 'retrying', nextAttemptAt: now + Math.round(delay), signal: { kind: 'failure' } };
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
