import { CompiledQuery, type Kysely } from 'kysely';
import type { DialectName } from './connect.js';

/** The most rows one statement takes. */
const MAX_ROWS = 256;

/**
 * SQL text for the hot multi-row statements (attempt rows, completion updates, published events
 * and deliveries), built once per dialect and row count rather than through the query builder on
 * every batch: building them was about a third of the store's time in the delivery path. Only
 * placeholders are generated here; every value travels as a bound parameter.
 *
 * Batches are cut into power-of-two chunks (33 rows = 32 + 1), so each statement exists in at most
 * nine sizes: the prepared-statement cache then holds them all, instead of churning through one
 * large compiled statement per batch size, which held native memory until garbage collection.
 */
export class MultiRowStatement {
  private readonly texts = new Map<number, string>();

  /**
   * `render(values)` gets the VALUES list and the placeholder of the first parameter after it;
   * `columns` are the SQL types to cast each column's placeholder to, or null to leave it bare.
   */
  constructor(
    private readonly dialect: DialectName,
    private readonly columns: readonly (string | null)[],
    private readonly render: (values: string, next: string) => string,
  ) {}

  /** `rows` in chunks whose sizes are powers of two, largest first. */
  static chunks<T>(rows: readonly T[]): T[][] {
    return MultiRowStatement.spans(rows.length).map(([start, size]) => rows.slice(start, start + size));
  }

  /** [first row, row count] of each chunk of `rows` rows, as `chunks` cuts them. */
  static spans(rows: number): [number, number][] {
    const out: [number, number][] = [];
    let i = 0;
    while (i < rows) {
      let size = MAX_ROWS;
      while (size > rows - i) size >>= 1;
      out.push([i, size]);
      i += size;
    }
    return out;
  }

  /** Runs the statement over rows whose values are already flattened in column order, chunk by chunk. */
  async executeFlat<DB>(db: Kysely<DB>, values: readonly unknown[]): Promise<void> {
    for (const q of this.flatQueries(values)) await db.executeQuery(q);
  }

  /** `executeFlat` for a statement with RETURNING: every chunk's rows, in order. */
  async executeFlatReturning<DB, Row>(db: Kysely<DB>, values: readonly unknown[]): Promise<Row[]> {
    const out: Row[] = [];
    for (const q of this.flatQueries<Row>(values)) out.push(...(await db.executeQuery(q)).rows);
    return out;
  }

  private *flatQueries<Row>(values: readonly unknown[]): Generator<CompiledQuery<Row>> {
    const width = this.columns.length;
    for (const [start, size] of MultiRowStatement.spans(values.length / width)) {
      yield this.query<Row>(size, values.slice(start * width, (start + size) * width));
    }
  }

  /** The statement for `rows` rows, with their values flattened in column order (and any trailing parameter). */
  query<Row = unknown>(rows: number, params: readonly unknown[]): CompiledQuery<Row> {
    return CompiledQuery.raw(this.text(rows), params as unknown[]) as CompiledQuery<Row>;
  }

  text(rows: number): string {
    let text = this.texts.get(rows);
    if (text === undefined) {
      let n = 0;
      const param = () => (this.dialect === 'postgres' ? `$${++n}` : (n++, '?'));
      const tuples: string[] = [];
      for (let r = 0; r < rows; r++) {
        tuples.push(`(${this.columns.map((type) => (type ? `CAST(${param()} AS ${type})` : param())).join(', ')})`);
      }
      text = this.render(tuples.join(', '), param());
      this.texts.set(rows, text);
    }
    return text;
  }
}
