import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { parseInstant } from '../../core/input.js';
import type { ApiContext } from '../context.js';
import { presentApiKey, presentTenant } from '../present.js';
import { errorResponses, Nullable, PageQuery, pageOf, TenantParams } from '../schemas.js';

const tags = ['Tenants'];

export const tenantRoutes = (api: ApiContext): FastifyPluginAsyncTypebox => async (app) => {
  app.post('/v1/tenants', {
    schema: {
      tags, summary: 'Create a tenant (admin)',
      body: Type.Object({ id: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })), name: Type.String({ minLength: 1, maxLength: 256 }) }, { additionalProperties: false }),
      response: { 201: Type.Ref('Tenant'), ...errorResponses(400, 401, 403, 409) },
    },
  }, async (req, reply) => {
    api.auth.requireAdmin(req);
    return reply.status(201).send(presentTenant(await api.tenants.create(req.body)));
  });

  app.get('/v1/tenants', {
    schema: { tags, summary: 'List tenants (admin)', querystring: Type.Object(PageQuery), response: { 200: pageOf(Type.Ref('Tenant')), ...errorResponses(401, 403) } },
  }, async (req) => {
    api.auth.requireAdmin(req);
    const page = await api.store.tenants.list(req.query.cursor, req.query.limit ?? 50);
    return { data: page.data.map(presentTenant), next_cursor: page.nextCursor };
  });

  app.get('/v1/tenants/:tid', {
    schema: { tags, summary: 'Get a tenant (admin)', params: TenantParams, response: { 200: Type.Ref('Tenant'), ...errorResponses(401, 403, 404) } },
  }, async (req) => {
    api.auth.requireAdmin(req);
    return presentTenant(await api.tenants.get(req.params.tid));
  });

  app.delete('/v1/tenants/:tid', {
    schema: { tags, summary: 'Delete a tenant, its keys and endpoints (admin)', params: TenantParams, response: { 204: Type.Null(), ...errorResponses(401, 403, 404) } },
  }, async (req, reply) => {
    api.auth.requireAdmin(req);
    await api.tenants.delete(req.params.tid);
    return reply.status(204).send(null);
  });

  app.post('/v1/tenants/:tid/api-keys', {
    schema: {
      tags, summary: 'Issue a tenant API key (admin); the key is shown only in this response',
      params: TenantParams,
      body: Type.Object({ name: Type.Optional(Type.String({ maxLength: 256 })), expires_at: Type.Optional(Nullable(Type.String({ format: 'date-time' }))) }, { additionalProperties: false }),
      response: { 201: Type.Object({ id: Type.String(), key: Type.String(), prefix: Type.String(), name: Nullable(Type.String()), created_at: Type.String(), expires_at: Nullable(Type.String()) }), ...errorResponses(400, 401, 403, 404) },
    },
  }, async (req, reply) => {
    api.auth.requireAdmin(req);
    // NaN (never past the date-time format check) is refused by the service, never read as "no expiry".
    const expires = req.body.expires_at ? (parseInstant(req.body.expires_at) ?? Number.NaN) : null;
    const { key, secret } = await api.tenants.issueKey(req.params.tid, { name: req.body.name ?? null, expiresAt: expires });
    const shown = presentApiKey(key);
    return reply.status(201).send({ id: key.id, key: secret, prefix: key.prefix, name: key.name, created_at: shown.created_at, expires_at: shown.expires_at });
  });

  app.get('/v1/tenants/:tid/api-keys', {
    schema: { tags, summary: 'List a tenant\'s API keys (prefixes only)', params: TenantParams, response: { 200: Type.Object({ data: Type.Array(Type.Ref('ApiKey')) }), ...errorResponses(401, 404) } },
  }, async (req) => {
    const tid = await api.auth.tenantFor(req, req.params.tid);
    return { data: (await api.store.apiKeys.list(tid)).map(presentApiKey) };
  });

  app.delete('/v1/tenants/:tid/api-keys/:kid', {
    schema: { tags, summary: 'Revoke an API key', params: Type.Object({ tid: Type.String(), kid: Type.String() }), response: { 204: Type.Null(), ...errorResponses(401, 404) } },
  }, async (req, reply) => {
    const tid = await api.auth.tenantFor(req, req.params.tid);
    await api.tenants.revokeKey(tid, req.params.kid);
    return reply.status(204).send(null);
  });
};
