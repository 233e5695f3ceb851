import type pg from 'pg';

/**
 * Names for the statements a process repeats, so PostgreSQL parses and plans each once per
 * connection instead of on every call. Unnamed statements are planned anew each time: for the
 * worker's multi-row statements that was about half of the server's work (an attempt-row insert of
 * 64 rows: 10–12 → 5.5–6 µs of server CPU per row once named).
 *
 * A text is named the second time it is seen, so one-off statements (migrations, rare admin
 * queries) never hold server memory, and at most `max` texts are named in all: statement texts of
 * multi-row inserts come in a few fixed sizes, so the hot ones are named long before the cap.
 */
export class StatementNames {
  /** Texts seen once so far. */
  private readonly seen = new Set<string>();
  private readonly names = new Map<string, string>();
  private next = 0;

  constructor(private readonly max = 256, private readonly seenMax = 4096) {}

  /** The name to prepare `text` under, or undefined to send it unnamed this time. */
  nameFor(text: string): string | undefined {
    const name = this.names.get(text);
    if (name !== undefined || this.names.size >= this.max) return name;
    if (!this.seen.has(text)) {
      if (this.seen.size >= this.seenMax) this.seen.clear();
      this.seen.add(text);
      return undefined;
    }
    this.seen.delete(text);
    return this.assign(text);
  }

  /** A fresh name for `text`: the server dropped or invalidated the statement prepared under the old one. */
  renew(text: string): void {
    if (this.names.has(text)) this.assign(text);
  }

  get size(): number {
    return this.names.size;
  }

  private assign(text: string): string {
    const name = `herald_${(this.next++).toString(36)}`;
    this.names.set(text, name);
    return name;
  }
}

/**
 * Errors after which a named statement must be prepared again and the call can be retried, because
 * the server rejected it before running it: its cached plan no longer matches the tables (a
 * migration changed a result type; SQLSTATE 0A000 from RevalidateCachedQuery), or the server does
 * not know the name (26000: a pooler swapped the backend, or DISCARD ALL).
 */
function invalidatesPrepared(err: unknown): boolean {
  const e = err as { code?: string; routine?: string } | null;
  return e?.code === '26000' || (e?.code === '0A000' && e.routine === 'RevalidateCachedQuery');
}

type Query = (...args: unknown[]) => unknown;

/**
 * Sends the pool's repeated parameterised statements as named (prepared) statements. Kysely calls
 * `client.query(text, values)`; every other form (callbacks, cursors, no parameters: `begin`,
 * `commit`) goes through unchanged.
 */
export function prepareRepeatedStatements(pool: pg.Pool, names = new StatementNames()): StatementNames {
  pool.on('connect', (client) => {
    const query = client.query.bind(client) as Query;
    const named: Query = (...args) => {
      const [text, values] = args;
      if (args.length !== 2 || typeof text !== 'string' || !Array.isArray(values) || values.length === 0) return query(...args);
      const name = names.nameFor(text);
      if (name === undefined) return query(text, values);
      return (query({ name, text, values }) as Promise<unknown>).catch((err: unknown) => {
        if (!invalidatesPrepared(err)) throw err;
        names.renew(text);
        // Rejected before it ran, so running it once more cannot apply it twice. Inside a
        // transaction the retry fails too (the transaction is aborted) and the caller sees that.
        return query(text, values);
      });
    };
    (client as unknown as { query: Query }).query = named;
  });
  return names;
}
