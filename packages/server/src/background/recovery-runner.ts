import type { Logger } from 'pino';
import type { Clock } from '../core/clock.js';
import { isUnavailable, type Store } from '../store/index.js';

export interface RecoveryRunnerOptions {
  store: Store;
  clock: Clock;
  logger: Logger;
  owner: string;
  /** Called after deliveries were re-queued (wakes this process's delivery worker). */
  onRequeued: () => void;
  batchSize?: number;
  pollIntervalMs?: number;
  leaseMs?: number;
}

/** Runs recovery jobs in the background, one batch per transaction, in any worker process. */
export class RecoveryRunner {
  private running = false;
  private stopping = false;
  private done: Promise<void> = Promise.resolve();
  private wake: (() => void) | null = null;
  private readonly batchSize: number;
  private readonly pollIntervalMs: number;
  private readonly leaseMs: number;

  constructor(private readonly opts: RecoveryRunnerOptions) {
    this.batchSize = opts.batchSize ?? 500;
    this.pollIntervalMs = opts.pollIntervalMs ?? 2000;
    this.leaseMs = opts.leaseMs ?? 60_000;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.done = this.loop();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.stopping = true;
    this.nudge();
    await this.done;
  }

  /** A job was queued: look now rather than at the next poll. */
  nudge(): void {
    this.wake?.();
  }

  /** Runs every queued job to the end (tests and tooling). Returns the number of jobs finished. */
  async runOnce(): Promise<number> {
    let finished = 0;
    while (await this.runOne()) finished++;
    return finished;
  }

  private async loop(): Promise<void> {
    while (this.running) {
      let worked = false;
      try {
        worked = await this.runOne();
      } catch (err) {
        // An unavailable database is logged once by the store; this poll simply tries again.
        if (!isUnavailable(err)) this.opts.logger.error({ err }, 'recovery job failed; it will be picked up again when its lease lapses');
      }
      if (!worked && this.running) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, this.pollIntervalMs);
          this.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.wake = null;
      }
    }
  }

  /** Claims one job and works it to the end; false when there was none. */
  private async runOne(): Promise<boolean> {
    const { store, clock, owner } = this.opts;
    let job = await store.recoveries.claim(owner, clock.now(), clock.now() + this.leaseMs);
    if (!job) return false;
    for (;;) {
      const now = clock.now();
      const step = await store.recoveries.step(job, owner, this.batchSize, now, now + this.leaseMs);
      if (step.requeued > 0) this.opts.onRequeued();
      if (step.done) break;
      job = (await store.recoveries.get(job.tenantId, job.id)) ?? job;
      // Stopping mid-job: the lease lapses and another process (or this one, restarted) goes on from where it stood.
      if (this.stopping) return true;
    }
    this.opts.logger.info({ recoveryId: job.id, endpointId: job.endpointId }, 'recovery finished');
    return true;
  }
}
