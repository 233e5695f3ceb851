/**
 * The one place that decides whether a database error means "the store cannot be reached or
 * written right now" (retry later, answer 503) rather than "this request is wrong" or a bug.
 * Everything else (API errors, the worker, the listener, the outage tracker) asks here.
 */

/**
 * PostgreSQL SQLSTATEs of a server that is going away, starting, overloaded or read-only:
 * class 08 (connection exception), 57P01–57P03 (admin/crash shutdown, cannot connect now),
 * 57014 (statement cancelled: a timeout), 53xxx (insufficient resources: disk full, out of
 * memory, too many connections) and 25006 (a read-only transaction: after a failover, a
 * connection that reached a standby).
 */
const PG_STATES = /^(08...|57P0[123]|57014|53...|25006)$/;

/** Socket and DNS errors on the way to the server (a failover's new address may not resolve yet). */
const NET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'EHOSTDOWN', 'ENETUNREACH', 'ENETDOWN', 'EAI_AGAIN', 'ENOTFOUND', 'ENOSPC', 'EIO', 'EROFS']);

/** SQLite: the disk is full, the file cannot be read or written, or has become read-only (extended codes included). */
const SQLITE_CODES = /^SQLITE_(FULL|IOERR|READONLY|CANTOPEN)/;

/** node-postgres errors that carry no code: a dropped or timed-out connection, an exhausted pool wait. */
const PG_MESSAGES = [
  'Connection terminated', // also "… unexpectedly" and "… due to connection timeout"
  'timeout exceeded when trying to connect',
  'Query read timeout',
  'is not queryable', // "Client has encountered a connection error and …", "Client was closed and …"
];

/** True when `err` (or its cause) says the database is unreachable, unwritable or going away: retry later. */
export function isUnavailable(err: unknown): boolean {
  for (let e = err, depth = 0; e && typeof e === 'object' && depth < 3; e = (e as { cause?: unknown }).cause, depth++) {
    const { code, message } = e as { code?: unknown; message?: unknown };
    if (typeof code === 'string' && (PG_STATES.test(code) || NET_CODES.has(code) || SQLITE_CODES.test(code))) return true;
    if (typeof message === 'string' && PG_MESSAGES.some((m) => message.includes(m))) return true;
  }
  return false;
}

/** A short, credential-free description of an unavailable-store error, for logs and `/ready`. */
export function describeUnavailable(err: unknown): string {
  const { code, message } = (err ?? {}) as { code?: unknown; message?: unknown };
  const text = typeof message === 'string' ? message.split('\n')[0]!.slice(0, 200) : String(err);
  return typeof code === 'string' && !text.includes(code) ? `${code}: ${text}` : text;
}

/**
 * A failed ROLLBACK that only says the transaction is already gone: the connection dropped, or
 * SQLite rolled back by itself (it does after SQLITE_FULL and I/O errors). The error that caused
 * the rollback is the one worth reporting.
 */
export function isRollbackOfLostTransaction(err: unknown): boolean {
  return isUnavailable(err) || (typeof (err as { message?: unknown })?.message === 'string' && (err as Error).message.includes('no transaction is active'));
}
