// node bench/store.mjs [N] [--pg] [--batch B]: the store's hot path alone (no HTTP, one process):
// claim 100 due deliveries, write their results in batches of B (default 33: attempt rows, delivery
// updates), until N are done. Steadier than the full benchmark for judging a change to the SQL or the
// schema. With --pg it runs on a fresh schema of DATABASE_URL (default the local server) and also
// reports the server's CPU per delivery (every `postgres` process on this machine).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { serverCpuMs } from './proc.mjs';
const dist = process.env.DIST ?? new URL('../packages/server/dist', import.meta.url).pathname;
const { Store } = await import(`${dist}/store/index.js`);
const { DEFAULT_HEALTH_POLICY } = await import(`${dist}/core/endpoint-health.js`);
const argv = process.argv.slice(2);
const PG = argv.includes('--pg');
const BATCH = argv.includes('--batch') ? Number(argv[argv.indexOf('--batch') + 1]) : 33;
const N = Number(argv.find((a, i) => /^\d+$/.test(a) && argv[i - 1] !== '--batch') ?? 50000);
const PG_URL = process.env.DATABASE_URL?.startsWith('postgres') ? process.env.DATABASE_URL : 'postgres://postgres@127.0.0.1:5432/test';
const dir = mkdtempSync(join(tmpdir(), 'sb-'));
const schema = `herald_store_bench_${process.pid}`;
const url = PG ? `${PG_URL}${PG_URL.includes('?') ? '&' : '?'}schema=${schema}` : `sqlite:${join(dir, 'h.db')}`;
let store = await Store.open(url);
await store.close();
const now0 = Date.now();
const payload = JSON.stringify({ pad: 'x'.repeat(1000) });
const eps = Array.from({ length: 5 }, (_, i) => `ep_${i}`);
const endpointRow = (id, i) => ({ id, tenant_id: 't', url: `http://127.0.0.1:1/ep/${i}`, profile: 'standard', headers: '{}', metadata: '{}', secret: 'whsec_x', status: 'enabled', created_at: now0, updated_at: now0 });
if (PG) {
  const c = new pg.Client({ connectionString: PG_URL, options: `-c search_path=${schema}` });
  await c.connect();
  await c.query("INSERT INTO tenants (id, name, created_at) VALUES ('t', 't', $1)", [now0]);
  for (const [i, id] of eps.entries()) {
    const row = endpointRow(id, i);
    await c.query(`INSERT INTO endpoints (${Object.keys(row).join(',')}) VALUES (${Object.keys(row).map((_, k) => `$${k + 1}`).join(',')})`, Object.values(row));
  }
  await c.query(`INSERT INTO events (id, tenant_id, type, payload, idempotency_key, environment, created_at)
    SELECT 'evt_' || lpad(g::text, 8, '0'), 't', 'x', $1, NULL, 'live', $2 FROM generate_series(0, $3::int / 5) AS g`, [payload, now0, N]);
  await c.query(`INSERT INTO deliveries (id, tenant_id, event_id, endpoint_id, event_type, status, attempt_count, next_attempt_at, created_at, updated_at)
    SELECT 'dlv_' || lpad((g * 5 + e)::text, 8, '0'), 't', 'evt_' || lpad(g::text, 8, '0'), 'ep_' || e, 'x', 'pending', 0, $1, $1, $1
      FROM generate_series(0, $2::int / 5) AS g, generate_series(0, 4) AS e WHERE g * 5 + e < $2`, [now0, N]);
  await c.query('VACUUM ANALYZE');
  await c.end();
} else {
  const db = new Database(join(dir, 'h.db'));
  db.prepare("INSERT INTO tenants (id, name, created_at) VALUES ('t', 't', ?)").run(now0);
  const cols = db.prepare("select name from pragma_table_info('endpoints')").all().map(r => r.name);
  for (const [i, id] of eps.entries()) {
    const row = endpointRow(id, i);
    const c = cols.filter(k => k in row);
    db.prepare(`INSERT INTO endpoints (${c.join(',')}) VALUES (${c.map(() => '?').join(',')})`).run(...c.map(k => row[k]));
  }
  const insEvent = db.prepare("INSERT INTO events (id, tenant_id, type, payload, idempotency_key, environment, created_at) VALUES (?, 't', 'x', ?, NULL, 'live', ?)");
  const insDelivery = db.prepare("INSERT INTO deliveries (id, tenant_id, event_id, endpoint_id, event_type, status, attempt_count, next_attempt_at, created_at, updated_at) VALUES (?, 't', ?, ?, 'x', 'pending', 0, ?, ?, ?)");
  db.transaction(() => { let m = 0; for (let e = 0; m < N; e++) { const eid = `evt_${String(e).padStart(8, '0')}`; insEvent.run(eid, payload, now0); for (const ep of eps) { if (m >= N) break; insDelivery.run(`dlv_${String(m).padStart(8, '0')}`, eid, ep, now0, now0, now0); m++; } } })();
  db.close();
}
store = await Store.open(url);
const hooks = { policy: DEFAULT_HEALTH_POLICY };
const headers = { 'content-type': 'application/json', 'user-agent': 'Herald/0.1', 'webhook-id': 'msg_01JXXXXXXXXXXXXXXXXXXXXXXX', 'webhook-timestamp': '1764170000', 'webhook-signature': 'v1,' + 'A'.repeat(44) };
let done = 0, attemptSeq = 0;
const t0 = performance.now();
const cpu0 = process.cpuUsage();
const server0 = PG ? serverCpuMs('postgres') : 0;
while (done < N) {
  const now = Date.now();
  const claimed = await store.queue.claim('w1', now, now + 30000, 100);
  if (claimed.length === 0) break;
  for (let i = 0; i < claimed.length; i += BATCH) {
    const batch = claimed.slice(i, i + BATCH).map((d) => ({
      deliveryId: d.id, status: 'delivered', attemptNumber: 1, nextAttemptAt: null, throttledCount: 0, signal: { kind: 'ok' }, ordered: false,
      attempt: { id: `atm_${String(attemptSeq++).padStart(10, '0')}`, deliveryId: d.id, tenantId: d.tenantId, endpointId: d.endpointId, attemptNumber: 1, startedAt: now, durationMs: 2, url: 'http://127.0.0.1:1/ep', requestHeaders: headers, responseStatus: 200, responseBody: 'ok', errorKind: null, errorMessage: null },
    }));
    await store.queue.complete('w1', batch, hooks, now);
  }
  done += claimed.length;
}
const ms = performance.now() - t0;
const cpu = process.cpuUsage(cpu0);
console.log(JSON.stringify({ done, us_per_delivery: +(ms * 1000 / done).toFixed(1), cpu_us_per_delivery: +((cpu.user + cpu.system) / done).toFixed(1), ...(PG ? { server_cpu_us_per_delivery: +(((serverCpuMs('postgres') - server0) * 1000) / done).toFixed(1) } : {}) }));
await store.close();
rmSync(dir, { recursive: true, force: true });
if (PG) {
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await c.end();
}
