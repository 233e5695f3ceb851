import type { DialectName } from './connect.js';

/**
 * SQL text for the hot multi-row statements (attempt rows, completion updates), built once per
 * dialect and row count rather than through the query builder on every batch: building them was
 * about a third of the store's time in the delivery path. Only placeholders are generated here;
 * every value travels as a bound parameter.
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
