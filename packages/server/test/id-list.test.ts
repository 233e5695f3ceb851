import { expect, it } from 'vitest';
import { inIds } from '../src/store/id-list.js';
import { Store } from '../src/store/index.js';
import { testDatabase } from './processes.js';

// Runs on the store of the test project (SQLite file or PostgreSQL schema).
it('a list of ids is one statement text whatever its length, and matches exactly those ids', async () => {
  const store = await Store.open(testDatabase());
  try {
    const now = Date.now();
    await store.db.insertInto('tenants').values({ id: 't', name: 't', created_at: now }).execute();
    const ids = Array.from({ length: 30 }, (_, i) => `evt_${String(i).padStart(3, '0')}`);
    await store.db.insertInto('events')
      .values(ids.map((id) => ({ id, tenant_id: 't', type: 'x', payload: '{}', idempotency_key: null, environment: 'live', created_at: now })))
      .execute();
    const query = (list: readonly string[]) => store.db.selectFrom('events').select('id').where(inIds(store.dialect, 'id', list));
    expect(query(ids.slice(0, 1)).compile().sql).toBe(query(ids).compile().sql);
    const some = [ids[3]!, ids[17]!, 'evt_missing', ids[29]!];
    expect((await query(some).execute()).map((r) => r.id).sort()).toEqual([ids[3], ids[17], ids[29]]);
    expect(await query([]).execute()).toEqual([]);
    // Ids are data, never SQL: quotes and brackets match nothing and break nothing.
    expect(await query([`x'); DROP TABLE events; --`, '"]', '{a,b}']).execute()).toEqual([]);
    expect((await store.events.getForDispatch(ids.slice(5, 8))).size).toBe(3);
  } finally {
    await store.close();
  }
});
