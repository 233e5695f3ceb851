import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Herald } from '../src/herald.js';
import { ADMIN_KEY, startReceiver, testConfig } from './helpers.js';

// SQLite on a disk that fills up: a 16 MiB tmpfs this file mounts (we run as root), filled with a
// file until ENOSPC, then emptied again. Writes must answer 503, reads go on, nothing accepted is
// lost, and the process recovers by itself once there is room.

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'herald-full-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16m', 'tmpfs', dir], { stdio: 'pipe' });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    // Never skipped: the behaviour is only proven on a filesystem that really fills.
    throw new Error(`the full-disk test needs to mount a small tmpfs (run as root): ${(err as Error).message}`);
  }
});
afterAll(() => {
  if (!dir) return;
  try {
    execFileSync('umount', [dir], { stdio: 'pipe' });
  } catch {
    execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
  }
  rmSync(dir, { recursive: true, force: true });
});

/** Writes a file until the filesystem is full; returns its path. */
function fill(path: string): string {
  const fd = openSync(path, 'w');
  const chunk = Buffer.alloc(256 * 1024, 1);
  try {
    for (let i = 0; i < 1000; i++) writeSync(fd, chunk);
    throw new Error('the filesystem never filled up');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    closeSync(fd);
  }
  return path;
}

describe('SQLite with a full disk', () => {
  it('refuses writes with 503, serves reads, loses nothing accepted, and recovers by itself once there is room', async () => {
    const receiver = await startReceiver();
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, { write: (l: string) => void lines.push(l) });
    const herald = await Herald.create({ config: testConfig(`sqlite:${join(dir, 'herald.db')}`, { deliveryThreads: 0 }), startWorker: true, logger });
    const call = async (method: string, url: string, body?: unknown) => {
      const res = await herald.app.inject({ method: method as 'GET', url, headers: { authorization: `Bearer ${ADMIN_KEY}` }, ...(body === undefined ? {} : { payload: body as object }) });
      return { status: res.statusCode, body: res.json(), retryAfter: res.headers['retry-after'] };
    };
    try {
      expect((await call('POST', '/v1/tenants', { id: 'full', name: 'Full' })).status).toBe(201);
      expect((await call('POST', '/v1/tenants/full/endpoints', { url: receiver.url })).status).toBe(201);
      const accepted = new Set<string>();
      const batch = (b: number) => ({ events: Array.from({ length: 20 }, (_, i) => ({ type: 'full.test', data: { pad: 'x'.repeat(2000) }, idempotency_key: `k${b}-${i}` })) });
      const publish = async (b: number) => {
        const r = await call('POST', '/v1/tenants/full/events/batch', batch(b));
        if (r.status === 202) for (const e of r.body.data) accepted.add(e.id);
        return r;
      };
      for (let b = 0; b < 5; b++) expect((await publish(b)).status).toBe(202);

      const filler = fill(join(dir, 'filler'));
      // Writes that still fit in space SQLite already holds may go through; the rest are refused.
      const refused: number[] = [];
      let b = 5;
      for (; b < 400 && refused.length < 3; b++) {
        const r = await publish(b);
        if (r.status === 202) continue;
        expect(r).toMatchObject({ status: 503, retryAfter: '2', body: { error: { code: 'unavailable' } } });
        refused.push(b);
      }
      expect(refused.length).toBe(3);
      // Reads are served; readiness says why the process is not ready.
      const list = await call('GET', '/v1/tenants/full/events?limit=5');
      expect(list.status).toBe(200);
      expect(list.body.data).toHaveLength(5);
      const notReady = await call('GET', '/ready');
      expect(notReady.status).toBe(503);
      expect(notReady.body.reason).toMatch(/database unavailable.*(SQLITE_FULL|full)/);

      unlinkSync(filler);
      const freed = Date.now();
      while ((await call('GET', '/ready')).status !== 200) {
        if (Date.now() - freed > 10_000) throw new Error('not ready 10 s after the disk had room again');
        await sleep(20);
      }
      const readyMs = Date.now() - freed;
      // The refused batches, sent again as a client would, are accepted now; so is a new one.
      for (const r of [...refused, b]) expect((await publish(r)).status).toBe(202);
      await receiver.waitFor(accepted.size, 20_000);
      const delivered = new Set(receiver.requests.map((r) => r.headers['webhook-id']));
      console.log(`full disk (SQLite): ${accepted.size} events accepted, ${refused.length} batches refused while full, ready ${readyMs} ms after space was freed, ${delivered.size} delivered`);
      expect([...accepted].filter((id) => !delivered.has(id))).toEqual([]);
      // Logged once, at warn, and once when it was over.
      const msgs = lines.map((l) => JSON.parse(l) as { level: number; msg: string });
      expect(msgs.filter((m) => m.msg.startsWith('database unavailable')).map((m) => m.level)).toEqual([40]);
      expect(msgs.filter((m) => m.msg.startsWith('database available again'))).toHaveLength(1);
      expect(msgs.filter((m) => m.level >= 50)).toEqual([]);
    } finally {
      await herald.close();
      await receiver.close();
    }
  }, 60_000);
});
