import { mkdtempSync, rmSync, statSync } from 'node:fs';
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
