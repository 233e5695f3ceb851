import { nextInFlightLimit, type Budget } from '../core/capacity.js';
import type { EndpointHealthState } from '../core/endpoint-health.js';
import type { WebhookEvent } from '../core/model.js';
import type { DispatchEndpoint } from '../store/index.js';
import type { ClaimedDelivery } from '../store/queue.js';

/** A claimed delivery, loaded and waiting for its endpoint to have a free slot. */
export interface ReadyDelivery {
  delivery: ClaimedDelivery;
  endpoint: DispatchEndpoint;
  event: WebhookEvent;
  body: string;
  claimedAt: number;
  /** The breaker's half-open probe: sent even though the endpoint is otherwise held back. */
  probe: boolean;
}

/** How an attempt ended, as far as the endpoint's capacity is concerned. */
export type AttemptOutcome = 'answered' | 'timeout' | 'other';

/**
 * One endpoint as this worker process sees it: deliveries waiting for a slot, attempts in flight
 * (capped per endpoint so one slow receiver cannot take every slot, and adaptively below that),
 * a token bucket for the endpoint's rate limit, its standing (fast or not) and its last known health.
 */
export class Lane {
  readonly queue: ReadyDelivery[] = [];
  /** Delivery id → attempt start time. */
  readonly inflight = new Map<string, number>();
  health: EndpointHealthState;
  /** Smoothed attempt duration, ms. */
  private durationMs = 0;
  private tokens: number;
  private refilledAt: number;
  lastActive: number;
  /** When a blocked target was last logged for this endpoint (once a minute is enough to explain it). */
  blockedLoggedAt = -Infinity;
  /**
   * Attempts in flight allowed now, up to `cap` (AIMD, see nextInFlightLimit). A new endpoint
   * starts at its cap: starting at one and earning slots delayed a burst to a new endpoint by
   * several round trips, while the waiting slots already bound what unknown endpoints can hold.
   */
  private limit = Number.MAX_SAFE_INTEGER;
  /** new: no attempt of it has ended in this process; fast: its last came back, any status, within `slowMs`; slow: otherwise. */
  private standing: 'new' | 'fast' | 'slow' = 'new';

  constructor(public endpoint: DispatchEndpoint, private readonly defaultCap: number, now: number, private readonly slowMs = Infinity) {
    this.health = endpoint.health;
    this.tokens = this.burst;
    this.refilledAt = now;
    this.lastActive = now;
  }

  refresh(endpoint: DispatchEndpoint, now: number): void {
    this.endpoint = endpoint;
    this.health = endpoint.health;
    this.lastActive = now;
  }

  get cap(): number {
    return Lane.capOf(this.endpoint, this.defaultCap);
  }

  /** Attempts in flight at once an endpoint allows: one if FIFO, its own limit, or the default. */
  static capOf(endpoint: Pick<DispatchEndpoint, 'fifo' | 'maxInFlight'>, defaultCap: number): number {
    if (endpoint.fifo) return 1;
    return endpoint.maxInFlight ?? defaultCap;
  }

  /** Attempts in flight allowed now: the adaptive limit within the cap. */
  get allowed(): number {
    return Math.min(this.limit, this.cap);
  }

  /**
   * The budget its next attempt draws on: active only while its last attempt came back quickly and
   * none in flight has been open `slowMs` (a receiver that just started to hang).
   */
  budget(now: number): Budget {
    return this.standing === 'fast' && !this.hasSlowAttempt(now) ? 'active' : 'waiting';
  }

  /** Known to be slow or hanging (not merely new): its queued rows are worth moving out of others' way. */
  provenSlow(now: number): boolean {
    return this.standing === 'slow' || this.hasSlowAttempt(now);
  }

  private hasSlowAttempt(now: number): boolean {
    const oldest = this.inflight.values().next();
    return !oldest.done && now - oldest.value >= this.slowMs;
  }

  /**
   * Claimed deliveries this lane keeps in memory; beyond this they go back to the queue. Claims
   * skip a saturated lane and bring at most `defaultCap` per endpoint, so a claim never overfills it.
   */
  get capacity(): number {
    return Lane.capacityFor(this.cap, this.defaultCap);
  }

  static capacityFor(cap: number, defaultCap: number): number {
    return 2 * cap + defaultCap;
  }

  /** A full round of attempts is already waiting: claiming more for this endpoint would only hold them. */
  get saturated(): boolean {
    return this.queue.length >= this.allowed;
  }

  get isIdle(): boolean {
    return this.queue.length === 0 && this.inflight.size === 0;
  }

  private get burst(): number {
    return Math.max(1, this.endpoint.rateLimit ?? 1);
  }

  /** Takes a rate-limit token; returns 0 on success, else how many ms until one is available. */
  takeToken(now: number): number {
    const rate = this.endpoint.rateLimit;
    if (rate === null || rate <= 0) return 0;
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.refilledAt) * rate) / 1000);
    this.refilledAt = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - this.tokens) * 1000) / rate);
  }

  started(deliveryId: string, now: number): void {
    this.inflight.set(deliveryId, now);
    this.lastActive = now;
  }

  finished(deliveryId: string, durationMs: number, now: number, outcome: AttemptOutcome = 'other'): void {
    this.inflight.delete(deliveryId);
    this.limit = nextInFlightLimit(this.limit, this.cap, outcome);
    if (outcome !== 'other') this.standing = outcome === 'answered' && durationMs < this.slowMs ? 'fast' : 'slow';
    this.durationMs = this.durationMs === 0 ? durationMs : 0.8 * this.durationMs + 0.2 * durationMs;
    this.lastActive = now;
  }

  /** How long its attempts take: smoothed over finished ones, or the oldest still running if longer. */
  attemptMs(now: number): number {
    let oldest = now;
    for (const startedAt of this.inflight.values()) oldest = Math.min(oldest, startedAt);
    return Math.max(this.durationMs, now - oldest);
  }

  /**
   * Its queued rows are worth moving out of other endpoints' way: its attempts take long, or
   * every slot is taken by attempts none of which has come back yet (a receiver that hangs).
   * A fast endpoint works through its own backlog quickly; moving its rows only slows it down.
   */
  isSlow(now: number, slowMs: number): boolean {
    const age = this.attemptMs(now);
    if (age >= slowMs) return true;
    return this.durationMs === 0 && this.inflight.size >= this.allowed && age >= slowMs / 10;
  }

  /**
   * This endpoint's pace, in microseconds per attempt with its concurrency (and rate limit) allowed
   * for; optimistic by 4×, because a pace guessed too slow would leave the endpoint idle, while one
   * too fast only means its deliveries are moved again.
   */
  perItemUs(now: number): number {
    let us = (Math.max(this.attemptMs(now), 1) * 1000) / this.allowed / 4;
    const rate = this.endpoint.rateLimit;
    if (rate) us = Math.max(us, 1_000_000 / rate);
    return Math.min(us, 30_000_000);
  }

  /**
   * How long deliveries that do not fit should wait before a worker looks at them again: about
   * the time this endpoint needs to work through what it already holds.
   */
  backoffMs(now: number): number {
    let estimate = this.attemptMs(now);
    const rate = this.endpoint.rateLimit;
    if (rate) estimate = Math.max(estimate, ((this.queue.length + this.inflight.size) * 1000) / rate);
    return Math.min(30_000, Math.max(100, Math.round(estimate)));
  }
}
