import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { ApiKey } from '../core/model.js';
import { toApiKey } from './rows.js';
import type { Database } from './schema.js';

/** API keys are random 192-bit tokens, so a fast SHA-256 is the right hash: nothing to brute-force. */
export const hashApiKey = (key: string): string => createHash('sha256').update(key).digest('hex');

export class ApiKeyRepo {
  constructor(private readonly db: Kysely<Database>) {}

  async insert(key: ApiKey, secretKey: string): Promise<void> {
    await this.db
      .insertInto('api_keys')
      .values({
        id: key.id,
        tenant_id: key.tenantId,
        name: key.name,
        prefix: key.prefix,
        key_hash: hashApiKey(secretKey),
        created_at: key.createdAt,
        expires_at: key.expiresAt,
        revoked_at: null,
      })
      .execute();
  }

  /** The live key matching `secretKey`, if any (not revoked, not expired, tenant not deleted). */
  async findActive(secretKey: string, now: number): Promise<ApiKey | undefined> {
    const row = await this.db
      .selectFrom('api_keys')
      .leftJoin('tenants', 'tenants.id', 'api_keys.tenant_id')
      .selectAll('api_keys')
      .select('tenants.deleted_at as tenant_deleted_at')
      .where('key_hash', '=', hashApiKey(secretKey))
      .executeTakeFirst();
    if (!row || row.revoked_at !== null) return undefined;
    if (row.expires_at !== null && Number(row.expires_at) <= now) return undefined;
    if (row.tenant_id !== null && row.tenant_deleted_at !== null) return undefined;
    return toApiKey(row);
  }

  async findById(id: string): Promise<ApiKey | undefined> {
    const row = await this.db.selectFrom('api_keys').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toApiKey(row);
  }

  async list(tenantId: string): Promise<ApiKey[]> {
    const rows = await this.db.selectFrom('api_keys').selectAll().where('tenant_id', '=', tenantId).orderBy('id', 'desc').execute();
    return rows.map(toApiKey);
  }

  async revoke(tenantId: string, id: string, now: number): Promise<boolean> {
    const res = await this.db
      .updateTable('api_keys')
      .set({ revoked_at: now })
      .where('tenant_id', '=', tenantId)
      .where('id', '=', id)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }
}
