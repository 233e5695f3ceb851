import { encodeTime } from 'ulid';
import type { Kysely } from 'kysely';
import type { Database } from './schema.js';

/**
 * Deletes events created before `cutoff` together with their deliveries and attempts, a small
 * batch per transaction so no lock is held for long. Events with a delivery still in progress
 * (pending, retrying, delivering, or parked on a disabled endpoint) are kept. Event ids are
 * ULIDs, so "created before" is a range scan of the primary key.
 */
export async function pruneEvents(db: Kysely<Database>, cutoff: number, opts: { batchSize?: number; maxBatches?: number } = {}): Promise<number> {
  const batchSize = opts.batchSize ?? 500;
  const maxBatches = opts.maxBatches ?? 1000;
  const before = `evt_${encodeTime(cutoff, 10)}`;
  let after = '';
  let pruned = 0;
  for (let i = 0; i < maxBatches; i++) {
    const ids = (await db.selectFrom('events').select('id').where('id', '>', after).where('id', '<', before).orderBy('id').limit(batchSize).execute()).map((r) => r.id);
    if (ids.length === 0) break;
    after = ids.at(-1)!;
    pruned += await db.transaction().execute(async (trx) => {
      const live = new Set((await trx.selectFrom('deliveries').select('event_id').distinct()
        .where('event_id', 'in', ids).where('status', 'not in', ['delivered', 'failed']).execute()).map((r) => r.event_id));
      const doomed = ids.filter((id) => !live.has(id));
      if (doomed.length === 0) return 0;
      await trx.deleteFrom('attempts').where('delivery_id', 'in', trx.selectFrom('deliveries').select('id').where('event_id', 'in', doomed)).execute();
      await trx.deleteFrom('deliveries').where('event_id', 'in', doomed).execute();
      await trx.deleteFrom('events').where('id', 'in', doomed).execute();
      return doomed.length;
    });
    if (ids.length < batchSize) break;
  }
  await db.deleteFrom('recoveries').where('finished_at', '<', cutoff).execute();
  return pruned;
}
