import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
const { Store } = await import('../packages/server/dist/store/index.js');
const N = 50000;
const dir = mkdtempSync(join(tmpdir(), 'cx-'));
const file = join(dir, 'h.db');
const store = await Store.open(`sqlite:${file}`); await store.close();
const db = new Database(file);
db.pragma('journal_mode = WAL'); db.pragma('synchronous = NORMAL');
const now0 = Date.now();
const insEvent = db.prepare("INSERT INTO events (id, tenant_id, type, payload, idempotency_key, environment, created_at) VALUES (?, 't', 'x', ?, NULL, 'live', ?)");
const insDelivery = db.prepare("INSERT INTO deliveries (id, tenant_id, event_id, endpoint_id, event_type, status, attempt_count, next_attempt_at, created_at, updated_at) VALUES (?, 't', ?, ?, 'x', 'pending', 0, ?, ?, ?)");
const fill = () => db.transaction(() => { db.exec('DELETE FROM deliveries; DELETE FROM events'); let m = 0; for (let e = 0; m < N; e++) { const eid = `evt_${String(e).padStart(8, '0')}`; insEvent.run(eid, 'x'.repeat(1000), now0); for (let ep = 0; ep < 5; ep++) { insDelivery.run(`dlv_${String(m).padStart(8, '0')}`, eid, `ep_${ep}`, now0 + m, now0, now0); m++; } } })();
const due = `next_attempt_at <= ? AND (ordered = 0 OR NOT EXISTS (SELECT 1 FROM deliveries AS earlier WHERE earlier.endpoint_id = deliveries.endpoint_id AND earlier.event_id < deliveries.event_id AND earlier.ordered = 1 AND earlier.status IN ('pending', 'retrying', 'delivering')))`;
const ret = `RETURNING id, tenant_id, event_id, endpoint_id, event_type, attempt_count, throttled_count, attempt_limit, first_attempt_at, ordered`;
const variants = {
  current: `UPDATE deliveries SET status = 'delivering', lease_owner = ?, next_attempt_at = ?, updated_at = ? WHERE id IN (SELECT id FROM deliveries WHERE ${due} ORDER BY next_attempt_at LIMIT ?) ${ret}`,
  rowid: `UPDATE deliveries SET status = 'delivering', lease_owner = ?, next_attempt_at = ?, updated_at = ? WHERE rowid IN (SELECT rowid FROM deliveries WHERE ${due} ORDER BY next_attempt_at LIMIT ?) ${ret}`,
  noordered: `UPDATE deliveries SET status = 'delivering', lease_owner = ?, next_attempt_at = ?, updated_at = ? WHERE rowid IN (SELECT rowid FROM deliveries WHERE next_attempt_at <= ? ORDER BY next_attempt_at LIMIT ?) ${ret}`,
};
for (let round = 0; round < 2; round++) for (const [name, text] of Object.entries(variants)) {
  fill();
  const st = db.prepare(text);
  const far = now0 + 10 * N;
  const t = performance.now(); let n = 0, claims = 0;
  for (;;) { const rows = db.transaction(() => st.all('w', far + 1e9, now0, far, 100))(); if (!rows.length) break; n += rows.length; claims++; }
  console.log(name, n, claims, ((performance.now() - t) * 1000 / n).toFixed(2), 'us/row');
}
console.log(db.prepare(`EXPLAIN QUERY PLAN ${variants.current}`).all('w', 1, 1, 1, 1).map(r => r.detail).join('\n'));
db.close(); rmSync(dir, { recursive: true, force: true });
