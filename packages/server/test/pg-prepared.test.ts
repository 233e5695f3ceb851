import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULTS, loadConfig } from '../src/config/index.js';
import { openDatabase } from '../src/store/connect.js';
import { prepareRepeatedStatements, StatementNames } from '../src/store/pg-prepared.js';
import { PG_URL, TEST_SCHEMA_PREFIX } from './pg-setup.js';

describe('StatementNames', () => {
  it('names a text the second time it is seen, and keeps that name', () => {
    const names = new StatementNames();
    expect(names.nameFor('SELECT 1')).toBeUndefined();
    const name = names.nameFor('SELECT 1');
    expect(name).toMatch(/^herald_/);
    expect(names.nameFor('SELECT 1')).toBe(name);
    expect(names.nameFor('SELECT 2')).toBeUndefined();
    expect(names.nameFor('SELECT 2')).not.toBe(name);
  });

  it('names at most `max` texts, and forgets one-off texts once it has seen `seenMax`', () => {
    const names = new StatementNames(2, 3);
    for (const t of ['a', 'a', 'b', 'b']) names.nameFor(t);
    expect(names.size).toBe(2);
    names.nameFor('c');
    expect(names.nameFor('c')).toBeUndefined();
    const fresh = new StatementNames(10, 3);
    for (const t of ['x', 'y', 'z', 'w']) fresh.nameFor(t); // the fourth one-off clears what was seen
    expect(fresh.nameFor('x')).toBeUndefined();
    expect(fresh.nameFor('w')).toMatch(/^herald_/);
  });

  it('renew gives a named text a new name and leaves unnamed ones alone', () => {
    const names = new StatementNames();
    names.nameFor('q');
    const first = names.nameFor('q');
    names.renew('q');
    expect(names.nameFor('q')).not.toBe(first);
    names.renew('never-seen');
    expect(names.nameFor('never-seen')).toBeUndefined();
  });
});

describe('prepared statements on PostgreSQL', () => {
  const schema = `${TEST_SCHEMA_PREFIX}prep_${randomBytes(3).toString('hex')}`;
  const options = `-c search_path=${schema}`;
  let admin: pg.Client;

  beforeAll(async () => {
    admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    await admin.query(`CREATE SCHEMA "${schema}"`);
    await admin.query(`CREATE TABLE "${schema}".t (id integer PRIMARY KEY, v integer NOT NULL)`);
    await admin.query(`INSERT INTO "${schema}".t VALUES (1, 10), (2, 20)`);
  });
  afterAll(async () => {
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.end();
  });

  /** One connection, so every call lands where the statements were prepared. */
  async function oneConnection() {
    const pool = new pg.Pool({ connectionString: PG_URL, options, max: 1 });
    const names = prepareRepeatedStatements(pool);
    const client = await pool.connect();
    const prepared = async () => (await client.query('SELECT name, statement FROM pg_prepared_statements')).rows as { name: string; statement: string }[];
    const done = async () => {
      client.release();
      await pool.end();
    };
    return { client, names, prepared, done };
  }

  it('prepares a repeated parameterised statement on the server, and answers from it', async () => {
    const { client, prepared, done } = await oneConnection();
    try {
      const text = 'SELECT v FROM t WHERE id = $1';
      expect((await client.query(text, [1])).rows).toEqual([{ v: 10 }]);
      expect(await prepared()).toEqual([]);
      expect((await client.query(text, [2])).rows).toEqual([{ v: 20 }]);
      expect((await client.query(text, [1])).rows).toEqual([{ v: 10 }]);
      expect((await prepared()).map((p) => p.statement)).toEqual([text]);
      // Statements without parameters (begin, commit, DDL) are never named.
      await client.query('SELECT count(*) FROM t');
      await client.query('SELECT count(*) FROM t');
      expect(await prepared()).toHaveLength(1);
    } finally {
      await done();
    }
  });

  it('recovers when a migration changes a prepared statement\'s result type, or the server forgets it', async () => {
    const { client, names, prepared, done } = await oneConnection();
    try {
      const text = 'SELECT * FROM t WHERE id = $1';
      await client.query(text, [1]);
      await client.query(text, [1]);
      const before = names.nameFor(text);
      await admin.query(`ALTER TABLE "${schema}".t ADD COLUMN note text`);
      // PostgreSQL refuses the stale plan (0A000): the call is retried unnamed, later ones prepared anew.
      expect((await client.query(text, [2])).rows).toEqual([{ id: 2, v: 20, note: null }]);
      const after = names.nameFor(text);
      expect(after).not.toBe(before);
      expect((await client.query(text, [1])).rows).toEqual([{ id: 1, v: 10, note: null }]);
      expect((await prepared()).map((p) => p.name)).toContain(after);
      // The server forgets every statement (a pooler swapping backends looks the same: 26000).
      await client.query('DEALLOCATE ALL');
      expect((await client.query(text, [2])).rows).toEqual([{ id: 2, v: 20, note: null }]);
      expect((await client.query(text, [1])).rows).toEqual([{ id: 1, v: 10, note: null }]);
    } finally {
      await admin.query(`ALTER TABLE "${schema}".t DROP COLUMN IF EXISTS note`);
      await done();
    }
  });

  it('other errors reach the caller unchanged, and are not retried', async () => {
    const { client, done } = await oneConnection();
    try {
      const text = 'INSERT INTO t (id, v) VALUES ($1, $2)';
      await client.query(text, [3, 30]);
      await expect(client.query(text, [3, 31])).rejects.toMatchObject({ code: '23505' });
      expect((await client.query('SELECT v FROM t WHERE id = $1', [3])).rows).toEqual([{ v: 30 }]);
    } finally {
      await admin.query(`DELETE FROM "${schema}".t WHERE id = 3`);
      await done();
    }
  });

  it('is on for Herald\'s pool unless HERALD_PG_PREPARED_STATEMENTS=false', async () => {
    const url = new URL(PG_URL);
    url.searchParams.set('schema', schema);
    const count = async (pgPreparedStatements = DEFAULTS.pgPreparedStatements) => {
      const handle = openDatabase(url.toString(), { ...DEFAULTS, pgPreparedStatements });
      try {
        // Inside one transaction, so every call uses the same connection.
        return await handle.db.transaction().execute(async (trx) => {
          for (let i = 0; i < 3; i++) await sql`SELECT v FROM t WHERE id = ${1}`.execute(trx);
          return (await sql<{ n: number }>`SELECT count(*)::int AS n FROM pg_prepared_statements`.execute(trx)).rows[0]!.n;
        });
      } finally {
        await handle.db.destroy();
      }
    };
    expect(await count()).toBe(1);
    // The setting reaches the store through the config module (which no longer leaves it to process.env).
    expect(await count(loadConfig({ env: { HERALD_PG_PREPARED_STATEMENTS: 'false' } }).pgPreparedStatements)).toBe(0);
  });
});
