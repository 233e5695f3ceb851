import type { Kysely } from 'kysely';
import { HeraldError } from '../core/errors.js';
import type { Tenant } from '../core/model.js';
import { toPage, type Page } from './page.js';
import { toTenant } from './rows.js';
import type { Database } from './schema.js';

export class TenantRepo {
  constructor(private readonly db: Kysely<Database>) {}

  /**
   * Creates the tenant, or answers `conflict` if its id is taken (by a deleted tenant too). The
   * primary key decides, so two requests racing for one id get one 201 and one 409.
   */
  async create(id: string, name: string, now: number): Promise<Tenant> {
    const row = { id, name, created_at: now, deleted_at: null };
    const res = await this.db.insertInto('tenants').values(row).onConflict((oc) => oc.column('id').doNothing()).executeTakeFirst();
    if (Number(res.numInsertedOrUpdatedRows ?? 0) === 0) throw new HeraldError('conflict', `tenant "${id}" already exists`, [{ field: 'id', message: 'already in use' }]);
    return toTenant(row);
  }

  async get(id: string): Promise<Tenant | undefined> {
    const row = await this.db.selectFrom('tenants').selectAll().where('id', '=', id).where('deleted_at', 'is', null).executeTakeFirst();
    return row && toTenant(row);
  }

  async list(cursor: string | undefined, limit: number): Promise<Page<Tenant>> {
    let q = this.db.selectFrom('tenants').selectAll().where('deleted_at', 'is', null);
    if (cursor) q = q.where('id', '<', cursor);
    const rows = await q.orderBy('id', 'desc').limit(limit + 1).execute();
    return toPage(rows.map(toTenant), limit);
  }

  /**
   * Soft-deletes the tenant: its keys stop working, its endpoints are removed and every unfinished
   * delivery ends as failed (parked ones of disabled endpoints and FIFO ones waiting their turn
   * included, since nothing would ever schedule them), all in one transaction. The delivery log
   * stays until retention prunes it.
   */
  async delete(id: string, now: number): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const res = await trx.updateTable('tenants').set({ deleted_at: now }).where('id', '=', id).where('deleted_at', 'is', null).executeTakeFirst();
      if (Number(res.numUpdatedRows) === 0) return false;
      await trx.updateTable('api_keys').set({ revoked_at: now }).where('tenant_id', '=', id).where('revoked_at', 'is', null).execute();
      await trx.updateTable('endpoints').set({ deleted_at: now, status: 'disabled', updated_at: now }).where('tenant_id', '=', id).where('deleted_at', 'is', null).execute();
      await trx
        .updateTable('deliveries')
        .set({ status: 'failed', next_attempt_at: null, lease_owner: null, updated_at: now })
        .where('tenant_id', '=', id)
        .where('status', 'in', ['pending', 'retrying', 'delivering'])
        .execute();
      return true;
    });
  }
}
