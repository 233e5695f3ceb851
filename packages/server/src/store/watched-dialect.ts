import type { CompiledQuery, DatabaseConnection, Dialect, Driver } from 'kysely';
import { isRollbackOfLostTransaction } from './unavailable.js';

/**
 * A dialect whose every failed database call (getting a connection, any statement, BEGIN, COMMIT)
 * is shown to `report` before the caller sees it: the store notices an outage whoever hit it
 * first, the API, the worker or a background job.
 *
 * A ROLLBACK that fails because the transaction is already gone (the connection dropped; SQLite
 * rolled back by itself after SQLITE_FULL) is not thrown: Kysely would throw it in place of the
 * error that caused the rollback, and that one says what happened (and is a 503, not a 500).
 */
export function watchedDialect(dialect: Dialect, report: (err: unknown, startedAt: number) => void): Dialect {
  return new Proxy(dialect, {
    get: (target, prop) => (prop === 'createDriver' ? () => watchedDriver(target.createDriver(), report) : Reflect.get(target, prop, target)),
  });
}

function watchedDriver(driver: Driver, report: (err: unknown, startedAt: number) => void): Driver {
  const watched = new WeakSet<DatabaseConnection>();
  const failSince = (startedAt: number) => (err: unknown): never => {
    report(err, startedAt);
    throw err;
  };
  const acquireConnection = async (): Promise<DatabaseConnection> => {
    const startedAt = Date.now();
    let connection: DatabaseConnection;
    try {
      connection = await driver.acquireConnection();
    } catch (err) {
      return failSince(startedAt)(err);
    }
    if (!watched.has(connection)) {
      watched.add(connection);
      // The driver runs BEGIN, COMMIT and ROLLBACK through this too. SQLite's throws synchronously.
      const execute = connection.executeQuery.bind(connection) as DatabaseConnection['executeQuery'];
      connection.executeQuery = <R>(query: CompiledQuery) => {
        const fail = failSince(Date.now());
        try {
          return execute<R>(query).catch(fail);
        } catch (err) {
          return fail(err);
        }
      };
    }
    return connection;
  };
  const rollbackTransaction = async (connection: DatabaseConnection): Promise<void> => {
    try {
      await driver.rollbackTransaction(connection);
    } catch (err) {
      if (!isRollbackOfLostTransaction(err)) throw err;
    }
  };
  return new Proxy(driver, {
    get: (target, prop) => {
      if (prop === 'acquireConnection') return acquireConnection;
      if (prop === 'rollbackTransaction') return rollbackTransaction;
      const value = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
