import { CapacityBook, type Budget, type CapacityLimits, type Shares } from '../core/capacity.js';
import type { Clock } from '../core/clock.js';
import type { Lane } from './lane.js';

/**
 * The worker's capacity book (core/capacity.ts) on the clock: moves attempts that outgrew
 * `slowMs` from the active budget to the waiting one when they do, and calls `onFreed` so that
 * the active slots they held are used at once rather than at the next finished attempt.
 */
export class Slots {
  readonly book: CapacityBook;
  private timer: NodeJS.Timeout | null = null;

  constructor(limits: CapacityLimits, private readonly clock: Clock, private readonly onFreed: () => void) {
    this.book = new CapacityBook(limits);
  }

  get anyFree(): boolean {
    return this.book.free('active') > 0 || this.book.free('waiting') > 0;
  }

  /** Brings the book up to `now` and returns this round's per-tenant shares for these lanes. */
  round(lanes: Iterable<Lane>, now: number): Shares {
    this.book.age(now);
    const ready: Record<Budget, Set<string>> = { active: new Set(), waiting: new Set() };
    for (const lane of lanes) {
      if (lane.queue.length > 0 && lane.inflight.size < lane.allowed) ready[lane.budget(now)].add(lane.endpoint.tenantId);
    }
    return this.book.shares(ready);
  }

  start(id: string, tenant: string, budget: Budget, now: number): void {
    this.book.start(id, tenant, budget, now);
    if (budget === 'active') this.schedule();
  }

  finish(id: string): void {
    this.book.finish(id);
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private schedule(): void {
    if (this.timer) return;
    const at = this.book.nextAgeAt();
    if (at === null) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.book.age(this.clock.now()) > 0) this.onFreed();
      this.schedule();
    }, Math.max(1, at - this.clock.now()));
    this.timer.unref();
  }
}
