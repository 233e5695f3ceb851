import { sql } from 'kysely';
import pg from 'pg';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../src/core/clock.js';
import { closedAfterEach, createEndpoint, createTenant, publish, TEST_STORE } from './helpers.js';
import { adminCall, pgDatabase, serve } from './processes.js';

// State that must end up right whatever the order of events: a deleted tenant's deliveries,
// uniqueness rules under concurrent requests, and start-up work that fails.

const { herald, receiver } = closedAfterEach();
const DAY = 24 * 3600 * 1000;

describe('deleting a tenant', () => {
  it('finishes every unfinished delivery (parked, FIFO-waiting, retrying), so retention prunes them', async () => {
    const clock = new ManualClock();
    const t = await herald({ clock, config: { retentionDays: 1 } });
    await createTenant(t);
    const r = await receiver(500);
    // Parked: their endpoint was disabled with deliveries waiting.
    const parked = await createEndpoint(t, 'acme', { url: `${r.url}/parked`, event_types: ['parked'] });
    for (let i = 0; i < 2; i++) await publish(t, 'acme', { type: 'parked', data: { i } });
    await t.call('PATCH', `/v1/tenants/acme/endpoints/${parked.id}`, { status: 'disabled' });
    // Ordered: the head fails and retries; the rest wait, unscheduled, behind it.
    await createEndpoint(t, 'acme', { url: `${r.url}/fifo`, event_types: ['ordered'], fifo: true });
    for (let i = 0; i < 3; i++) await publish(t, 'acme', { type: 'ordered', data: { i } });
    await t.herald.worker.runOnce();
    const statuses = async () => (await t.herald.store.db.selectFrom('deliveries').select(['status', 'next_attempt_at']).execute()).map((d) => d.status).sort();
    expect(await statuses()).toEqual(['pending', 'pending', 'pending', 'pending', 'retrying']);

    expect((await t.call('DELETE', '/v1/tenants/acme')).status).toBe(204);
    expect(await statuses()).toEqual(['failed', 'failed', 'failed', 'failed', 'failed']);
    clock.advance(2 * DAY);
    expect(await t.herald.store.pruneBefore(clock.now() - DAY)).toBe(5);
    expect(await t.herald.store.db.selectFrom('deliveries').select('id').execute()).toEqual([]);
  });
});

describe('uniqueness under concurrent requests', () => {
  it('the same tenant or event type created by many requests at once: one 201, the others 409, never 500', async () => {
    const t = await herald();
    const tenants = await Promise.all(Array.from({ length: 25 }, () => t.call('POST', '/v1/tenants', { id: 'race', name: 'Race' })));
    expect(tenants.map((res) => res.status).sort()).toEqual([201, ...Array(24).fill(409)]);
    expect(tenants.find((res) => res.status === 409)!.body.error.code).toBe('conflict');
    const types = await Promise.all(Array.from({ length: 25 }, () => t.call('POST', '/v1/tenants/race/event-types', { name: 'order.placed' })));
    expect(types.map((res) => res.status).sort()).toEqual([201, ...Array(24).fill(409)]);
  });

  it('the same idempotency keys from many requests at once: one event per key, every answer 202 with it', async () => {
    const t = await herald();
    await createTenant(t);
    await createEndpoint(t, 'acme', { url: 'https://hooks.example.com/x' });
    const keys = Array.from({ length: 20 }, (_, i) => `k${i}`);
    const answers = await Promise.all(keys.flatMap((k) => [0, 1, 2].map(() => t.call('POST', '/v1/tenants/acme/events', { type: 'order.placed', data: { k }, idempotency_key: k }))));
    expect(answers.map((a) => a.status)).toEqual(Array(60).fill(202));
    for (const [i] of keys.entries()) expect(new Set(answers.slice(i * 3, i * 3 + 3).map((a) => a.body.id)).size).toBe(1);
    expect(await t.herald.store.db.selectFrom('events').select('id').execute()).toHaveLength(20);
    expect(await t.herald.store.db.selectFrom('deliveries').select('id').execute()).toHaveLength(20);
  });

  it.runIf(TEST_STORE === 'postgres')('the same idempotency keys through two processes at once: every answer 202, one event per key', async () => {
    const { url, schema } = pgDatabase();
    const [a, b] = await Promise.all([serve('api', { DATABASE_URL: url }), serve('api', { DATABASE_URL: url })]);
    await adminCall(a.url!, 'POST', '/v1/tenants', { id: 'acme', name: 'Acme' });
    await adminCall(a.url!, 'POST', '/v1/tenants/acme/endpoints', { url: 'https://hooks.example.com/x' });
    const post = async (base: string, path: string, body: unknown) => {
      const res = await fetch(`${base}/v1/tenants/acme/${path}`, { method: 'POST', headers: { authorization: 'Bearer test-admin-key-0123456789', 'content-type': 'application/json' }, body: JSON.stringify(body) });
      return { status: res.status, body: (await res.json()) as any };
    };
    const ROUNDS = 4;
    const KEYS = 100;
    for (let round = 0; round < ROUNDS; round++) {
      const events = Array.from({ length: KEYS }, (_, i) => ({ type: 'order.placed', data: { i }, idempotency_key: `r${round}-k${i}` }));
      // Each process publishes the whole batch, and single events with the first keys, all at once.
      const answers = await Promise.all([
        post(a.url!, 'events/batch', { events }), post(b.url!, 'events/batch', { events }),
        ...events.slice(0, 10).flatMap((e) => [post(a.url!, 'events', e), post(b.url!, 'events', e)]),
      ]);
      expect(answers.map((x) => x.status), JSON.stringify(answers.find((x) => x.status !== 202)?.body)).toEqual(Array(answers.length).fill(202));
      const [batchA, batchB, ...singles] = answers;
      expect(batchB!.body.data.map((e: any) => e.id)).toEqual(batchA!.body.data.map((e: any) => e.id));
      singles.forEach((s, j) => expect(s.body.id).toBe(batchA!.body.data[Math.floor(j / 2)].id));
    }
    const c = new pg.Client({ connectionString: url.replace(/\?.*$/, ''), options: `-c search_path=${schema}` });
    await c.connect();
    const count = async (table: string) => Number((await c.query(`SELECT count(*) AS n FROM ${table}`)).rows[0].n);
    const [events, deliveries] = [await count('events'), await count('deliveries')];
    await c.end();
    expect(events).toBe(ROUNDS * KEYS);
    expect(deliveries).toBe(ROUNDS * KEYS);
  }, 120_000);
});

describe('start-up work that fails', () => {
  it('an operator endpoint that cannot be created is logged, and Herald still starts', async () => {
    const first = await herald();
    // The store refuses that one row (a stand-in for any database error).
    await (TEST_STORE === 'sqlite'
      ? sql`CREATE TRIGGER refuse_operator BEFORE INSERT ON endpoints WHEN NEW.id = 'ep_herald_operator' BEGIN SELECT RAISE(ABORT, 'refused by the test'); END`
      : sql`ALTER TABLE endpoints ADD CONSTRAINT refused_by_the_test CHECK (id <> 'ep_herald_operator')`).execute(first.herald.store.db);
    await first.stop();
    const lines: { msg: string; err?: { message: string } }[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    const second = await herald({ dir: first.dir, logger, config: { operatorWebhookUrl: 'https://ops.example.com/hook' } });
    const logged = lines.find((l) => l.msg.startsWith('could not create the operator endpoint'));
    expect(logged?.err?.message).toMatch(/refused_by_the_test|refused by the test/);
    expect((await second.call('GET', '/ready', undefined, null)).status).toBe(200);
  });
});
