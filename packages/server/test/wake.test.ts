import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { dueChannel } from '../src/store/wake.js';
import { closedAfterEach, createEndpoint, createTenant, publish, storeUrlFor, TEST_STORE } from './helpers.js';
import { PG_URL } from './pg-setup.js';

// Workers in other processes learn of new due deliveries by NOTIFY (PostgreSQL), on a channel of
// their installation's own. Their poll is set to a minute here, so only a wake-up explains a
// delivery within seconds. On SQLite one process does everything and nudges its own worker.

const { open, herald, receiver } = closedAfterEach();
const POLL_MS = 60_000;

const withPg = async <T>(fn: (c: pg.Client) => Promise<T>): Promise<T> => {
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
};

/** A store (schema) shared by several Heralds: removed after the test, once they are all closed. */
function sharedStore(): { dir: string; schema: string } {
  const dir = mkdtempSync(join(tmpdir(), 'herald-wake-'));
  const schema = new URL(storeUrlFor(dir)).searchParams.get('schema')!;
  // Closed last: the list is closed last-opened first.
  open.push({
    close: async () => {
      rmSync(dir, { recursive: true, force: true });
      await withPg((c) => c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`));
    },
  });
  return { dir, schema };
}

const listeningWorker = (dir: string) => herald({ dir, startWorker: true, worker: { pollIntervalMs: POLL_MS } });

describe.runIf(TEST_STORE === 'postgres')('waking workers in other processes', () => {
  it('retry, resend and re-enable wake an idle worker of another process at once, as publish does', async () => {
    const { dir } = sharedStore();
    const api = await herald({ dir });
    await createTenant(api);
    const r = await receiver();
    const replayed = await createEndpoint(api, 'acme', { url: `${r.url}/retry`, event_types: ['retry'] });
    const paused = await createEndpoint(api, 'acme', { url: `${r.url}/enable`, event_types: ['enable'] });
    const later = await createEndpoint(api, 'acme', { url: `${r.url}/resend`, event_types: ['nothing'] });
    // A delivery that failed for good, one parked on a disabled endpoint, an event nobody got.
    await publish(api, 'acme', { type: 'retry', data: {} });
    await api.herald.store.db.updateTable('deliveries').set({ status: 'failed', next_attempt_at: null, attempt_count: 1 }).where('endpoint_id', '=', replayed.id).execute();
    await publish(api, 'acme', { type: 'enable', data: {} });
    await api.call('PATCH', `/v1/tenants/acme/endpoints/${paused.id}`, { status: 'disabled' });
    const unsent = await publish(api, 'acme', { type: 'resend', data: {} });

    const worker = await listeningWorker(dir);
    // Each action below is taken once the worker has found nothing due and gone to its long wait.
    const asleep = async () => {
      const emptyClaimAt = () => (worker.herald.worker as unknown as { lastEmptyClaim: number }).lastEmptyClaim;
      for (let i = 0, seen = -1; i < 100; i++, await new Promise((resolve) => setTimeout(resolve, 300))) {
        if (emptyClaimAt() > 0 && emptyClaimAt() === seen) return;
        seen = emptyClaimAt();
      }
      throw new Error('the worker never went idle');
    };
    const arrives = async (n: number, path: string) => {
      const requests = await r.waitFor(n, 10_000);
      expect(requests[n - 1]!.url).toBe(path);
    };

    await asleep();
    expect(r.requests).toHaveLength(0);
    const [delivery] = (await api.call('GET', `/v1/tenants/acme/deliveries?endpoint_id=${replayed.id}`)).body.data;
    expect((await api.call('POST', `/v1/tenants/acme/deliveries/${delivery.id}/retry`, {})).status).toBe(202);
    await arrives(1, '/retry');
    await asleep();
    expect((await api.call('PATCH', `/v1/tenants/acme/endpoints/${paused.id}`, { status: 'enabled' })).status).toBe(200);
    await arrives(2, '/enable');
    await asleep();
    expect((await api.call('POST', `/v1/tenants/acme/events/${unsent.id}/resend`, { endpoint_id: later.id })).status).toBe(202);
    await arrives(3, '/resend');
    expect(worker.herald.worker.isRunning).toBe(true);
  }, 60_000);

  it('two installations (schemas) in one database do not wake each other', async () => {
    const a = sharedStore();
    const b = sharedStore();
    expect(dueChannel(a.schema)).not.toBe(dueChannel(b.schema));
    expect(dueChannel('x'.repeat(63)).length).toBeLessThanOrEqual(63);
    const publisher = await herald({ dir: a.dir });
    await createTenant(publisher);
    await createEndpoint(publisher, 'acme', { url: 'https://hooks.example.com/x' });
    const other = await listeningWorker(b.dir);
    let woken = 0;
    const nudge = other.herald.worker.nudge.bind(other.herald.worker);
    other.herald.worker.nudge = () => {
      woken++;
      nudge();
    };
    // A listener on each installation's channel sees only its own installation's wake-ups.
    const heard: string[] = [];
    const listener = new pg.Client({ connectionString: PG_URL });
    await listener.connect();
    open.push({ close: () => listener.end() });
    listener.on('notification', (n) => heard.push(n.channel));
    await listener.query(`LISTEN "${dueChannel(a.schema)}"`);
    await listener.query(`LISTEN "${dueChannel(b.schema)}"`);
    for (let i = 0; i < 3; i++) await publish(publisher, 'acme', { type: 'ping', data: { i } });
    const deadline = Date.now() + 5_000;
    while (heard.length < 3 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(heard).toEqual(Array(3).fill(dueChannel(a.schema)));
    expect(woken).toBe(0);
  }, 60_000);
});
