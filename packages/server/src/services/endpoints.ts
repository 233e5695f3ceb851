import { HeraldError, notFound } from '../core/errors.js';
import { HEALTHY } from '../core/endpoint-health.js';
import type { Endpoint, EndpointStatus } from '../core/model.js';
import { DEFAULT_PROFILE, getProfile } from '../core/profiles/index.js';
import type { EndpointPatch } from '../store/index.js';
import type { ServiceContext } from './context.js';
import { checkEndpointUrl } from './urls.js';

export interface EndpointInput {
  url: string;
  description?: string | null;
  eventTypes?: string[] | null;
  profile?: string;
  headers?: Record<string, string>;
  rateLimit?: number | null;
  maxInFlight?: number | null;
  timeoutMs?: number | null;
  fifo?: boolean;
  metadata?: Record<string, unknown>;
  secret?: string;
  status?: EndpointStatus;
}

/** Header names an endpoint may not set: they belong to the transport or to the signature. */
const FORBIDDEN_HEADER = /^(host|content-type|content-length|transfer-encoding|connection|keep-alive|upgrade|te|trailer|proxy-.*|user-agent|webhook-.*|x-lily-.*|x-webhook-.*)$/i;
const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,256}$/;

function checkHeaders(headers: Record<string, string>): Record<string, string> {
  for (const [name, value] of Object.entries(headers)) {
    const fail = (message: string) => new HeraldError('validation_error', message, [{ field: `headers.${name}`, message }]);
    if (!HEADER_NAME.test(name)) throw fail(`"${name}" is not a valid header name`);
    if (FORBIDDEN_HEADER.test(name)) throw fail(`header "${name}" is set by Herald and cannot be overridden`);
    if (/[\r\n\0]/.test(value)) throw fail(`header "${name}" contains a line break`);
  }
  return headers;
}

function checkEventTypes(profileName: string, types: string[] | null | undefined, field = 'event_types'): void {
  const closed = getProfile(profileName).eventTypes;
  if (!closed || !types) return;
  for (const t of types) {
    if (!closed.includes(t)) {
      throw new HeraldError('validation_error', `unknown event type "${t}"`, [{ field, message: `must be one of: ${closed.join(', ')}`, code: 'INVALID_EVENT' }]);
    }
  }
}

export class EndpointService {
  constructor(private readonly ctx: ServiceContext) {}

  async create(tenantId: string, input: EndpointInput): Promise<Endpoint> {
    const profile = getProfile(input.profile ?? DEFAULT_PROFILE);
    const url = checkEndpointUrl(input.url, this.ctx.config);
    checkEventTypes(profile.name, input.eventTypes);
    if (input.secret !== undefined) {
      const problem = profile.checkSecret(input.secret);
      if (problem) throw new HeraldError('validation_error', problem, [{ field: 'secret', message: problem }]);
    }
    const now = this.ctx.clock.now();
    return this.ctx.store.endpoints.insert({
      id: profile.newEndpointId(),
      tenantId,
      url,
      description: input.description ?? null,
      profile: profile.name,
      eventTypes: input.eventTypes ? [...new Set(input.eventTypes)] : null,
      headers: checkHeaders(input.headers ?? {}),
      rateLimit: input.rateLimit ?? null,
      maxInFlight: input.maxInFlight ?? null,
      fifo: input.fifo ?? false,
      timeoutMs: this.checkTimeout(input.timeoutMs) ?? null,
      metadata: input.metadata ?? {},
      secret: input.secret ?? profile.generateSecret(),
      status: input.status ?? 'enabled',
      disabledReason: input.status === 'disabled' ? 'manual' : null,
      disabledAt: input.status === 'disabled' ? now : null,
      health: HEALTHY,
      createdAt: now,
      updatedAt: now,
    });
  }

  async get(tenantId: string, id: string): Promise<Endpoint> {
    const endpoint = await this.ctx.store.endpoints.get(tenantId, id);
    if (!endpoint) throw notFound('Endpoint', id);
    return endpoint;
  }

  /** A tenant's endpoint of one profile: compatibility APIs see only their own kind (anything else is "not found"). */
  async getOfProfile(tenantId: string, id: string, profile: string, resource = 'Webhook'): Promise<Endpoint> {
    const endpoint = await this.ctx.store.endpoints.get(tenantId, id);
    if (!endpoint || endpoint.profile !== profile) throw notFound(resource, id);
    return endpoint;
  }

  async update(tenantId: string, id: string, patch: EndpointPatch): Promise<Endpoint> {
    const current = await this.get(tenantId, id);
    if (patch.url !== undefined) patch.url = checkEndpointUrl(patch.url, this.ctx.config);
    if (patch.headers !== undefined) checkHeaders(patch.headers);
    this.checkTimeout(patch.timeoutMs);
    checkEventTypes(current.profile, patch.eventTypes);
    if (patch.eventTypes) patch.eventTypes = [...new Set(patch.eventTypes)];
    if (patch.secret !== undefined) {
      const problem = getProfile(current.profile).checkSecret(patch.secret);
      if (problem) throw new HeraldError('validation_error', problem, [{ field: 'secret', message: problem }]);
    }
    const updated = await this.ctx.store.endpoints.update(tenantId, id, patch, this.ctx.clock.now());
    if (!updated) throw notFound('Endpoint', id);
    if (patch.status === 'enabled') this.ctx.nudge();
    return updated;
  }

  /** Per-endpoint timeouts may shorten the server's attempt timeout, never lengthen it. */
  private checkTimeout(ms: number | null | undefined): number | null | undefined {
    const max = this.ctx.config.attemptTimeoutMs;
    if (ms !== undefined && ms !== null && (ms < 100 || ms > max)) {
      throw new HeraldError('validation_error', `timeout_ms must be between 100 and ${max}`, [{ field: 'timeout_ms', message: `must be between 100 and ${max}` }]);
    }
    return ms;
  }

  async delete(tenantId: string, id: string): Promise<void> {
    if (!(await this.ctx.store.endpoints.delete(tenantId, id, this.ctx.clock.now()))) throw notFound('Endpoint', id);
  }

  /** New secret now; the previous one keeps signing alongside it for the grace period. */
  async rotateSecret(tenantId: string, id: string, secret?: string, graceMs = this.ctx.config.secretRotationGraceMs): Promise<Endpoint> {
    const current = await this.get(tenantId, id);
    const profile = getProfile(current.profile);
    if (secret !== undefined) {
      const problem = profile.checkSecret(secret);
      if (problem) throw new HeraldError('validation_error', problem, [{ field: 'secret', message: problem }]);
    }
    const now = this.ctx.clock.now();
    const rotated = await this.ctx.store.endpoints.rotateSecret(tenantId, id, secret ?? profile.generateSecret(), now + graceMs, now);
    if (!rotated) throw notFound('Endpoint', id);
    return rotated;
  }
}
