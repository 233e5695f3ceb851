import { createPublicKey, createSecretKey, type KeyObject } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { jwtVerify } from 'jose';
import { HeraldError } from '../../core/errors.js';
import type { ApiContext } from '../context.js';
import { bearerToken } from '../auth.js';

const looksLikeJwt = (token: string) => token.split('.').length === 3;
const header = (req: FastifyRequest, name: string): string | undefined => {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
};

/**
 * The Screenshot API guide's three ways to authenticate, each resolving to a user (= tenant):
 * `X-API-Key: sk_live_…`; `Authorization: Bearer <JWT>` whose `sub` is the user; and
 * `X-API-Key-ID: ak_…` with a Bearer JWT, where both must be valid and name the same user.
 * Every failure is the same 401.
 */
export class ScreenshotAuth {
  private readonly key: KeyObject | null;
  private readonly algorithms: string[];

  constructor(private readonly api: ApiContext) {
    const { jwtSecret, jwtPublicKey } = api.config;
    if (jwtPublicKey) {
      this.key = createPublicKey(jwtPublicKey);
      this.algorithms = this.key.asymmetricKeyType === 'ec' ? ['ES256', 'ES384', 'ES512'] : ['RS256', 'RS384', 'RS512', 'PS256'];
    } else if (jwtSecret) {
      this.key = createSecretKey(Buffer.from(jwtSecret));
      this.algorithms = ['HS256'];
    } else {
      this.key = null;
      this.algorithms = [];
    }
  }

  async userFor(req: FastifyRequest): Promise<{ user: string; keyId: string | null }> {
    const denied = () => new HeraldError('unauthorized', 'Authentication required');
    const apiKey = header(req, 'x-api-key');
    const keyId = header(req, 'x-api-key-id');
    const bearer = bearerToken(req.headers.authorization);
    const now = this.api.clock.now();

    if (apiKey && !keyId) {
      const key = await this.api.store.apiKeys.findActive(apiKey, now);
      if (!key?.tenantId) throw denied();
      return { user: key.tenantId, keyId: key.id };
    }
    if (!bearer) throw denied();
    if (!looksLikeJwt(bearer)) {
      // A Herald API key sent as a bearer token works too.
      if (keyId) throw denied();
      const key = await this.api.store.apiKeys.findActive(bearer, now);
      if (!key?.tenantId) throw denied();
      return { user: key.tenantId, keyId: key.id };
    }
    const sub = await this.verifyJwt(bearer);
    if (!sub) throw denied();
    if (keyId) {
      // Only an in-process request can carry NUL in a header (HTTP parsers refuse it); PostgreSQL cannot take it.
      if (keyId.includes('\u0000')) throw denied();
      const key = await this.api.store.apiKeys.findById(keyId);
      const live = key && key.revokedAt === null && (key.expiresAt === null || key.expiresAt > now);
      if (!live || key.tenantId !== sub) throw denied();
    }
    if (!(await this.api.store.tenants.get(sub))) throw denied();
    return { user: sub, keyId: keyId ?? null };
  }

  /**
   * The verified `sub`, or null for anything expired, wrongly signed, unsigned (`alg: none`) or
   * without a subject. A token without `exp` would be valid forever (a leaked one could never be
   * cut off short of changing the key): refused unless HERALD_JWT_ALLOW_NO_EXP.
   */
  private async verifyJwt(token: string): Promise<string | null> {
    if (!this.key) return null;
    try {
      const { payload } = await jwtVerify(token, this.key, {
        algorithms: this.algorithms, currentDate: new Date(this.api.clock.now()),
        requiredClaims: this.api.config.jwtAllowNoExp ? [] : ['exp'],
      });
      return typeof payload.sub === 'string' && payload.sub !== '' ? payload.sub : null;
    } catch {
      return null;
    }
  }
}
