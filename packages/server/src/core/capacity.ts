/**
 * How one worker process shares its attempts in flight between endpoints and tenants. Pure logic
 * over counts and times (the caller passes `now`); the worker holds one book.
 *
 * In Node an attempt that waits for a receiver costs a socket and some memory, not a thread, so
 * "slots" are two budgets:
 * - **active** (`HERALD_WORKER_CONCURRENCY`): attempts to endpoints proven fast, for their first
 *   `slowMs`. An attempt still open after that stops counting here and moves to the waiting budget.
 * - **waiting** (`HERALD_WORKER_MAX_WAITING`): attempts to endpoints not proven fast (new to this
 *   process, slow, timing out) and the ones moved over. It bounds sockets and memory: an attempt
 *   that finds it full stays queued and opens nothing.
 * Each budget is shared between tenants: the active one max-min fairly among the tenants that
 * want it (work-conserving: a tenant alone may use all of it), the waiting one in equal shares of
 * three quarters, the last quarter kept for the first waiting attempt of tenants with none yet.
 */

export type Budget = 'active' | 'waiting';

export interface CapacityLimits {
  /** Active budget: attempts to fast endpoints counted as work at once. */
  active: number;
  /** Waiting budget: attempts to other endpoints, and those that outgrew `slowMs`, at once. */
  waiting: number;
  /** An attempt open this long no longer counts as active work (ms). */
  slowMs: number;
}

/** Share of the waiting budget kept free for tenants with nothing in it yet. */
const WAITING_HEADROOM = 0.25;

interface Open {
  tenant: string;
  budget: Budget;
  startedAt: number;
}

/** Per-tenant shares for one dispatch round (see CapacityBook.shares). */
export interface Shares {
  active: number;
  waiting: number;
}

export class CapacityBook {
  /** Open attempts by id; active ones in start order (times only grow), so aging stops at the first young one. */
  private readonly active = new Map<string, Open>();
  private readonly waiting = new Map<string, Open>();
  private readonly perTenant: Record<Budget, Map<string, number>> = { active: new Map(), waiting: new Map() };

  constructor(readonly limits: CapacityLimits) {}

  get open(): number {
    return this.active.size + this.waiting.size;
  }

  count(budget: Budget, tenant?: string): number {
    if (tenant === undefined) return this[budget].size;
    return this.perTenant[budget].get(tenant) ?? 0;
  }

  /** Room left in a budget, whatever the tenant (the hard limits only). */
  free(budget: Budget): number {
    const { active, waiting } = this.limits;
    if (budget === 'waiting') return Math.max(0, waiting - this.waiting.size);
    // Attempts moved over from the active budget may overfill the waiting one; the total stays bounded.
    return Math.max(0, Math.min(active - this.active.size, active + waiting - this.open));
  }

  /**
   * Each tenant's share of each budget for a round of starts, given the tenants with deliveries
   * ready for it. Tenants holding attempts in a budget count as wanting it.
   */
  shares(ready: { active: Iterable<string>; waiting: Iterable<string> }): Shares {
    const wanting = (budget: Budget, more: Iterable<string>) => {
      const tenants = new Set(this.perTenant[budget].keys());
      for (const t of more) tenants.add(t);
      return Math.max(1, tenants.size);
    };
    const { active, waiting } = this.limits;
    return {
      active: Math.ceil(active / wanting('active', ready.active)),
      waiting: Math.max(1, Math.floor((waiting * (1 - WAITING_HEADROOM)) / wanting('waiting', ready.waiting))),
    };
  }

  /** Whether `tenant` may open one more attempt in `budget` now. */
  canStart(tenant: string, budget: Budget, shares: Shares): boolean {
    if (this.free(budget) <= 0) return false;
    const held = this.count(budget, tenant);
    if (budget === 'active') return held < shares.active;
    // The headroom is only for a tenant's first waiting attempt: tenants already holding some fill
    // the rest, so a newcomer (or an endpoint that just turned slow) never waits for a timeout.
    return held === 0 || (held < shares.waiting && this.waiting.size < this.limits.waiting * (1 - WAITING_HEADROOM));
  }

  start(id: string, tenant: string, budget: Budget, now: number): void {
    this[budget].set(id, { tenant, budget, startedAt: now });
    this.bump(budget, tenant, 1);
  }

  finish(id: string): void {
    const open = this.active.get(id) ?? this.waiting.get(id);
    if (!open) return;
    this[open.budget].delete(id);
    this.bump(open.budget, open.tenant, -1);
  }

  /** Moves active attempts open `slowMs` or longer to the waiting budget; returns how many moved. */
  age(now: number): number {
    let moved = 0;
    for (const [id, open] of this.active) {
      if (now - open.startedAt < this.limits.slowMs) break;
      this.active.delete(id);
      this.bump('active', open.tenant, -1);
      open.budget = 'waiting';
      this.waiting.set(id, open);
      this.bump('waiting', open.tenant, 1);
      moved++;
    }
    return moved;
  }

  /** When the oldest active attempt turns slow, or null if none is active. */
  nextAgeAt(): number | null {
    for (const open of this.active.values()) return open.startedAt + this.limits.slowMs;
    return null;
  }

  private bump(budget: Budget, tenant: string, by: number): void {
    const map = this.perTenant[budget];
    const n = (map.get(tenant) ?? 0) + by;
    if (n > 0) map.set(tenant, n);
    else map.delete(tenant);
  }
}

/**
 * An endpoint's attempts in flight allowed now, between 1 and its cap (AIMD): an attempt that
 * timed out halves it, one the receiver answered (any status) adds one. An endpoint that keeps
 * hanging ends up holding one socket, not ten, and earns the rest back once it answers.
 */
export function nextInFlightLimit(limit: number, cap: number, outcome: 'answered' | 'timeout' | 'other'): number {
  if (outcome === 'timeout') return Math.max(1, Math.floor(Math.min(limit, cap) / 2));
  if (outcome === 'answered') return Math.min(cap, limit + 1);
  return Math.min(limit, cap);
}
