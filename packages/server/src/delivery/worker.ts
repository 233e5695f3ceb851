import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { Clock } from '../core/clock.js';
import { newId } from '../core/ids.js';
import type { WebhookEvent } from '../core/model.js';
import { getProfile } from '../core/profiles/index.js';
import { decideAfterAttempt, parseRetryAfter } from '../core/retry.js';
import type { Completion, DispatchEndpoint, Store } from '../store/index.js';
import type { ClaimedDelivery } from '../store/queue.js';
import { buildAttemptRequest } from './build-request.js';
import type { HttpTransport } from './transport.js';

export interface WorkerOptions {
  store: Store;
  transport: HttpTransport;
  clock: Clock;
  logger: Logger;
  /** Attempts in flight at once in this process. */
  concurrency?: number;
  /** Deliveries claimed per query, and completions written per transaction. */
  batchSize?: number;
  /** How long a claim stays ours; must exceed the attempt timeout. */
  leaseMs?: number;
  /** Longest sleep between queue checks when nothing nudges the worker (picks up scheduled retries). */
  pollIntervalMs?: number;
  attemptTimeoutMs?: number;
  random?: () => number;
  workerId?: string;
}

/**
 * The delivery loop of one process. Claims due deliveries in batches, makes each attempt, and
 * writes the results back in batches. A publish in this process nudges it awake; polling is the floor.
 */
export class DeliveryWorker {
  readonly id: string;
  private readonly concurrency: number;
  private readonly batchSize: number;
  private readonly leaseMs: number;
  private readonly pollIntervalMs: number;
  private readonly attemptTimeoutMs: number;
  private readonly random: () => number;

  private running = false;
  private loopDone: Promise<void> = Promise.resolve();
  private inflight = 0;
  private wake: (() => void) | null = null;
  private nudged = false;
  private pending: Completion[] = [];
  private flushing: Promise<void> = Promise.resolve();
  private flushScheduled = false;
  private idleWaiters: (() => void)[] = [];
  /** Claimed deliveries, loaded and waiting for a free slot. */
  private ready: { delivery: ClaimedDelivery; endpoint: DispatchEndpoint; event: WebhookEvent; body: string; claimedAt: number }[] = [];

  constructor(private readonly opts: WorkerOptions) {
    this.id = opts.workerId ?? `${hostname()}:${process.pid}:${newId('wrk').slice(-8)}`;
    this.concurrency = opts.concurrency ?? 64;
    this.batchSize = opts.batchSize ?? Math.max(100, this.concurrency);
    this.attemptTimeoutMs = opts.attemptTimeoutMs ?? 30_000;
    this.leaseMs = opts.leaseMs ?? this.attemptTimeoutMs + 30_000;
    this.pollIntervalMs = opts.pollIntervalMs ?? 1000;
    this.random = opts.random ?? Math.random;
  }

  get isRunning(): boolean {
    return this.running;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loopDone = this.loop();
  }

  /** Stops claiming, waits for in-flight attempts (bounded by the attempt timeout) and writes their results. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.nudge();
    await this.loopDone;
    await this.drained();
  }

  /** Something became due now (e.g. an event was published): check the queue without waiting for the poll. */
  nudge(): void {
    const wake = this.wake;
    this.wake = null;
    if (wake) wake();
    // Not sleeping (e.g. mid-claim, just before the publish committed): the next sleep returns at once.
    else this.nudged = true;
  }

  /**
   * Test and tooling hook: processes everything due at the clock's current time, waits for the
   * attempts and writes them. Returns the number of deliveries attempted or released.
   */
  async runOnce(): Promise<number> {
    let total = 0;
    for (;;) {
      const n = await this.claim(this.batchSize);
      total += n;
      while (this.ready.length > 0) {
        this.dispatchReady();
        if (this.ready.length > 0) await this.slotFreed();
      }
      await this.drained();
      if (n === 0) break;
    }
    return total;
  }

  /**
   * Claims in full batches into a small ready buffer and feeds attempts from it as slots free up,
   * so a busy worker makes one claim per batch instead of one per freed slot.
   */
  private async loop(): Promise<void> {
    let failures = 0;
    while (this.running) {
      let claimed = 0;
      if (this.ready.length < this.batchSize) {
        try {
          claimed = await this.claim(this.batchSize);
          failures = 0;
        } catch (err) {
          failures++;
          this.opts.logger.error({ err }, 'claiming deliveries failed');
          await this.sleep(Math.min(30_000, 100 * 2 ** failures));
          continue;
        }
      }
      this.dispatchReady();
      if (this.ready.length > 0) await this.slotFreed();
      else if (claimed === 0) await this.sleep(this.pollIntervalMs);
    }
    // Stopping: claimed but never started deliveries go back to the queue at once.
    const unstarted = this.ready.splice(0);
    await this.opts.store.queue.unclaim(this.id, unstarted.map((r) => r.delivery.id), this.opts.clock.now());
  }

  private sleep(ms: number): Promise<void> {
    if (this.nudged) {
      this.nudged = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wake = null;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  /** Resolves when an attempt finishes (or the worker is nudged/stopped). */
  private slotFreed(): Promise<void> {
    return this.sleep(this.pollIntervalMs);
  }

  private dispatchReady(): void {
    const staleBefore = this.opts.clock.now() - this.leaseMs / 2;
    const stale: string[] = [];
    while (this.inflight < this.concurrency && this.ready.length > 0) {
      const r = this.ready.shift()!;
      // Waited in the buffer for half its lease (slow endpoints hold every slot): hand it back rather
      // than risk sending it after the lease lapsed and another claim took it.
      if (r.claimedAt < staleBefore) {
        stale.push(r.delivery.id);
        continue;
      }
      this.inflight++;
      void this.attempt(r.delivery, r.endpoint, r.event, r.body).finally(() => {
        this.inflight--;
        this.nudge();
        this.checkIdle();
      });
    }
    if (stale.length > 0) {
      this.opts.store.queue.unclaim(this.id, stale, this.opts.clock.now()).catch((err: unknown) => this.opts.logger.error({ err }, 'returning stale claims failed'));
    }
  }

  /** Claims up to `limit` due deliveries, loads what their attempts need, and queues them as ready. */
  private async claim(limit: number): Promise<number> {
    const { store, clock } = this.opts;
    const now = clock.now();
    const claimed = await store.queue.claim(this.id, now, now + this.leaseMs, limit);
    if (claimed.length === 0) return 0;
    const [events, endpoints] = await Promise.all([
      store.events.getForDispatch([...new Set(claimed.map((c) => c.eventId))]),
      store.endpoints.getForDispatch([...new Set(claimed.map((c) => c.endpointId))]),
    ]);
    const toPark: ClaimedDelivery[] = [];
    const toFail: ClaimedDelivery[] = [];
    const bodies = new Map<string, string>();
    for (const delivery of claimed) {
      const endpoint = endpoints.get(delivery.endpointId);
      const event = events.get(delivery.eventId);
      if (!endpoint || endpoint.deleted || !event) {
        toFail.push(delivery);
        continue;
      }
      if (endpoint.status !== 'enabled') {
        toPark.push(delivery);
        continue;
      }
      const bodyKey = `${event.id}\u0000${endpoint.profile}`;
      let body = bodies.get(bodyKey);
      if (body === undefined) {
        body = getProfile(endpoint.profile).serializeEnvelope(event);
        bodies.set(bodyKey, body);
      }
      this.ready.push({ delivery, endpoint, event, body, claimedAt: now });
    }
    await store.queue.release(this.id, toPark.map((d) => d.id), 'park', now);
    await store.queue.release(this.id, toFail.map((d) => d.id), 'fail', now);
    return claimed.length;
  }

  private async attempt(delivery: ClaimedDelivery, endpoint: DispatchEndpoint, event: WebhookEvent, body: string): Promise<void> {
    const { clock, transport } = this.opts;
    const profile = getProfile(endpoint.profile);
    const startedAt = clock.now();
    const attemptNumber = delivery.attemptCount + 1;
    try {
      const request = buildAttemptRequest({ profile, endpoint, event, delivery, body, now: startedAt });
      const res = await transport.send({ url: endpoint.url, headers: request.headers, body: request.body, timeoutMs: this.attemptTimeoutMs });
      const finishedAt = clock.now();
      const ok = res.errorKind === null;
      const decision = decideAfterAttempt(
        profile.retryPolicy,
        attemptNumber,
        { ok, statusCode: res.statusCode, errorKind: res.errorKind, retryAfterMs: parseRetryAfter(res.retryAfter, finishedAt) },
        finishedAt,
        this.random,
      );
      this.enqueueCompletion({
        deliveryId: delivery.id,
        status: decision.status,
        attemptNumber,
        nextAttemptAt: decision.nextAttemptAt,
        attempt: {
          id: newId('atm', startedAt),
          deliveryId: delivery.id,
          tenantId: delivery.tenantId,
          endpointId: delivery.endpointId,
          attemptNumber,
          startedAt,
          durationMs: res.durationMs,
          url: endpoint.url,
          requestHeaders: request.headers,
          responseStatus: res.statusCode,
          responseBody: res.body,
          errorKind: res.errorKind,
          errorMessage: res.errorMessage,
        },
      });
    } catch (err) {
      // A bug, not a receiver failure: leave the lease to expire so the delivery is retried.
      this.opts.logger.error({ err, deliveryId: delivery.id }, 'attempt failed unexpectedly');
    }
  }

  private enqueueCompletion(c: Completion): void {
    this.pending.push(c);
    if (this.pending.length >= this.batchSize) {
      void this.flush();
    } else if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => void this.flush());
    }
  }

  /** Writes buffered completions; one write at a time, so batches grow while the previous one commits. */
  private flush(): Promise<void> {
    this.flushScheduled = false;
    this.flushing = this.flushing.then(async () => {
      const batch = this.pending;
      if (batch.length === 0) return;
      this.pending = [];
      try {
        await this.opts.store.queue.complete(this.id, batch);
      } catch (err) {
        // The leases will expire and the deliveries be attempted again: at-least-once, never lost.
        this.opts.logger.error({ err, count: batch.length }, 'writing delivery results failed');
      }
      this.checkIdle();
    });
    return this.flushing;
  }

  private checkIdle(): void {
    if (this.inflight === 0 && this.pending.length === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  /** Resolves once no attempt is in flight and every result is written. */
  private async drained(): Promise<void> {
    if (this.inflight > 0 || this.pending.length > 0) {
      await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    }
    await this.flush();
  }
}
