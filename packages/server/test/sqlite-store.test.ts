import { mkdtempSync, rmSync, statSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterEach, expect, it } from 'vitest';
import { Store } from '../src/store/index.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

// Commits only append to the WAL; copying it into the database file is the checkpoint thread's
// job. 2 MB is far below the connection's own threshold (16,000 pages), so without the thread the
// database file would not grow.
it('SQLite: the checkpoint thread copies committed pages into the database file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'herald-ckpt-'));
  dirs.push(dir);
  const file = join(dir, 'herald.db');
  const store = await Store.open(`sqlite:${file}`);
  try {
    await sql`CREATE TABLE filler (b BLOB)`.execute(store.db);
    const before = statSync(file).size;
    for (let i = 0; i < 50; i++) await sql`INSERT INTO filler VALUES (randomblob(40000))`.execute(store.db);
    const deadline = Date.now() + 5_000;
    while (statSync(file).size - before < 1_900_000 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(statSync(file).size - before).toBeGreaterThanOrEqual(1_900_000);
    const rows = await sql<{ n: number }>`SELECT count(*) AS n FROM filler`.execute(store.db);
    expect(rows.rows[0]!.n).toBe(50);
  } finally {
    await store.close();
  }
});

// A checkpoint that fails for another reason than contention (here the file cut short under it,
// as a damaged disk or a careless copy would) is logged, once a minute at most, instead of the WAL
// growing in silence.
it('SQLite: a failing checkpoint is logged', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'herald-ckpt-'));
  dirs.push(dir);
  const file = join(dir, 'herald.db');
  const warnings: unknown[] = [];
  const logger = { info: () => undefined, warn: (obj: unknown) => void warnings.push(obj), error: (obj: unknown) => void warnings.push(obj) };
  const store = await Store.open(`sqlite:${file}`, { logger });
  try {
    await sql`CREATE TABLE filler (b BLOB)`.execute(store.db);
    const before = statSync(file).size;
    for (let i = 0; i < 5; i++) await sql`INSERT INTO filler VALUES (randomblob(40000))`.execute(store.db);
    // Once the thread has checkpointed (it is running), cut the file; the next commits give it work.
    for (let deadline = Date.now() + 5_000; statSync(file).size <= before && Date.now() < deadline;) await new Promise((r) => setTimeout(r, 50));
    truncateSync(file, 0);
    for (let i = 0; i < 5; i++) await sql`INSERT INTO filler VALUES (randomblob(40000))`.execute(store.db).catch(() => undefined);
    const deadline = Date.now() + 5_000;
    while (warnings.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(warnings[0]).toMatchObject({ file, error: expect.stringMatching(/^SQLITE_/) });
  } finally {
    await store.close();
  }
});
