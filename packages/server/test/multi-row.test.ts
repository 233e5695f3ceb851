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

  it('number PostgreSQL placeholders across rows and the trailing parameter; SQLite uses ?', () => {
    const render = (values: string, next: string) => `UPDATE t SET a = v.column1 FROM (VALUES ${values}) AS v WHERE owner = ${next}`;
    const pg = new MultiRowStatement('postgres', [null, 'INTEGER'], render);
    expect(pg.text(2)).toBe('UPDATE t SET a = v.column1 FROM (VALUES ($1, CAST($2 AS INTEGER)), ($3, CAST($4 AS INTEGER))) AS v WHERE owner = $5');
    const lite = new MultiRowStatement('sqlite', [null, 'INTEGER'], render);
    expect(lite.text(2)).toBe('UPDATE t SET a = v.column1 FROM (VALUES (?, CAST(? AS INTEGER)), (?, CAST(? AS INTEGER))) AS v WHERE owner = ?');
  });
});
