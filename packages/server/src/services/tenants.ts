import { HeraldError, notFound } from '../core/errors.js';
import { newId, randomToken } from '../core/ids.js';
import type { ApiKey, Tenant } from '../core/model.js';
import type { ServiceContext } from './context.js';

export interface IssuedKey {
  key: ApiKey;
  /** The secret key itself: shown once, stored only as a hash. */
  secret: string;
}

const TENANT_ID = /^[A-Za-z0-9_-]{1,64}$/;

export class TenantService {
  constructor(private readonly ctx: ServiceContext) {}

  async create(input: { id?: string; name: string }): Promise<Tenant> {
    const id = input.id ?? newId('org');
    if (!TENANT_ID.test(id)) throw new HeraldError('validation_error', 'id must be 1-64 letters, digits, "_" or "-"', [{ field: 'id', message: 'invalid format' }]);
    return this.ctx.store.tenants.create(id, input.name, this.ctx.clock.now());
  }

  async get(id: string): Promise<Tenant> {
    const tenant = await this.ctx.store.tenants.get(id);
    if (!tenant) throw notFound('Tenant', id);
    return tenant;
  }

  async delete(id: string): Promise<void> {
    if (!(await this.ctx.store.tenants.delete(id, this.ctx.clock.now()))) throw notFound('Tenant', id);
  }

  /** Issues an API key: tenant-scoped when `tenantId` is given, admin otherwise. */
  async issueKey(tenantId: string | null, opts: { name?: string | null; expiresAt?: number | null } = {}): Promise<IssuedKey> {
    if (tenantId !== null) await this.get(tenantId);
    const now = this.ctx.clock.now();
    // Every check before the write: a NaN expiry was once written as "never expires" (SQLite binds NaN as NULL).
    if (opts.expiresAt !== undefined && opts.expiresAt !== null && !Number.isSafeInteger(opts.expiresAt)) {
      throw new HeraldError('validation_error', 'expires_at must be a real date-time', [{ field: 'expires_at', message: 'not a real instant' }]);
    }
    if (opts.expiresAt != null && opts.expiresAt <= now) {
      throw new HeraldError('validation_error', 'expires_at must be in the future', [{ field: 'expires_at', message: 'must be in the future' }]);
    }
    const secret = `${tenantId === null ? 'sk_admin_' : 'sk_live_'}${randomToken(24)}`;
    const key: ApiKey = {
      id: newId('ak', now),
      tenantId,
      name: opts.name ?? null,
      prefix: secret.slice(0, secret.indexOf('_', 3) + 5),
      createdAt: now,
      expiresAt: opts.expiresAt ?? null,
      revokedAt: null,
    };
    await this.ctx.store.apiKeys.insert(key, secret);
    return { key, secret };
  }

  async revokeKey(tenantId: string, keyId: string): Promise<void> {
    if (!(await this.ctx.store.apiKeys.revoke(tenantId, keyId, this.ctx.clock.now()))) throw notFound('API key', keyId);
  }
}
