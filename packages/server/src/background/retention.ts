import type { Logger } from 'pino';
import type { Clock } from '../core/clock.js';
import { isUnavailable, type Store } from '../store/index.js';

const DAY = 24 * 3600 * 1000;

/** Deletes what is older than the retention period, shortly after start and then periodically. */
export class RetentionPruner {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> = Promise.resolve();

  constructor(private readonly store: Store, private readonly clock: Clock, private readonly logger: Logger, private readonly retentionDays: number, private readonly intervalMs = 10 * 60_000) {}

  start(): void {
    if (this.retentionDays <= 0 || this.timer) return;
    const tick = () => {
      if (!this.timer) return;
      this.running = this.pruneNow().then(() => undefined, (err: unknown) => {
        // An unavailable database is logged once by the store; the next round tries again.
        if (!isUnavailable(err)) this.logger.error({ err }, 'pruning old events failed');
      });
    };
    this.timer = setInterval(tick, this.intervalMs);
    this.timer.unref();
    setTimeout(tick, 5_000).unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }

  /** One pass: returns the number of events deleted. */
  async pruneNow(): Promise<number> {
    if (this.retentionDays <= 0) return 0; // keep forever
    const pruned = await this.store.pruneBefore(this.clock.now() - this.retentionDays * DAY);
    if (pruned > 0) this.logger.info({ pruned, retentionDays: this.retentionDays }, 'pruned old events');
    return pruned;
  }
}
