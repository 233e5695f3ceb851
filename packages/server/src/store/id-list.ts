import { sql, type RawBuilder, type SqlBool } from 'kysely';
import type { DialectName } from './connect.js';

/**
 * `column IN (ids)` as one statement text whatever the list's length: `= ANY($1)` with an array on
 * PostgreSQL, `IN (SELECT value FROM json_each(?))` on SQLite. Written as a plain `IN`, lists of
 * every length from 1 to a few hundred (a claim's events and endpoints, lease renewals) are each a
 * statement of their own, and fill the caches of prepared statements (pg-prepared.ts on
 * PostgreSQL, connect.ts on SQLite) with near copies of one query.
 */
export function inIds(dialect: DialectName, column: string, ids: readonly string[]): RawBuilder<SqlBool> {
  return dialect === 'postgres'
    ? sql<SqlBool>`${sql.ref(column)} = ANY(${[...ids]})`
    : sql<SqlBool>`${sql.ref(column)} IN (SELECT value FROM json_each(${JSON.stringify(ids)}))`;
}
