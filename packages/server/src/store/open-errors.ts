/**
 * Why the store could not be opened, as the one line start-up prints: it names DATABASE_URL and
 * says what to check. The driver's own message says what happened, not where to look.
 */

/** The store could not be opened; the message is the line `herald` prints before exiting. */
export class StoreOpenError extends Error {
  override name = 'StoreOpenError';
}

const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNRESET']);

interface Coded {
  code?: unknown;
  message?: unknown;
  cause?: unknown;
  errors?: unknown;
}

/** The first error with a code in `err`'s cause chain (and an AggregateError's parts): the driver's own. */
function codedError(err: unknown): { code: string; message: string } | null {
  for (let e = err as Coded | undefined, depth = 0; e && depth < 5; e = e.cause as Coded | undefined, depth++) {
    if (typeof e.code === 'string') return { code: e.code, message: String(e.message) };
    const first = Array.isArray(e.errors) ? (e.errors[0] as Coded | undefined) : undefined;
    if (typeof first?.code === 'string') return { code: first.code, message: String(first.message) };
  }
  return null;
}

/**
 * A failed open or migration as one line, or null when nothing better than the error's own message
 * can be said. `location` is the store as `Store.location` shows it (no credentials).
 */
export function describeOpenError(err: unknown, location?: string): string | null {
  if (err instanceof StoreOpenError) return err.message;
  const e = codedError(err);
  if (!e) return null;
  const at = location ? ` (${location})` : '';
  if (UNREACHABLE.has(e.code)) {
    return `DATABASE_URL: cannot reach PostgreSQL${at}: ${e.message}. Check the host and port, and that the server runs and accepts connections from here`;
  }
  switch (e.code) {
    case '3D000':
      return `DATABASE_URL: ${e.message}${at}. Create it (e.g. \`createdb <name>\`) or correct the database name`;
    case '28P01':
    case '28000':
      return `DATABASE_URL: PostgreSQL refused the login${at}: ${e.message}. Check the user name and password`;
    case '42501':
      return `DATABASE_URL: permission denied${at}: ${e.message}. The user needs to create and change tables in its schema`;
    case 'SQLITE_CANTOPEN':
      return `DATABASE_URL: cannot open the SQLite file${at}. Check that the path names a file and that its folder exists`;
    case 'SQLITE_NOTADB':
      return `DATABASE_URL: not a SQLite database${at}`;
  }
  if (e.code.startsWith('SQLITE_READONLY')) return readOnly(location ?? 'the store', e.message);
  return null;
}

/** The store answers but refuses writes. */
export function readOnly(location: string, why: string): string {
  return location.startsWith('postgres')
    ? `DATABASE_URL: the database is read-only (${location}): ${why}. Point it at the primary, not a standby, and check default_transaction_read_only and the user's privileges`
    : `DATABASE_URL: the SQLite database ${location} is read-only (${why}). Make the file and its folder writable by this process (Herald writes the -wal and -shm files beside it)`;
}

/** The schema holds migrations this version does not know: a newer Herald migrated it. */
export function newerSchema(location: string | undefined, unknown: readonly string[], latest: string): string {
  return `DATABASE_URL: the database was migrated by a newer Herald (${location ?? 'it'} has ${unknown.join(', ')}; this version knows up to ${latest}). Run that newer version, or restore a backup taken before the upgrade`;
}
