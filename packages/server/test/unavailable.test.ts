import { describe, expect, it } from 'vitest';
import { describeUnavailable, isRollbackOfLostTransaction, isUnavailable } from '../src/store/unavailable.js';

const err = (message: string, props: Record<string, unknown> = {}) => Object.assign(new Error(message), props);

describe('isUnavailable: the one classifier of unavailable-database errors', () => {
  it('recognises a server going away or starting, dropped and refused connections, timeouts, full or read-only storage', () => {
    const yes = [
      err('terminating connection due to administrator command', { code: '57P01' }),
      err('the database system is starting up', { code: '57P03' }),
      err('the database system is shutting down', { code: '57P03' }),
      err('canceling statement due to statement timeout', { code: '57014' }),
      err('connection failure', { code: '08006' }),
      err('sorry, too many clients already', { code: '53300' }),
      err('could not extend file: No space left on device', { code: '53100' }),
      err('cannot execute INSERT in a read-only transaction', { code: '25006' }),
      err('connect ECONNREFUSED 127.0.0.1:5432', { code: 'ECONNREFUSED' }),
      err('read ECONNRESET', { code: 'ECONNRESET' }),
      err('getaddrinfo EAI_AGAIN db.internal', { code: 'EAI_AGAIN' }),
      err('Connection terminated unexpectedly'),
      err('Connection terminated due to connection timeout'),
      err('timeout exceeded when trying to connect'),
      err('Query read timeout'),
      err('Client has encountered a connection error and is not queryable'),
      err('database or disk is full', { code: 'SQLITE_FULL' }),
      err('disk I/O error', { code: 'SQLITE_IOERR_WRITE' }),
      err('attempt to write a readonly database', { code: 'SQLITE_READONLY' }),
      err('wrapped', { cause: err('x', { code: '57P01' }) }),
    ];
    for (const e of yes) expect(isUnavailable(e), e.message).toBe(true);
  });

  it('leaves request errors and bugs alone: they are 4xx or 500, not "retry later"', () => {
    const no = [
      err('duplicate key value violates unique constraint', { code: '23505' }),
      err('syntax error at or near "SELEC"', { code: '42601' }),
      err('relation "x" does not exist', { code: '42P01' }),
      err('UNIQUE constraint failed: events.id', { code: 'SQLITE_CONSTRAINT_PRIMARYKEY' }),
      err('database is locked', { code: 'SQLITE_BUSY' }),
      new TypeError('cannot read properties of undefined'),
      'a string', null, undefined,
    ];
    for (const e of no) expect(isUnavailable(e), String(e)).toBe(false);
  });

  it('describes without credentials, and knows a ROLLBACK of a transaction already gone', () => {
    expect(describeUnavailable(err('connect ECONNREFUSED 127.0.0.1:5432', { code: 'ECONNREFUSED' }))).toBe('connect ECONNREFUSED 127.0.0.1:5432');
    expect(describeUnavailable(err('terminating connection due to administrator command', { code: '57P01' }))).toBe('57P01: terminating connection due to administrator command');
    expect(isRollbackOfLostTransaction(err('cannot rollback - no transaction is active', { code: 'SQLITE_ERROR' }))).toBe(true);
    expect(isRollbackOfLostTransaction(err('Client was closed and is not queryable'))).toBe(true);
    expect(isRollbackOfLostTransaction(err('deadlock detected', { code: '40P01' }))).toBe(false);
  });
});
