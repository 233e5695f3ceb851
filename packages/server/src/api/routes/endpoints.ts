import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { getProfile } from '../../core/profiles/index.js';
import type { ApiContext } from '../context.js';
import { parseTime, presentEndpoint, presentListedEndpoint, presentRecovery } from '../present.js';
import { errorResponses, Nullable, PageQuery, pageOf, TenantParams } from '../schemas.js';

const tags = ['Endpoints'];
const Params = Type.Object({ tid: Type.String(), eid: Type.String() });

const fields = {
  url: Type.String({ minLength: 1, maxLength: 2048 }),
  description: Nullable(Type.String({ maxLength: 1000 })),
  event_types: Nullable(Type.Array(Type.String({ minLength: 1, maxLength: 255 }), { maxItems: 1000 })),
  headers: Type.Record(Type.String(), Type.String({ maxLength: 4096 }), { maxProperties: 50 }),
  rate_limit: Nullable(Type.Integer({ minimum: 1, maximum: 100_000, description: 'deliveries per second' })),
  max_in_flight: Nullable(Type.Integer({ minimum: 1, maximum: 1000, description: 'attempts in flight at once per worker process (default HERALD_ENDPOINT_MAX_IN_FLIGHT)' })),
  timeout_ms: Nullable(Type.Integer({ minimum: 100, description: 'attempt timeout; at most HERALD_ATTEMPT_TIMEOUT_MS' })),
  fifo: Type.Boolean({ description: 'strict ordering: one delivery at a time, in event order; a failing delivery holds the ones after it until it is delivered or fails for good. Applies to deliveries made after it is set.' }),
  metadata: Type.Record(Type.String(), Type.Unknown(), { maxProperties: 100 }),
  status: Type.Union([Type.Literal('enabled'), Type.Literal('disabled')]),
};

export const endpointRoutes = (api: ApiContext): FastifyPluginAsyncTypebox => async (app) => {
  app.get('/v1/tenants/:tid/endpoints', {
    schema: { tags, summary: 'List endpoints (custom header values masked)', params: TenantParams, querystring: Type.Object(PageQuery), response: { 200: pageOf(Type.Ref('Endpoint')), ...errorResponses(401, 404) } },
  }, async (req) => {
    const tid = await api.auth.tenantFor(req, req.params.tid);
    const page = await api.store.endpoints.list(tid, { cursor: req.query.cursor, limit: req.query.limit ?? 50 });
    return { data: page.data.map(presentListedEndpoint), next_cursor: page.nextCursor };
  });

  app.post('/v1/tenants/:tid/endpoints', {
    schema: {
      tags, summary: 'Create an endpoint; a signing secret is generated unless given',
      params: TenantParams,
      body: Type.Object({
        url: fields.url,
        description: Type.Optional(fields.description),
        event_types: Type.Optional(fields.event_types),
        profile: Type.Optional(Type.String({ description: 'standard (default), or a compatibility profile' })),
        headers: Type.Optional(fields.headers),
        rate_limit: Type.Optional(fields.rate_limit),
        max_in_flight: Type.Optional(fields.max_in_flight),
        timeout_ms: Type.Optional(fields.timeout_ms),
        fifo: Type.Optional(fields.fifo),
        metadata: Type.Optional(fields.metadata),
        secret: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
        status: Type.Optional(fields.status),
      }, { additionalProperties: false }),
      response: { 201: Type.Ref('Endpoint'), ...errorResponses(400, 401, 404) },
    },
  }, async (req, reply) => {
    const tid = await api.auth.tenantFor(req, req.params.tid);
    const b = req.body;
    const endpoint = await api.endpoints.create(tid, {
      url: b.url, description: b.description, eventTypes: b.event_types, profile: b.profile, headers: b.headers,
      rateLimit: b.rate_limit, maxInFlight: b.max_in_flight, timeoutMs: b.timeout_ms, fifo: b.fifo, metadata: b.metadata, secret: b.secret, status: b.status,
    });
    return reply.status(201).send(presentEndpoint(endpoint));
  });

  app.get('/v1/tenants/:tid/endpoints/:eid', {
    schema: { tags, summary: 'Get an endpoint, custom header values in full', params: Params, response: { 200: Type.Ref('Endpoint'), ...errorResponses(401, 404) } },
  }, async (req) => {
    const tid = await api.auth.tenantFor(req, req.params.tid);
    return presentEndpoint(await api.endpoints.get(tid, req.params.eid));
  });

  app.patch('/v1/tenants/:tid/endpoints/:eid', {
    schema: {
      tags, summary: 'Change an endpoint; disabling parks its pending deliveries, enabling resumes them',
      params: Params,
      body: Type.Object({
        url: Type.Optional(fields.url),
        description: Type.Optional(fields.description),
        event_types: Type.Optional(fields.event_types),
        headers: Type.Optional(fields.headers),
        rate_limit: Type.Optional(fields.rate_limit),
        max_in_flight: Type.Optional(fields.max_in_flight),
        timeout_ms: Type.Optional(fields.timeout_ms),
        fifo: Type.Optional(fields.fifo),
        metadata: Type.Optional(fields.metadata),
        status: Type.Optional(fields.status),
      }, { additionalProperties: false }),
      response: { 200: Type.Ref('Endpoint'), ...errorResponses(400, 401, 404) },
    },
  }, async (req) => {
    const tid = await api.auth.tenantFor(req, req.params.tid);
    const b = req.body;
    const endpoint = await api.endpoints.update(tid, req.params.eid, {
      url: b.url, description: b.description, eventTypes: b.event_types, headers: b.headers,
      rateLimit: b.rate_limit, maxInFlight: b.max_in_flight, timeoutMs: b.timeout_ms, fifo: b.fifo, metadata: b.metadata, status: b.status,
    });
    return presentEndpoint(endpoint);
  });

  app.delete('/v1/tenants/:tid/endpoints/:eid', {
    schema: { tags, summary: 'Delete an endpoint; its unfinished deliveries end as failed', params: Params, response: { 204: Type.Null(), ...errorResponses(401, 404) } },
  }, async (req, reply) => {
    const tid = await api.auth.tenantFor(req, req.params.tid);
    await api.endpoints.delete(tid, req.params.eid);
    return reply.status(204).send(null);
  });

  app.post('/v1/tenants/:tid/endpoints/:eid/recover', {
    schema: {
      tags, summary: 'Re-send, in the background, every failed delivery to this endpoint created since a time (one attempt each)',
      description: 'Idempotent: asking again for the same endpoint and `since` while the job is queued or running returns that job (200). Follow its progress with GET …/recoveries/{rid}.',
      params: Params,
      body: Type.Object({ since: Type.String({ format: 'date-time', description: 'ISO 8601' }) }, { additionalProperties: false }),
      response: { 202: Type.Ref('Recovery'), 200: Type.Ref('Recovery'), ...errorResponses(400, 401, 404) },
    },
  }, async (req, reply) => {
    const tid = await api.auth.tenantFor(req, req.params.tid);
    const { recovery, created } = await api.deliveries.recover(tid, req.params.eid, parseTime(req.body.since, 'since')!);
    return reply.status(created ? 202 : 200).send(presentRecovery(recovery));
  });

  app.get('/v1/tenants/:tid/endpoints/:eid/recoveries', {
    schema: { tags, summary: 'Recovery jobs of this endpoint, newest first (last 50)', params: Params, response: { 200: Type.Object({ data: Type.Array(Type.Ref('Recovery')) }), ...errorResponses(401, 404) } },
  }, async (req) => {
    const tid = await api.auth.tenantFor(req, req.params.tid);
    return { data: (await api.deliveries.recoveries(tid, req.params.eid)).map(presentRecovery) };
  });

  app.get('/v1/tenants/:tid/recoveries/:rid', {
    schema: { tags, summary: 'A recovery job and its progress', params: Type.Object({ tid: Type.String(), rid: Type.String() }), response: { 200: Type.Ref('Recovery'), ...errorResponses(401, 404) } },
  }, async (req) => {
    const tid = await api.auth.tenantFor(req, req.params.tid);
    return presentRecovery(await api.deliveries.recovery(tid, req.params.rid));
  });

  app.get('/v1/tenants/:tid/endpoints/:eid/secret', {
    schema: { tags, summary: 'Read the endpoint\'s signing secret', params: Params, response: { 200: Type.Object({ key: Type.String() }), ...errorResponses(401, 404) } },
  }, async (req) => {
    const tid = await api.auth.tenantFor(req, req.params.tid);
    return { key: (await api.endpoints.get(tid, req.params.eid)).secret };
  });

  app.post('/v1/tenants/:tid/endpoints/:eid/secret/rotate', {
    schema: {
      tags, summary: 'Rotate the signing secret; the old one keeps signing (alongside) for the grace period',
      params: Params,
      body: Type.Object({ key: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })) }, { additionalProperties: false }),
      response: { 200: Type.Object({ key: Type.String() }), ...errorResponses(400, 401, 404) },
    },
  }, async (req) => {
    const tid = await api.auth.tenantFor(req, req.params.tid);
    return { key: (await api.endpoints.rotateSecret(tid, req.params.eid, req.body.key)).secret };
  });

  app.post('/v1/tenants/:tid/endpoints/:eid/test', {
    schema: {
      tags, summary: 'Send a test event to this endpoint only',
      params: Params,
      body: Type.Object({ event_type: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })) }, { additionalProperties: false }),
      response: { 202: Type.Object({ event_id: Type.String(), delivery_id: Type.String() }), ...errorResponses(400, 401, 404) },
    },
  }, async (req, reply) => {
    const tid = await api.auth.tenantFor(req, req.params.tid);
    const endpoint = await api.endpoints.get(tid, req.params.eid);
    const sample = getProfile(endpoint.profile).testEvent(req.body.event_type, endpoint);
    const { event, deliveryId } = await api.events.sendTest(endpoint, sample.type, sample.data);
    return reply.status(202).send({ event_id: event.id, delivery_id: deliveryId });
  });
};
