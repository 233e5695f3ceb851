import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { Clock } from '../core/clock.js';
import { newId } from '../core/ids.js';
import { applySignals, gate, successChangesNothing, type EndpointHealthState, type HealthPolicy } from '../core/endpoint-health.js';
import { getProfile } from '../core/profiles/index.js';
import { decideAfterAttempt, parseRetryAfter } from '../core/retry.js';
import type { WebhookEvent } from '../core/model.js';
import type { FreshCandidate, FreshDeliveries, FreshHandOff } from '../services/context.js';
import { isUnavailable, type Completion, type DispatchEndpoint, type PlannedDelivery, type Store } from '../store/index.js';
import type { BusyEndpoint, ClaimedDelivery, HealthHooks } from '../store/queue.js';
import { buildAttemptRequest } from './build-request.js';
import { Lane, type AttemptOutcome, type ReadyDelivery } from './lane.js';
import { Slots } from './slots.js';
import type { OutboundResponse, Transport } from './transport.js';

export interface WorkerOptions {
  store: Store;
  transport: Transport;
  clock: Clock;
  logger: Logger;
  /** Active budget: attempts to fast endpoints counted as work at once in this process (see core/capacity.ts). */
  concurrency: number;
  /** Waiting budget: attempts to endpoints not proven fast, and those open over `slowAttemptMs`, at once. */
  maxWaiting: number;
  /** An attempt open this long stops counting against `concurrency` (ms). */
  slowAttemptMs: number;
  /** Deliveries claimed per query, and completions written per transaction. */
  batchSize?: number;
  /** Longest a finished attempt's result waits to be written with others (default 10 ms). */
  completionDelayMs?: number;
  /** How long a claim stays ours unless renewed; renewed every third of it while we hold it. */
  leaseMs: number;
  /** Longest sleep between queue checks when nothing nudges the worker (picks up scheduled retries). */
  pollIntervalMs?: number;
  /** Default attempt timeout; an endpoint may set a shorter one. */
  attemptTimeoutMs: number;
  /** Attempts in flight at once per endpoint, unless the endpoint sets its own. */
  endpointMaxInFlight: number;
  health: HealthPolicy;
  /** Reports endpoints that outcomes disabled (410 Gone, failing too long), in the same transaction. */
  onEndpointDisabled?: HealthHooks['onDisabled'];
  random?: () => number;
  workerId?: string;
}

/** A lane with nothing to do is forgotten after this long (its rate-limit bucket with it). */
const LANE_IDLE_MS = 60_000;
/** Busy endpoints' queued deliveries are moved out of other endpoints' way at most this often. */
const PUSH_BACK_EVERY_MS = 20;
/** Attempts this slow (or hanging) make an endpoint's queued rows worth moving out of others' way. */
const SLOW_ATTEMPT_MS = 250;
/** Endpoints a claim skips at most (a list the query carries): thousands of hanging endpoints can be busy at once. */
const MAX_SKIPPED = 2_000;
/** Least time between claims that find nothing, unless new work is announced. */
const EMPTY_CLAIM_PAUSE_MS = 5;
/**
 * Results kept in memory while the database is unavailable, at most (~5 KiB each). With claiming
 * and dispatching paused, no more than the attempts in flight at the outage's start can add to
 * them; past this, the oldest are given up to their leases (attempted again: duplicates, not loss).
 */
const MAX_HELD_RESULTS = 5_000;

/**
 * The delivery loop of one process. Claims due deliveries in batches, makes each attempt, and
 * writes the results back in batches. A publish in this process nudges it awake; polling is the floor.
 */
export class DeliveryWorker implements FreshDeliveries {
  readonly id: string;
  private readonly concurrency: number;
  private readonly batchSize: number;
  private readonly completionDelayMs: number;
  private readonly leaseMs: number;
  private readonly pollIntervalMs: number;
  private readonly attemptTimeoutMs: number;
  private readonly endpointMaxInFlight: number;
  private readonly healthHooks: HealthHooks;
  private readonly random: () => number;
  private readonly slots: Slots;

  private running = false;
  private loopDone: Promise<void> = Promise.resolve();
  private inflight = 0;
  private wake: (() => void) | null = null;
  private nudged = false;
  private pending: Completion[] = [];
  /** Results in `pending` that were not a success: none means they cannot move any endpoint's health but a failing one's. */
  private pendingTroubles = 0;
  private flushing: Promise<void> = Promise.resolve();
  private flushTimer: NodeJS.Timeout | null = null;
  private flushQueued: Promise<void> | null = null;
  private idleWaiters: (() => void)[] = [];
  /** Per-endpoint queues of claimed deliveries; iteration order is the round-robin order. */
  private lanes = new Map<string, Lane>();
  private renewTimer: NodeJS.Timeout | null = null;
  private tokenTimer: NodeJS.Timeout | null = null;
  private lastPushBack = 0;
  private lastEmptyClaim = 0;
  /** Something may have become due (a publish, a poll) since the last claim. */
  private newWork = true;
  /** Slots promised to publishes still committing (see offer): per endpoint, and in all. */
  private reserved = new Map<string, number>();
  private reservedTotal = 0;
  private stopWatchingStore: (() => void) | null = null;

  constructor(private readonly opts: WorkerOptions) {
    this.id = opts.workerId ?? `${hostname()}:${process.pid}:${newId('wrk').slice(-8)}`;
    // Settings without a default here: the config module states them once (DEFAULTS).
    this.concurrency = opts.concurrency;
    this.batchSize = opts.batchSize ?? Math.max(100, this.concurrency);
    this.completionDelayMs = opts.completionDelayMs ?? 10;
    this.attemptTimeoutMs = opts.attemptTimeoutMs;
    this.leaseMs = opts.leaseMs;
    this.pollIntervalMs = opts.pollIntervalMs ?? 1000;
    this.endpointMaxInFlight = opts.endpointMaxInFlight;
    this.healthHooks = { policy: opts.health, onDisabled: opts.onEndpointDisabled };
    this.random = opts.random ?? Math.random;
    this.slots = new Slots({ active: opts.concurrency, waiting: opts.maxWaiting, slowMs: opts.slowAttemptMs }, opts.clock, () => this.wakeLoop());
  }

  get isRunning(): boolean {
    return this.running;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    // A database outage pauses claims and dispatch (see loop); when it is over, the results held
    // meanwhile are written and leases renewed before anything new is claimed.
    this.stopWatchingStore = this.opts.store.availability.onUp(() => void this.resumeAfterOutage());
    this.loopDone = this.loop();
    // Leases are renewed while attempts run and claims wait, so a lease can be short (fast crash
    // recovery) without a slow attempt losing its delivery to another worker.
    this.renewTimer = setInterval(() => void this.renewLeases(), Math.max(50, Math.floor(this.leaseMs / 3)));
    this.renewTimer.unref();
  }

  /** Stops claiming, waits for in-flight attempts (bounded by the attempt timeout) and writes their results. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.nudge();
    await this.loopDone;
    await this.drained();
    this.stopWatchingStore?.();
    if (this.pending.length > 0) {
      this.opts.logger.warn({ count: this.pending.length }, 'stopped with delivery results unwritten (database unavailable): those deliveries are attempted again when their leases expire');
    }
    if (this.renewTimer) clearInterval(this.renewTimer);
    if (this.tokenTimer) clearTimeout(this.tokenTimer);
    this.renewTimer = this.tokenTimer = null;
    this.slots.stop();
  }

  /** Something became due now (e.g. an event was published): check the queue without waiting for the poll. */
  nudge(): void {
    this.newWork = true;
    this.wakeLoop();
  }

  /**
   * Takes the fresh deliveries of a publish in this process whose endpoint has a slot free now
   * (within the worker's concurrency), so they start as soon as they are committed, without a
   * claim. Only what would start at once: anything that would wait is left to the queue, where
   * older due deliveries come first. Never FIFO endpoints' (the queue keeps their order) nor those
   * of an endpoint its breaker or a throttle holds back.
   */
  offer(candidates: readonly FreshCandidate[]): FreshHandOff | null {
    if (!this.running || candidates.length === 0) return null;
    const now = this.opts.clock.now();
    const taken = new Map<string, DispatchEndpoint>();
    const perEndpoint = new Map<string, number>();
    for (const { id, endpoint } of candidates) {
      if (endpoint.fifo || endpoint.status !== 'enabled') continue;
      const lane = this.lanes.get(endpoint.id);
      // The budget its attempt would use must have a slot free now (an endpoint new here: waiting).
      if (this.slots.book.free(lane ? lane.budget(now) : 'waiting') <= this.reservedTotal + taken.size) continue;
      if (gate(lane?.health ?? endpoint.health, now).kind !== 'go') continue;
      const held = (lane ? lane.queue.length + lane.inflight.size : 0) + (this.reserved.get(endpoint.id) ?? 0) + (perEndpoint.get(endpoint.id) ?? 0);
      if (held >= (lane ? lane.allowed : Lane.capOf(endpoint, this.endpointMaxInFlight))) continue;
      taken.set(id, endpoint);
      perEndpoint.set(endpoint.id, (perEndpoint.get(endpoint.id) ?? 0) + 1);
    }
    if (taken.size === 0) return null;
    for (const [id, n] of perEndpoint) this.reserved.set(id, (this.reserved.get(id) ?? 0) + n);
    this.reservedTotal += taken.size;
    let open = true;
    const release = () => {
      if (!open) return;
      open = false;
      for (const [id, n] of perEndpoint) {
        const left = (this.reserved.get(id) ?? 0) - n;
        if (left > 0) this.reserved.set(id, left);
        else this.reserved.delete(id);
      }
      this.reservedTotal -= taken.size;
    };
    return {
      owner: this.id,
      leaseUntil: now + this.leaseMs,
      taken: new Set(taken.keys()),
      accept: (written) => {
        release();
        this.acceptFresh(written, taken);
      },
      cancel: release,
    };
  }

  /** Committed fresh deliveries join their endpoints' lanes and start. */
  private acceptFresh(written: readonly { event: WebhookEvent; deliveries: readonly PlannedDelivery[] }[], taken: ReadonlyMap<string, DispatchEndpoint>): void {
    const ids: string[] = [];
    const now = this.opts.clock.now();
    const refreshed = new Set<string>();
    const bodies = new Map<string, string>();
    for (const { event, deliveries } of written) {
      for (const d of deliveries) {
        const endpoint = taken.get(d.id);
        if (!endpoint) continue;
        ids.push(d.id);
        if (!this.running) continue;
        const body = envelopeOnce(bodies, event, endpoint.profile);
        const delivery: ClaimedDelivery = {
          id: d.id, tenantId: event.tenantId, eventId: event.id, endpointId: endpoint.id, eventType: event.type,
          attemptCount: 0, throttledCount: 0, attemptLimit: null, firstAttemptAt: null, ordered: false,
        };
        this.laneFor(endpoint, now, refreshed).queue.push({ delivery, endpoint, event, body, claimedAt: now, probe: false });
      }
    }
    if (!this.running) {
      // Stopped while the publish committed: give them back to the queue rather than wait for the lease.
      void this.opts.store.queue.unclaim(this.id, ids, now).catch((err: unknown) => this.storeFailed(err, 'returning claims failed'));
      return;
    }
    this.dispatchReady();
  }

  /** Wakes the loop (an attempt finished, a timer fired) without saying new deliveries are due. */
  private wakeLoop(): void {
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
    let rateLimited = false;
    while (!rateLimited) {
      const n = await this.claim(this.batchSize);
      total += n;
      while (this.readyCount() > 0) {
        const started = this.dispatchReady();
        if (started === 0 && this.inflight === 0) {
          // Only rate-limited deliveries are left and the clock is the caller's: hand them back
          // (due now) and stop, or the next claim would take them straight back.
          await this.handBackReady();
          rateLimited = true;
          break;
        }
        if (this.readyCount() > 0) await this.slotFreed();
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
      // Database unavailable: claim nothing and start nothing (a result could not be written, and
      // its lease not renewed); attempts in flight finish and their results are held. The store's
      // probe nudges the loop when the database is back.
      if (!this.opts.store.availability.isUp) {
        await this.sleep(this.pollIntervalMs);
        continue;
      }
      let claimed = 0;
      // After a claim that found nothing, freed slots alone do not justify another for a few ms:
      // busy endpoints' rows would be scanned again for nothing on every finished attempt.
      const recentlyEmpty = !this.newWork && this.opts.clock.now() - this.lastEmptyClaim < EMPTY_CLAIM_PAUSE_MS;
      if (this.dispatchableCount() < this.batchSize && !recentlyEmpty) {
        try {
          this.newWork = false;
          claimed = await this.claim(this.batchSize);
          if (claimed === 0) this.lastEmptyClaim = this.opts.clock.now();
          failures = 0;
        } catch (err) {
          failures++;
          // An unavailable database is logged once by the store; the backoff ends early when it is back.
          if (!isUnavailable(err)) this.opts.logger.error({ err }, 'claiming deliveries failed');
          await this.sleep(Math.min(30_000, 100 * 2 ** failures));
          continue;
        }
      }
      this.dispatchReady();
      if (this.readyCount() > 0) await this.slotFreed();
      else if (recentlyEmpty) await this.sleep(EMPTY_CLAIM_PAUSE_MS);
      else if (claimed === 0) {
        // The poll: scheduled retries may be due. Woken early by a finished attempt is no reason
        // to look again (that made one empty claim per attempt whenever the queue ran dry).
        if (await this.sleep(this.pollIntervalMs)) this.newWork = true;
      }
    }
    // Stopping: claimed but never started deliveries go back to the queue at once (or, with the
    // database unavailable, when their leases expire).
    await this.handBackReady().catch((err: unknown) => this.storeFailed(err, 'returning claims failed'));
  }

  /** Logs a failed store call, unless it failed because the database is unavailable (the store logs that once). */
  private storeFailed(err: unknown, message: string): void {
    if (isUnavailable(err)) this.opts.logger.debug({ err }, message);
    else this.opts.logger.error({ err }, message);
  }

  /** The database is back: write what was held, keep the leases, then claim. */
  private async resumeAfterOutage(): Promise<void> {
    const held = this.pending.length;
    await this.flush();
    if (held > 0) this.opts.logger.info({ held, unwritten: this.pending.length }, 'wrote the delivery results held during the database outage');
    await this.renewLeases();
    this.nudge();
  }

  private async handBackReady(): Promise<void> {
    const unstarted: string[] = [];
    for (const lane of this.lanes.values()) unstarted.push(...lane.queue.splice(0).map((r) => r.delivery.id));
    await this.opts.store.queue.unclaim(this.id, unstarted, this.opts.clock.now());
  }

  private readyCount(): number {
    let n = 0;
    for (const lane of this.lanes.values()) n += lane.queue.length;
    return n;
  }

  /** Buffered deliveries whose endpoint and budget have a free slot: when few, it is time to claim more. */
  private dispatchableCount(): number {
    const now = this.opts.clock.now();
    let n = 0;
    for (const lane of this.lanes.values()) {
      if (lane.queue.length > 0 && lane.inflight.size < lane.allowed && this.slots.book.free(lane.budget(now)) > 0) n += lane.queue.length;
    }
    return n;
  }

  private async renewLeases(): Promise<void> {
    if (!this.opts.store.availability.isUp) return;
    const ids: string[] = [];
    for (const lane of this.lanes.values()) {
      ids.push(...lane.inflight.keys());
      for (const r of lane.queue) ids.push(r.delivery.id);
    }
    if (ids.length === 0) return;
    try {
      await this.opts.store.queue.renew(this.id, ids, this.opts.clock.now() + this.leaseMs);
    } catch (err) {
      this.storeFailed(err, 'renewing leases failed');
    }
  }

  /** Resolves true when the full time passed, false when woken early. */
  private sleep(ms: number): Promise<boolean> {
    if (this.nudged) {
      this.nudged = false;
      return Promise.resolve(false);
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wake = null;
        resolve(true);
      }, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve(false);
      };
    });
  }

  /** Resolves when an attempt finishes (or the worker is nudged/stopped). */
  private async slotFreed(): Promise<void> {
    await this.sleep(this.pollIntervalMs);
  }

  /**
   * Starts attempts from the lanes, one per endpoint per round, so endpoints share the worker's
   * slots fairly; an endpoint at its limit, out of rate tokens or held back by its breaker is
   * skipped, and so is one whose tenant has its share of the budget the attempt would use (see
   * core/capacity.ts). Returns the number of attempts started.
   */
  private dispatchReady(): number {
    const now = this.opts.clock.now();
    const staleBefore = now - this.leaseMs / 2;
    const stale: string[] = [];
    const deferred: { id: string; until: number }[] = [];
    let started = 0;
    let nextToken = Infinity;
    let progressed = true;
    const shares = this.slots.round(this.lanes.values(), now);
    while (progressed && this.slots.anyFree) {
      progressed = false;
      for (const [id, lane] of this.lanes) {
        if (!this.slots.anyFree) break;
        if (lane.queue.length === 0) {
          if (lane.isIdle && lane.lastActive < now - LANE_IDLE_MS) this.lanes.delete(id);
          continue;
        }
        // The breaker opened or the receiver throttled since these were claimed: back to the queue.
        const g = gate(lane.health, now);
        if (g.kind !== 'go' && !lane.queue[0]!.probe) {
          const until = g.kind === 'wait' ? g.until : now;
          for (const r of lane.queue.splice(0)) deferred.push({ id: r.delivery.id, until });
          continue;
        }
        if (lane.inflight.size >= lane.allowed) continue;
        const budget = lane.budget(now);
        const tenant = lane.endpoint.tenantId;
        if (!this.slots.book.canStart(tenant, budget, shares)) continue;
        const wait = lane.takeToken(now);
        if (wait > 0) {
          nextToken = Math.min(nextToken, wait);
          continue;
        }
        const r = lane.queue.shift()!;
        progressed = true;
        // Waited in memory for half its lease (its endpoint is slow): let the queue have it back.
        if (r.claimedAt < staleBefore) {
          stale.push(r.delivery.id);
          continue;
        }
        this.inflight++;
        started++;
        this.slots.start(r.delivery.id, tenant, budget, now);
        lane.started(r.delivery.id, now);
        // Round-robin: this endpoint goes to the back of the line.
        this.lanes.delete(id);
        this.lanes.set(id, lane);
        void this.attempt(lane, r).finally(() => {
          this.slots.finish(r.delivery.id);
          this.inflight--;
          this.wakeLoop();
          this.checkIdle();
        });
      }
    }
    if (nextToken < Infinity && this.running) this.wakeIn(nextToken);
    const { store: { queue }, clock } = this.opts;
    const report = (err: unknown) => this.storeFailed(err, 'returning claims failed');
    if (stale.length > 0) void queue.unclaim(this.id, stale, clock.now()).catch(report);
    if (deferred.length > 0) void queue.defer(this.id, deferred, clock.now()).catch(report);
    return started;
  }

  /** Wakes the loop when the next rate-limit token is due. */
  private wakeIn(ms: number): void {
    if (this.tokenTimer) return;
    this.tokenTimer = setTimeout(() => {
      this.tokenTimer = null;
      this.wakeLoop();
    }, ms);
    this.tokenTimer.unref();
  }

  /**
   * Claims up to `limit` due deliveries, loads what their attempts need and puts each in its
   * endpoint's lane. Deliveries that must not go now (breaker open, throttled, lane full) go
   * straight back to the queue with the time to look again, without using up an attempt.
   */
  private async claim(limit: number): Promise<number> {
    const { store, clock } = this.opts;
    const now = clock.now();
    // Endpoints this worker cannot take more of now: held back (breaker open, throttled) or with a
    // full round already waiting. The claim skips them. If the held-back and slow ones' deliveries
    // fill the front of the queue while slots are free, those are moved out of other endpoints'
    // way (isolation); a fast endpoint works through its own backlog soon enough.
    const busy: string[] = [];
    const stuck: BusyEndpoint[] = [];
    for (const lane of this.lanes.values()) {
      if (busy.length >= MAX_SKIPPED) break;
      const g = gate(lane.health, now);
      if (g.kind === 'wait') {
        busy.push(lane.endpoint.id);
        stuck.push({ id: lane.endpoint.id, keep: 0, startUs: (g.until - now) * 1000, perItemUs: 1000 });
      } else if (lane.saturated) {
        busy.push(lane.endpoint.id);
        // Slow or hanging, its next round is already in memory and may wait long for a waiting
        // slot: move all its due rows, at its own pace.
        const slow = lane.provenSlow(now);
        if (slow || lane.isSlow(now, SLOW_ATTEMPT_MS)) {
          const perItemUs = lane.perItemUs(now);
          stuck.push({ id: lane.endpoint.id, keep: slow ? 0 : lane.cap, startUs: (lane.queue.length + lane.inflight.size) * perItemUs, perItemUs });
        }
      }
    }
    // Ranking rows per endpoint costs the claim query several times its plain form: claim plainly
    // as many rows as every lane has room for, and rank only when that is too few to be worth it
    // (or a busy endpoint's rows must be skipped).
    const room = this.leastRoom(limit);
    const plain = busy.length === 0 && room >= limit / 4;
    const fairness = plain ? {} : { perEndpoint: this.endpointMaxInFlight, skipEndpoints: busy };
    let claimed = await store.queue.claim(this.id, now, now + this.leaseMs, plain ? room : limit, fairness);
    if (claimed.length < limit && stuck.length > 0 && this.slots.anyFree && now - this.lastPushBack >= PUSH_BACK_EVERY_MS) {
      this.lastPushBack = now;
      // While the whole front of the queue is such rows, keep clearing it (bounded).
      for (let round = 0; round < 10; round++) {
        const moved = await store.queue.pushBack(stuck, limit * 4, now);
        if (claimed.length > 0 || moved === 0) break;
        claimed = await store.queue.claim(this.id, now, now + this.leaseMs, limit, fairness);
      }
    }
    if (claimed.length === 0) return 0;
    const [events, endpoints] = await Promise.all([
      store.events.getForDispatch([...new Set(claimed.map((c) => c.eventId))]),
      store.endpoints.getForDispatch([...new Set(claimed.map((c) => c.endpointId))]),
    ]);
    const toPark: string[] = [];
    const toFail: string[] = [];
    const deferred: { id: string; until: number }[] = [];
    const bodies = new Map<string, string>();
    const refreshed = new Set<string>();
    for (const delivery of claimed) {
      const endpoint = endpoints.get(delivery.endpointId);
      const event = events.get(delivery.eventId);
      if (!endpoint || endpoint.deleted || !event) {
        toFail.push(delivery.id);
        continue;
      }
      if (endpoint.status !== 'enabled') {
        toPark.push(delivery.id);
        continue;
      }
      const lane = this.laneFor(endpoint, now, refreshed);
      const g = gate(lane.health, now);
      let probe = false;
      if (g.kind === 'wait') {
        // Spread over a second so a reopened endpoint is not hit by its whole backlog at once.
        deferred.push({ id: delivery.id, until: g.until + Math.floor(this.random() * 1000) });
        continue;
      }
      if (g.kind === 'probe') {
        const until = now + this.timeoutFor(endpoint) + 5_000;
        if (!(await store.endpoints.tryClaimProbe(endpoint.id, now, until))) {
          deferred.push({ id: delivery.id, until });
          continue;
        }
        lane.health = { ...lane.health, breakerState: 'half_open', breakerUntil: until };
        probe = true;
      } else if (lane.queue.length + lane.inflight.size >= lane.capacity) {
        deferred.push({ id: delivery.id, until: now + lane.backoffMs(now) });
        continue;
      }
      const body = envelopeOnce(bodies, event, endpoint.profile);
      lane.queue.push({ delivery, endpoint, event, body, claimedAt: now, probe });
    }
    await store.queue.release(this.id, toPark, 'park', now);
    await store.queue.release(this.id, toFail, 'fail', now);
    await store.queue.defer(this.id, deferred, now);
    return claimed.length;
  }

  /** The fewest rows any lane (or a new one) could take from one claim without overfilling, up to `limit`. */
  private leastRoom(limit: number): number {
    let room = Math.min(limit, Lane.capacityFor(this.endpointMaxInFlight, this.endpointMaxInFlight));
    for (const lane of this.lanes.values()) room = Math.min(room, lane.capacity - lane.queue.length - lane.inflight.size);
    return Math.max(0, room);
  }

  /** The endpoint's lane, brought up to date with what was just read (once per claim). */
  private laneFor(endpoint: DispatchEndpoint, now: number, refreshed: Set<string>): Lane {
    let lane = this.lanes.get(endpoint.id);
    if (!lane) {
      lane = new Lane(endpoint, this.endpointMaxInFlight, now, this.opts.slowAttemptMs);
      this.lanes.set(endpoint.id, lane);
    } else if (!refreshed.has(endpoint.id)) {
      // As read, moved on by results not handed to a write yet (they cannot be in what was read).
      lane.refresh({ ...endpoint, health: this.withUnwritten(endpoint.id, endpoint.health) }, now);
    }
    refreshed.add(endpoint.id);
    return lane;
  }

  private timeoutFor(endpoint: DispatchEndpoint): number {
    return Math.min(endpoint.timeoutMs ?? this.attemptTimeoutMs, this.attemptTimeoutMs);
  }

  private async attempt(lane: Lane, { delivery, endpoint, event, body }: ReadyDelivery): Promise<void> {
    const { clock, transport } = this.opts;
    const profile = getProfile(endpoint.profile);
    const startedAt = clock.now();
    const attemptNumber = delivery.attemptCount + 1;
    try {
      const request = buildAttemptRequest({ profile, endpoint, event, delivery, body, now: startedAt });
      const res = await transport.send({ url: endpoint.url, headers: request.headers, body: request.body, timeoutMs: this.timeoutFor(endpoint) });
      const finishedAt = clock.now();
      lane.finished(delivery.id, res.durationMs, finishedAt, outcomeOf(res));
      const ok = res.errorKind === null;
      if (res.errorKind === 'blocked') this.explainBlocked(lane, delivery, res.errorMessage, finishedAt);
      const decision = decideAfterAttempt(
        profile.retryPolicy,
        { attemptNumber, throttledCount: delivery.throttledCount, attemptLimit: delivery.attemptLimit },
        { ok, statusCode: res.statusCode, errorKind: res.errorKind, retryAfterMs: parseRetryAfter(res.retryAfter, finishedAt) },
        finishedAt,
        this.random,
      );
      // The lane's view of its endpoint moves with each result, as the store's will when the batch
      // is written: the breaker opens after `breakerThreshold` failures, not after as many as the
      // endpoint's slots fit in before the batch commits (10 ms and a write later). The store's
      // answer then replaces this view.
      if (decision.signal.kind !== 'ok' || !successChangesNothing(lane.health)) {
        lane.health = applySignals(lane.health, [{ at: startedAt, signal: decision.signal }], this.healthHooks.policy, finishedAt).state;
      }
      this.enqueueCompletion({
        deliveryId: delivery.id,
        status: decision.status,
        attemptNumber,
        nextAttemptAt: decision.nextAttemptAt,
        throttledCount: delivery.throttledCount + (decision.signal.kind === 'throttled' ? 1 : 0),
        signal: decision.signal,
        ordered: delivery.ordered,
        attempt: {
          id: newId('atm', startedAt),
          deliveryId: delivery.id,
          tenantId: delivery.tenantId,
          endpointId: delivery.endpointId,
          attemptNumber,
          startedAt,
          durationMs: res.durationMs,
          url: endpoint.url,
          requestHeaders: request.loggedHeaders,
          responseStatus: res.statusCode,
          responseBody: res.body,
          errorKind: res.errorKind,
          errorMessage: res.errorMessage,
        },
      });
    } catch (err) {
      lane.finished(delivery.id, 0, clock.now());
      // A bug, not a receiver failure: leave the lease to expire so the delivery is retried.
      this.opts.logger.error({ err, deliveryId: delivery.id }, 'attempt failed unexpectedly');
    }
  }

  /**
   * The API vets a URL when it is saved, the worker again at every connect, each under its own
   * process's settings: a worker stricter than the API (or a name that now resolves privately)
   * blocks deliveries the API accepted. Say why, at most once a minute per endpoint.
   */
  private explainBlocked(lane: Lane, delivery: ClaimedDelivery, reason: string | null, now: number): void {
    if (now - lane.blockedLoggedAt < 60_000) return;
    lane.blockedLoggedAt = now;
    this.opts.logger.warn(
      { tenantId: delivery.tenantId, endpointId: delivery.endpointId, deliveryId: delivery.id, reason },
      'delivery blocked: the target is a private or special address, refused by this worker (HERALD_ALLOW_PRIVATE_NETWORKS, HERALD_ALLOW_CIDRS); not retried',
    );
  }

  /**
   * Results are written in batches of up to `batchSize`, or `completionDelayMs` after the first
   * one waiting: the receiver has its webhook already, and a transaction's cost is mostly the pages
   * it writes, so ~100 results per commit cost ~40% less per delivery than ~12 (bench/store.mjs).
   * A FIFO endpoint's result goes at once: its next delivery waits for it.
   */
  private enqueueCompletion(c: Completion): void {
    this.pending.push(c);
    if (c.signal.kind !== 'ok') this.pendingTroubles++;
    // While the database is unavailable results wait here; the outage's end writes them.
    if (!this.opts.store.availability.isUp) return;
    if (this.pending.length >= this.batchSize || c.ordered) {
      void this.flush();
    } else if (!this.flushTimer) {
      this.flushTimer = setTimeout(() => void this.flush(), this.completionDelayMs);
    }
  }

  /**
   * `health` as the store returned it, moved on by this endpoint's results still waiting to be
   * written. Not those being written: whether the store's answer has them is not known here, and
   * counting a failure twice could hold a healthy endpoint back for a whole cool-down, where
   * missing one only lets one more attempt through.
   */
  private withUnwritten(endpointId: string, health: EndpointHealthState): EndpointHealthState {
    if (this.pendingTroubles === 0 && successChangesNothing(health)) return health;
    const later = this.pending.filter((c) => c.attempt.endpointId === endpointId).map((c) => ({ at: c.attempt.startedAt, signal: c.signal }));
    return later.length === 0 ? health : applySignals(health, later, this.healthHooks.policy, this.opts.clock.now()).state;
  }

  /** Writes buffered completions; one write at a time, so batches grow while the previous one commits. */
  private flush(): Promise<void> {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    // One write waiting behind the current one takes everything pending when it starts.
    if (this.flushQueued) return this.flushQueued;
    this.flushQueued = this.flushing = this.flushing.then(async () => {
      this.flushQueued = null;
      const batch = this.pending;
      if (batch.length === 0 || !this.opts.store.availability.isUp) return;
      this.pending = [];
      this.pendingTroubles = 0;
      let written = false;
      try {
        const result = await this.opts.store.queue.complete(this.id, batch, this.healthHooks, this.opts.clock.now());
        written = true;
        // A finished delivery to a FIFO endpoint makes the next one due: claim it now, not at the next poll.
        if (batch.some((c) => this.lanes.get(c.attempt.endpointId)?.endpoint.fifo)) this.nudge();
        let opened = false;
        for (const [id, health] of result.health) {
          const lane = this.lanes.get(id);
          // The store has this batch; results that finished since are not written yet, and the
          // lane's view already counts them: without them a stale answer would close a breaker
          // the lane had just opened.
          if (lane) lane.health = this.withUnwritten(id, health);
          opened ||= health.breakerState === 'open';
        }
        // A breaker that just opened leaves its endpoint's backlog due at the front of the queue:
        // claim now, which moves it out of other endpoints' way, rather than when they next publish.
        if (opened) this.nudge();
        // The endpoint.disabled operational events just committed are due now.
        if (result.disabled.length > 0) this.nudge();
        for (const d of result.disabled) {
          this.opts.logger.warn({ endpointId: d.id, tenantId: d.tenantId, reason: d.reason }, 'endpoint disabled');
          const lane = this.lanes.get(d.id);
          const parked = lane ? lane.queue.splice(0).map((r) => r.delivery.id) : [];
          await this.opts.store.queue.release(this.id, parked, 'park', this.opts.clock.now());
        }
      } catch (err) {
        // Database unavailable (even mid-COMMIT: writing a batch twice changes nothing): keep the
        // results for when it is back. Otherwise the leases will expire and the deliveries be
        // attempted again: at-least-once, never lost.
        if (!written && isUnavailable(err)) this.hold(batch);
        else this.storeFailed(err, `writing ${batch.length} delivery results failed`);
      }
      this.checkIdle();
    });
    return this.flushing;
  }

  /** Puts an unwritten batch back in front of the results that came after it, within MAX_HELD_RESULTS. */
  private hold(batch: Completion[]): void {
    let all = batch.concat(this.pending);
    if (all.length > MAX_HELD_RESULTS) {
      this.opts.logger.warn({ dropped: all.length - MAX_HELD_RESULTS }, 'too many delivery results held during the database outage: the oldest are left to their leases');
      all = all.slice(all.length - MAX_HELD_RESULTS);
    }
    this.pending = all;
    this.pendingTroubles = all.filter((c) => c.signal.kind !== 'ok').length;
    // Normally the outage's end writes them; if the store already sees the database back (this
    // call began before it was), try again shortly instead.
    if (this.opts.store.availability.isUp && !this.flushTimer) this.flushTimer = setTimeout(() => void this.flush(), 250);
  }

  private checkIdle(): void {
    if (this.inflight === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  /** Resolves once no attempt is in flight and every result is written (at once, not when the batch is due). */
  private async drained(): Promise<void> {
    if (this.inflight > 0) {
      await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    }
    await this.flush();
  }
}

/**
 * What an attempt says about its endpoint's capacity: it answered in time, it held its slot until
 * the deadline (no answer, or a body still trickling in), or neither (refused, DNS, blocked).
 */
function outcomeOf(res: OutboundResponse): AttemptOutcome {
  if (res.errorKind === 'timeout' || res.cutOff) return 'timeout';
  return res.statusCode !== null ? 'answered' : 'other';
}

/** The event's body as `profile` sends it, serialised once per event and profile (`bodies` keeps them). */
function envelopeOnce(bodies: Map<string, string>, event: WebhookEvent, profile: string): string {
  const key = `${event.id}\u0000${profile}`;
  let body = bodies.get(key);
  if (body === undefined) {
    body = getProfile(profile).serializeEnvelope(event);
    bodies.set(key, body);
  }
  return body;
}
