import { createHash } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import pg from 'pg';
import type { Logger } from 'pino';
import type { Database } from './schema.js';
import type { Availability } from './availability.js';
import type { ListenConnection } from './connect.js';

/**
 * The PostgreSQL channel on which an installation's due deliveries are announced. One per schema:
 * NOTIFY reaches every session of the database, so installations sharing one would wake each
 * other. Channel names are identifiers (at most 63 bytes): a long schema name is hashed.
 */
export function dueChannel(schema: string): string {
  const name = `herald_due_${schema}`;
  return name.length <= 63 ? name : `herald_due_${createHash('sha256').update(schema).digest('hex').slice(0, 40)}`;
}

/**
 * Wakes idle workers of this installation in other processes: sent inside the caller's
 * transaction, so it is delivered only if that commits. No channel (SQLite, one process): nothing.
 */
export async function notifyDue(db: Kysely<Database>, channel: string | undefined): Promise<void> {
  if (channel) await sql`SELECT pg_notify(${channel}, '')`.execute(db);
}

/** Reconnection backoff: 250 ms doubling up to this, ±20%. Kept short: polling covers the gap, but at a poll's latency. */
const RECONNECT_MAX_MS = 5_000;

/**
 * Listens for due-delivery notifications on a dedicated connection (LISTEN cannot go through a
 * transaction-mode pooler such as PgBouncer; everything else can). A lost connection is re-opened
 * with capped, jittered backoff, and at once when the store sees the database back; meanwhile
 * workers still poll, so notifications are only a latency hint. Once listening again it wakes the
 * worker (`onWake`), since what was published in between was announced to nobody.
 */
export class DueListener {
  private client: pg.Client | null = null;
  private stopped = false;
  private retryTimer: NodeJS.Timeout | null = null;
  /** Failed attempts since the connection was last up. */
  private failures = 0;
  private unsubscribe: (() => void) | null = null;

  constructor(
    private readonly connection: ListenConnection,
    private readonly onWake: () => void,
    private readonly logger: Logger,
    private readonly availability?: Availability,
  ) {}

  async start(): Promise<void> {
    // The store's probe sees the database back within a second: do not sit out a backoff then.
    this.unsubscribe = this.availability?.onUp(() => this.reconnectNow()) ?? null;
    await this.connect();
  }

  /** Whether the LISTEN connection is up (tests, diagnostics). */
  get isListening(): boolean {
    return this.client !== null;
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    const client = new pg.Client(this.connection);
    client.on('notification', () => this.onWake());
    client.on('error', (err) => {
      // The store logs the outage once; this connection's own errors are detail.
      this.availability?.report(err);
      this.logger.debug({ err }, 'notification listener connection failed');
    });
    client.on('end', () => {
      if (this.stopped || this.client !== client) return;
      this.client = null;
      this.scheduleReconnect();
    });
    try {
      await client.connect();
      await client.query(`LISTEN "${this.connection.channel}"`);
      if (this.stopped) {
        await client.end().catch(() => {});
        return;
      }
      this.client = client;
      if (this.failures > 0) {
        this.logger.info({ failedAttempts: this.failures }, 'listening for due deliveries again');
        // Anything published while we were not listening is due now.
        this.onWake();
      }
      this.failures = 0;
    } catch (err) {
      if (!this.availability?.report(err)) this.logger.warn({ err }, 'could not start the notification listener; polling meanwhile');
      await client.end().catch(() => {});
      this.scheduleReconnect();
    }
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.retryTimer) return;
    this.failures++;
    const delay = Math.min(RECONNECT_MAX_MS, 250 * 2 ** Math.min(this.failures, 5)) * (0.8 + Math.random() * 0.4);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      void this.connect();
    }, delay);
  }

  private reconnectNow(): void {
    if (this.stopped || !this.retryTimer) return;
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    void this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    const client = this.client;
    this.client = null;
    await client?.end().catch(() => {});
  }
}
