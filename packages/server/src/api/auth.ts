import { createHash } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { HeraldError, notFound } from '../core/errors.js';
import { safeEqual } from '../core/signing.js';
import type { ServiceContext } from '../services/context.js';

export type Principal = { kind: 'admin'; keyId: string | null } | { kind: 'tenant'; tenantId: string; keyId: string };

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
  }
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

export function bearerToken(header: string | undefined): string | null {
  if (!header) return null;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match ? match[1]! : null;
}

/**
 * Resolves an API key to who is calling. The bootstrap admin key is compared in constant time
 * (as hashes, so lengths never leak); stored keys are looked up by hash. Any failure is the same
 * 401, with no hint which part was wrong.
 */
export class Authenticator {
  private readonly adminKeyHash: string | null;

  constructor(private readonly ctx: ServiceContext) {
    this.adminKeyHash = ctx.config.adminKey ? sha256(ctx.config.adminKey) : null;
  }

  async principalFor(key: string | null): Promise<Principal> {
    if (!key) throw new HeraldError('unauthorized');
    if (this.adminKeyHash && safeEqual(sha256(key), this.adminKeyHash)) return { kind: 'admin', keyId: null };
    const found = await this.ctx.store.apiKeys.findActive(key, this.ctx.clock.now());
    if (!found) throw new HeraldError('unauthorized');
    return found.tenantId === null ? { kind: 'admin', keyId: found.id } : { kind: 'tenant', tenantId: found.tenantId, keyId: found.id };
  }

  async authenticate(req: FastifyRequest): Promise<void> {
    req.principal = await this.principalFor(bearerToken(req.headers.authorization));
  }

  requireAdmin(req: FastifyRequest): void {
    if (req.principal?.kind !== 'admin') throw new HeraldError('forbidden', 'this route needs an admin key');
  }

  /** The tenant a `/v1/tenants/{tid}/…` request may act on. Another tenant's id is a 404, as if it did not exist. */
  async tenantFor(req: FastifyRequest, tid: string): Promise<string> {
    const p = req.principal;
    if (p?.kind === 'tenant') {
      if (p.tenantId !== tid) throw notFound('Tenant', tid);
      return tid;
    }
    if (p?.kind === 'admin' && (await this.ctx.store.tenants.get(tid))) return tid;
    throw notFound('Tenant', tid);
  }
}
