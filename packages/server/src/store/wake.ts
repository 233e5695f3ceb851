import pg from 'pg';
import type { Logger } from 'pino';

/** The PostgreSQL channel on which new due deliveries are announced (sent in the publishing transaction). */
export const DUE_CHANNEL = 'herald_due';

/**
 * Listens for due-delivery notifications on a dedicated connection (LISTEN cannot go through a
 * transaction-mode pooler such as PgBouncer; everything else can). A lost connection is re-opened
 * with capped, jittered backoff; meanwhile workers still poll, so notifications are only a latency hint.
 */
export class DueListener {
  private client: pg.Client | null = null;
  private stopped = false;
  private retryTimer: NodeJS.Timeout | null = null;

  constructor(private readonly connectionString: string, private readonly schemaOption: string, private readonly onWake: () => void, private readonly logger: Logger) {}

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
      await client.query(`LISTEN ${DUE_CHANNEL}`);
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
