/**
 * An endpoint's health as the delivery engine tracks it: consecutive failures feed a circuit
 * breaker and, if they go on long enough, auto-disable; receivers' throttling signals pause the
 * endpoint. Pure functions over a small state record; the store persists it.
 */

export type BreakerState = 'closed' | 'open' | 'half_open';
export type DisableReason = 'manual' | 'failing' | 'gone';

export interface EndpointHealthState {
  consecutiveFailures: number;
  /** Start of the current run of failures; null while the last attempt succeeded. */
  failingSince: number | null;
  breakerState: BreakerState;
  /** open: when a probe may go out; half_open: when the probe's claim on the endpoint lapses. */
  breakerUntil: number | null;
  /** The receiver asked for no requests before this time (429/503 with Retry-After). */
  throttledUntil: number | null;
}

export const HEALTHY: EndpointHealthState = {
  consecutiveFailures: 0, failingSince: null, breakerState: 'closed', breakerUntil: null, throttledUntil: null,
};

export interface HealthPolicy {
  /** Consecutive failed attempts that open the breaker. */
  breakerThreshold: number;
  /** How long an open breaker holds deliveries back before one probe is let through. */
  breakerCooldownMs: number;
  /** An endpoint failing without a single success for this long is disabled; 0 = never. */
  autoDisableAfterMs: number;
}

/** What one attempt tells about its endpoint. */
export type AttemptSignal =
  | { kind: 'ok' }
  | { kind: 'failure' }
  /** 410 Gone on a profile that honours it: the receiver wants no more webhooks. */
  | { kind: 'gone' }
  /** 429/503 with Retry-After: back off until then; not counted as a failure. */
  | { kind: 'throttled'; until: number };

export interface HealthChange {
  state: EndpointHealthState;
  /** Set when these outcomes disable the endpoint. */
  disable: Exclude<DisableReason, 'manual'> | null;
  /** The breaker went from closed (or half-open) to open. */
  breakerOpened: boolean;
}

/** Applies attempt outcomes (in the order they finished) to an endpoint's health. */
export function applySignals(prev: EndpointHealthState, signals: readonly { at: number; signal: AttemptSignal }[], policy: HealthPolicy, now: number): HealthChange {
  const s: EndpointHealthState = { ...prev };
  let disable: HealthChange['disable'] = null;
  let lastWasFailure = false;
  for (const { at, signal } of signals) {
    switch (signal.kind) {
      case 'ok':
        s.consecutiveFailures = 0;
        s.failingSince = null;
        s.breakerState = 'closed';
        s.breakerUntil = null;
        lastWasFailure = false;
        break;
      case 'throttled':
        s.throttledUntil = Math.max(s.throttledUntil ?? 0, signal.until);
        break;
      case 'gone':
      case 'failure':
        s.consecutiveFailures++;
        s.failingSince ??= at;
        lastWasFailure = true;
        if (signal.kind === 'gone') disable = 'gone';
        break;
    }
  }
  let breakerOpened = false;
  const probeFailed = prev.breakerState === 'half_open' && lastWasFailure;
  if (probeFailed || (s.breakerState === 'closed' && s.consecutiveFailures >= policy.breakerThreshold)) {
    breakerOpened = s.breakerState !== 'open';
    s.breakerState = 'open';
    s.breakerUntil = now + policy.breakerCooldownMs;
  }
  if (!disable && policy.autoDisableAfterMs > 0 && s.failingSince !== null && now - s.failingSince >= policy.autoDisableAfterMs) {
    disable = 'failing';
  }
  return { state: s, disable, breakerOpened };
}

/** A success would leave this state as it is: no failures counted and the breaker closed. */
export function successChangesNothing(s: EndpointHealthState): boolean {
  return s.consecutiveFailures === 0 && s.breakerState === 'closed';
}

/** Whether a delivery to this endpoint may be attempted now. */
export type Gate =
  | { kind: 'go' }
  /** The breaker's cool-down is over: one delivery may probe the endpoint (whoever claims the probe first). */
  | { kind: 'probe' }
  | { kind: 'wait'; until: number };

export function gate(s: EndpointHealthState, now: number): Gate {
  if (s.throttledUntil !== null && s.throttledUntil > now) return { kind: 'wait', until: s.throttledUntil };
  if (s.breakerState === 'closed') return { kind: 'go' };
  // open: cooling down; half_open: a probe is out until breakerUntil (after that it counts as lost).
  if (s.breakerUntil !== null && s.breakerUntil > now) return { kind: 'wait', until: s.breakerUntil };
  return { kind: 'probe' };
}
