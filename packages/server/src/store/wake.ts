import { createHash } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import pg from 'pg';
import type { Logger } from 'pino';
import type { Database } from './schema.js';

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

/**
 * Listens for due-delivery notifications on a dedicated connection (LISTEN cannot go through a
 * transaction-mode pooler such as PgBouncer; everything else can). A lost connection is re-opened
 * with capped, jittered backoff; meanwhile workers still poll, so notifications are only a latency hint.
 */
export class DueListener {
  private client: pg.Client | null = null;
  private stopped = false;
  private retryTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly connectionString: string, private readonly schemaOption: string, private readonly onWake: () => void, private readonly logger: Logger,
    private readonly channel: string,
  ) {}

  async start(): Promise<void> {
    await this.connect(0);
  }

  private async connect(failures: number): Promise<void> {
    if (this.stopped) return;
    const client = new pg.Client({ connectionString: this.connectionString, options: this.schemaOption });
    client.on('notification', () => this.onWake());
    client.on('error', (err) => this.logger.warn({ err }, 'notification listener connection failed'));
    client.on('end', () => {
      if (this.stopped || this.client !== client) return;
      this.client = null;
      this.scheduleReconnect(failures + 1);
    });
    try {
      await client.connect();
      await client.query(`LISTEN "${this.channel}"`);
      this.client = client;
      // Anything published while we were not listening is due now.
      if (failures > 0) this.onWake();
    } catch (err) {
      this.logger.warn({ err }, 'could not start the notification listener; polling meanwhile');
      await client.end().catch(() => {});
      this.scheduleReconnect(failures + 1);
    }
  }

  private scheduleReconnect(failures: number): void {
    if (this.stopped) return;
    const delay = Math.min(30_000, 250 * 2 ** Math.min(failures, 7)) * (0.8 + Math.random() * 0.4);
    this.retryTimer = setTimeout(() => void this.connect(failures), delay);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    const client = this.client;
    this.client = null;
    await client?.end().catch(() => {});
  }
}
