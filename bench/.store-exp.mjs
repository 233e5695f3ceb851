// node bench/store.mjs [N]: the store's hot path alone (no HTTP, one process): claim 100 due
// deliveries, write their results in batches of ~33 (attempt rows, delivery updates), until N are
// done. Steadier than the full benchmark for judging a change to the SQL or the schema.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
const dist = process.env.DIST ?? new URL('../packages/server/dist', import.meta.url).pathname;
const { Store } = await import(`${dist}/store/index.js`);
const { DEFAULT_HEALTH_POLICY } = await import(`${dist}/core/endpoint-health.js`);
const N = Number(process.argv[2] ?? 50000);
const dir = mkdtempSync(join(tmpdir(), 'sb-'));
const url = `sqlite:${join(dir, 'h.db')}`;
let store = await Store.open(url);
await store.close();
const db = new Database(join(dir, "h.db")); if (process.env.PRE_SQL) db.exec(process.env.PRE_SQL);
const now0 = Date.now();
db.prepare("INSERT INTO tenants (id, name, created_at) VALUES ('t', 't', ?)").run(now0);
const eps = [];
const cols = db.prepare("select name from pragma_table_info('endpoints')").all().map(r => r.name);
for (let i = 0; i < 5; i++) {
  const row = { id: `ep_${i}`, tenant_id: 't', url: `http://127.0.0.1:1/ep/${i}`, profile: 'standard', headers: '{}', metadata: '{}', secret: 'whsec_x', status: 'enabled', created_at: now0, updated_at: now0 };
  const c = cols.filter(k => k in row);
  db.prepare(`INSERT INTO endpoints (${c.join(',')}) VALUES (${c.map(() => '?').join(',')})`).run(...c.map(k => row[k]));
  eps.push(row.id);
}
const payload = JSON.stringify({ pad: 'x'.repeat(1000) });
const insEvent = db.prepare("INSERT INTO events (id, tenant_id, type, payload, idempotency_key, environment, created_at) VALUES (?, 't', 'x', ?, NULL, 'live', ?)");
const insDelivery = db.prepare("INSERT INTO deliveries (id, tenant_id, event_id, endpoint_id, event_type, status, attempt_count, next_attempt_at, created_at, updated_at) VALUES (?, 't', ?, ?, 'x', 'pending', 0, ?, ?, ?)");
db.transaction(() => { let m = 0; for (let e = 0; m < N; e++) { const eid = `evt_${String(e).padStart(8, '0')}`; insEvent.run(eid, payload, now0); for (const ep of eps) { if (m >= N) break; insDelivery.run(`dlv_${String(m).padStart(8, '0')}`, eid, ep, now0, now0, now0); m++; } } })();
db.close();
store = await Store.open(url);
const hooks = { policy: DEFAULT_HEALTH_POLICY };
const headers = { 'content-type': 'application/json', 'user-agent': 'Herald/0.1', 'webhook-id': 'msg_01JXXXXXXXXXXXXXXXXXXXXXXX', 'webhook-timestamp': '1764170000', 'webhook-signature': 'v1,' + 'A'.repeat(44) };
let done = 0, attemptSeq = 0; const CB = Number(process.env.CB ?? 33);
const t0 = performance.now();
const cpu0 = process.cpuUsage();
while (done < N) {
  const now = Date.now();
  const claimed = await store.queue.claim('w1', now, now + 30000, 100);
  if (claimed.length === 0) break;
  for (let i = 0; i < claimed.length; i += CB) {
    const batch = claimed.slice(i, i + CB).map((d) => ({
      deliveryId: d.id, status: 'delivered', attemptNumber: 1, nextAttemptAt: null, throttledCount: 0, signal: { kind: 'ok' }, ordered: false,
      attempt: { id: `atm_${String(attemptSeq++).padStart(10, '0')}`, deliveryId: d.id, tenantId: d.tenantId, endpointId: d.endpointId, attemptNumber: 1, startedAt: now, durationMs: 2, url: 'http://127.0.0.1:1/ep', requestHeaders: process.env.NOHDR ? {} : headers, responseStatus: 200, responseBody: 'ok', errorKind: null, errorMessage: null },
    }));
    await store.queue.complete('w1', batch, hooks, now);
  }
  done += claimed.length;
}
const ms = performance.now() - t0;
const cpu = process.cpuUsage(cpu0);
console.log(JSON.stringify({ done, us_per_delivery: +(ms * 1000 / done).toFixed(1), cpu_us_per_delivery: +((cpu.user + cpu.system) / done).toFixed(1) }));
{ const t1 = performance.now(); for (let i = 0; i < 200; i++) await store.queue.claim('w1', Date.now(), Date.now() + 30000, 100); console.log('empty plain claim us', ((performance.now() - t1) * 5).toFixed(0));
  const t2 = performance.now(); for (let i = 0; i < 200; i++) await store.queue.claim('w1', Date.now(), Date.now() + 30000, 100, { perEndpoint: 10, skipEndpoints: ['ep_1'] }); console.log('empty ranked claim us', ((performance.now() - t2) * 5).toFixed(0)); }
await store.close();
rmSync(dir, { recursive: true, force: true });
