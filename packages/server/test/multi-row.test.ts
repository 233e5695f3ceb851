import { describe, expect, it } from 'vitest';
import { MultiRowStatement } from '../src/store/multi-row.js';

describe('multi-row statements', () => {
  it('cut batches into power-of-two chunks of at most 256 rows, keeping every row once and in order', () => {
    for (const n of [0, 1, 2, 3, 33, 100, 256, 257, 1000]) {
      const rows = Array.from({ length: n }, (_, i) => i);
      const chunks = MultiRowStatement.chunks(rows);
      expect(chunks.flat()).toEqual(rows);
      for (const c of chunks) {
        expect(c.length).toBeLessThanOrEqual(256);
        expect(Number.isInteger(Math.log2(c.length))).toBe(true);
      }
    }
    expect(MultiRowStatement.chunks(Array(33).fill(0)).map((c) => c.length)).toEqual([32, 1]);
  });

  it('run flattened rows chunk by chunk, each chunk with exactly its own values', async () => {
    const statement = new MultiRowStatement('sqlite', [null, null], (values) => `INSERT INTO t (a, b) VALUES ${values}`);
    const seen: { sql: string; parameters: readonly unknown[] }[] = [];
    const db = { executeQuery: async (q: { sql: string; parameters: readonly unknown[] }) => void seen.push(q) };
    const values = Array.from({ length: 2 * 37 }, (_, i) => i);
    await statement.executeFlat(db as never, values);
    expect(seen.map((q) => q.parameters.length / 2)).toEqual([32, 4, 1]);
    expect(seen.flatMap((q) => q.parameters)).toEqual(values);
    expect(seen[1]!.sql).toBe(statement.text(4));
  });

  it('number PostgreSQL placeholders across rows and the trailing parameter; SQLite uses ?', () => {
    const render = (values: string, next: string) => `UPDATE t SET a = v.column1 FROM (VALUES ${values}) AS v WHERE owner = ${next}`;
    const pg = new MultiRowStatement('postgres', [null, 'INTEGER'], render);
    expect(pg.text(2)).toBe('UPDATE t SET a = v.column1 FROM (VALUES ($1, CAST($2 AS INTEGER)), ($3, CAST($4 AS INTEGER))) AS v WHERE owner = $5');
    const lite = new MultiRowStatement('sqlite', [null, 'INTEGER'], render);
    expect(lite.text(2)).toBe('UPDATE t SET a = v.column1 FROM (VALUES (?, CAST(? AS INTEGER)), (?, CAST(? AS INTEGER))) AS v WHERE owner = ?');
  });
});
