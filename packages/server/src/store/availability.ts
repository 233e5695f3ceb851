import type { Logger } from 'pino';
import { describeUnavailable, isUnavailable } from './unavailable.js';


/** Where the store reports problems it rides through; none = silent. */
export type StoreLogger = Pick<Logger, 'info' | 'warn' | 'error'>;
/** First probe this soon after an outage is noticed; then twice as long each time, up to the cap. */
export const PROBE_FIRST_MS = 100;
/** Longest wait between probes during an outage: how late, at worst, a process sees the database back (a connection attempt: cheap). */
export const PROBE_MAX_MS = 500;

export interface Outage {
  /** Epoch ms when this process noticed it. */
  since: number;
  reason: string;
}

/**
 * Whether this process can use its database right now. Any database error that `isUnavailable`
 * recognises starts an outage: it is logged once, at warn, and from then on a probe (the dialect's
 * cheapest proof of health) runs with capped, jittered backoff until it succeeds; then one line
 * says the database is back and listeners (the worker, the notification listener) resume.
 * Requests are not refused on this state: each still tries the database, so one that can be
 * served (a read on SQLite with a full disk) is.
 */
export class Availability {
  private outage: Outage | null = null;
  private timer: NodeJS.Timeout | null = null;
  private failures = 0;
  private closed = false;
  /** When the last outage ended (epoch ms). */
  private backAt = 0;
  private readonly listeners = new Set<() => void>();

  constructor(private readonly probe: () => Promise<void>, private logger?: StoreLogger, private readonly random: () => number = Math.random) {}

  /** Where the outage and recovery lines go (the store is opened before the logger is known in some callers). */
  setLogger(logger: StoreLogger): void {
    this.logger = logger;
  }

  get isUp(): boolean {
    return this.outage === null;
  }

  /** The outage in progress, if any. */
  get current(): Outage | null {
    return this.outage;
  }

  /**
   * Looks at a failed database call; returns true (and begins an outage, if none) when it means
   * the store is unavailable. `startedAt` (epoch ms) is when the call began: a call that began
   * before the database came back failed in the outage already logged, not in a new one.
   */
  readonly report = (err: unknown, startedAt?: number): boolean => {
    if (!isUnavailable(err)) return false;
    if (this.outage || this.closed || (startedAt !== undefined && startedAt < this.backAt)) return true;
    this.outage = { since: Date.now(), reason: describeUnavailable(err) };
    this.failures = 0;
    this.logger?.warn({ reason: this.outage.reason }, 'database unavailable: writes and reads that need it answer 503, the worker pauses; probing until it is back');
    this.schedule();
    return true;
  };

  /** Calls `fn` each time the database comes back; returns the unsubscribe function. */
  onUp(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.listeners.clear();
  }

  private schedule(): void {
    const delay = Math.min(PROBE_MAX_MS, PROBE_FIRST_MS * 2 ** this.failures) * (0.8 + this.random() * 0.4);
    this.timer = setTimeout(() => void this.tryProbe(), delay);
    this.timer.unref();
  }

  private async tryProbe(): Promise<void> {
    this.timer = null;
    if (this.closed || !this.outage) return;
    try {
      await this.probe();
    } catch {
      this.failures++;
      if (!this.closed) this.schedule();
      return;
    }
    this.backAt = Date.now();
    const downMs = this.backAt - this.outage.since;
    this.outage = null;
    this.logger?.info({ downMs }, `database available again after ${(downMs / 1000).toFixed(1)} s`);
    for (const fn of [...this.listeners]) {
      try {
        fn();
      } catch (err) {
        this.logger?.error({ err }, 'resuming after the database outage failed');
      }
    }
  }
}
