import { describe, expect, it } from 'vitest';
import { TEST_STORE } from './helpers.js';
import { adminCall, countingReceiver, kill9, serve, testDatabase, type Served } from './processes.js';

// Crash safety as a user would see it: a real `herald serve` process, killed with SIGKILL at
// random moments while events are being published and delivered, and restarted each time.

const EVENTS = 5000;
const ENDPOINTS = 5;
const BATCH = 100;

describe(`kill -9 under load (${TEST_STORE})`, () => {
  it('loses no accepted event: every one reaches every endpoint at least once', async () => {
    const db = testDatabase();
    const receiver = await countingReceiver(1);
    // Short leases so deliveries a killed process held come back quickly.
    const env = { DATABASE_URL: db, HERALD_LEASE_MS: '2000', HERALD_WORKER_CONCURRENCY: '32' };
    let server: Served = await serve('all', env);
    await adminCall(server.url!, 'POST', '/v1/tenants', { id: 'crash', name: 'Crash' });
    for (let i = 0; i < ENDPOINTS; i++) await adminCall(server.url!, 'POST', '/v1/tenants/crash/endpoints', { url: `${receiver.url}/${i}` });

    let restarting: Promise<void> | null = null;
    let accepted = 0;
    let refused = 0;
    // Publisher: each batch is retried (same idempotency keys) until a 202 says it is committed.
    const publisher = (async () => {
      for (let b = 0; b < EVENTS / BATCH; b++) {
        const events = Array.from({ length: BATCH }, (_, i) => ({ type: 'crash.test', data: { n: b * BATCH + i }, idempotency_key: `k${b * BATCH + i}` }));
        for (let tries = 0; ; tries++) {
          if (tries > 200) throw new Error(`batch ${b} was never accepted`);
          await restarting;
          try {
            await adminCall(server.url!, 'POST', '/v1/tenants/crash/events/batch', { events });
            accepted += BATCH;
            break;
          } catch {
            refused++;
            await new Promise((r) => setTimeout(r, 50));
          }
        }
      }
    })();
    // Killer: three kills at random moments while publishing and delivering, each followed by a restart.
    const kills: number[] = [];
    for (let k = 0; k < 3; k++) {
      await new Promise((r) => setTimeout(r, 300 + Math.random() * 900));
      kills.push(receiver.stats().unique);
      let done!: () => void;
      restarting = new Promise<void>((r) => (done = r));
      await kill9(server.proc);
      server = await serve('all', env);
      done();
      restarting = null;
    }
    await publisher;
    expect(accepted).toBe(EVENTS);
    const result = await receiver.waitForUnique(EVENTS * ENDPOINTS, 120_000);
    console.log(`kill -9 (${TEST_STORE}): kills at ${kills.join(', ')} deliveries received; ${refused} publish calls refused while down; ${result.unique} delivered, ${result.duplicates} duplicates`);
    expect(result.unique).toBe(EVENTS * ENDPOINTS);
    // Every kill can repeat at most what that process held: attempts in flight plus claimed buffers.
    expect(result.duplicates).toBeLessThanOrEqual(3 * (32 + 2 * 100));
    // And the survivor's API agrees: nothing left in flight.
    const pending = await adminCall(server.url!, 'GET', '/v1/tenants/crash/deliveries?status=pending&limit=1');
    expect(pending.data).toHaveLength(0);
  }, 180_000);

  it('SIGTERM under load: stops claiming, finishes in-flight attempts and exits 0', async () => {
    const db = testDatabase();
    const receiver = await countingReceiver(20);
    const env = { DATABASE_URL: db, HERALD_WORKER_CONCURRENCY: '16' };
    const first = await serve('all', env);
    await adminCall(first.url!, 'POST', '/v1/tenants', { id: 'term', name: 'Term' });
    await adminCall(first.url!, 'POST', '/v1/tenants/term/endpoints', { url: `${receiver.url}/0` });
    const events = Array.from({ length: 500 }, (_, i) => ({ type: 'term.test', data: { n: i } }));
    await adminCall(first.url!, 'POST', '/v1/tenants/term/events/batch', { events });
    while (receiver.stats().unique < 50) await new Promise((r) => setTimeout(r, 10));
    const exited = new Promise<number | null>((r) => first.proc.once('exit', (code) => r(code)));
    first.proc.kill('SIGTERM');
    expect(await exited).toBe(0);
    const atStop = receiver.stats();
    // A restart delivers the rest; a graceful stop repeats nothing (its attempts were written, its claims released).
    await serve('all', env);
    const result = await receiver.waitForUnique(500, 60_000);
    expect(atStop.unique).toBeLessThan(500);
    expect(result).toEqual({ unique: 500, duplicates: 0 });
  }, 120_000);
});
