import { HeraldError, notFound } from '../core/errors.js';
import { HEALTHY } from '../core/endpoint-health.js';
import type { Endpoint, EndpointStatus } from '../core/model.js';
import { DEFAULT_PROFILE, getProfile, type Profile } from '../core/profiles/index.js';
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

/**
 * Header names an endpoint may not set: hop-by-hop and framing headers belong to the transport
 * (undici refuses several of them, so every attempt would fail), the rest to the signature.
 */
const FORBIDDEN_HEADER = /^(host|content-type|content-length|transfer-encoding|connection|keep-alive|upgrade|expect|te|trailer|proxy-.*|user-agent|webhook-.*|x-lily-.*|x-webhook-.*)$/i;
const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,256}$/;
/**
 * Visible ASCII, space and tab. undici refuses control characters and anything past Latin-1 (every
 * attempt would fail), and would send Latin-1 as single bytes, not the UTF-8 the caller meant.
 */
const HEADER_VALUE = /^[\t\x20-\x7e]*$/;

/** The names of the headers a profile sets on a retry (a superset of a first attempt's), lower case. */
const profileHeaderNames = new Map<string, ReadonlySet<string>>();
function ownHeadersOf(profile: Profile): ReadonlySet<string> {
  let names = profileHeaderNames.get(profile.name);
  if (!names) {
    const event = { id: 'evt_sample', tenantId: 'sample', type: 'sample', payload: '{}', idempotencyKey: null, environment: 'live' as const, createdAt: 0 };
    const sample = profile.headers({
      event, endpoint: { id: 'ep_sample', tenantId: 'sample', secret: profile.generateSecret() }, previousSecrets: [],
      deliveryId: 'dlv_sample', attemptNumber: 2, firstAttemptAt: 0, now: 0, body: '{}',
    });
    // Its headers replace custom ones of the same name anyway (build-request.ts): refusing them says so up front.
    names = new Set(Object.keys(sample).map((n) => n.toLowerCase()));
    profileHeaderNames.set(profile.name, names);
  }
  return names;
}

/** Refused at creation and update, naming the header, rather than failing every attempt later. */
function checkHeaders(headers: Record<string, string>, profile: Profile): Record<string, string> {
  for (const [name, value] of Object.entries(headers)) {
    const fail = (message: string) => new HeraldError('validation_error', message, [{ field: `headers.${name}`, message }]);
    if (!HEADER_NAME.test(name)) throw fail(`"${name}" is not a valid header name`);
    if (FORBIDDEN_HEADER.test(name) || ownHeadersOf(profile).has(name.toLowerCase())) throw fail(`header "${name}" is set by Herald and cannot be overridden`);
    if (!HEADER_VALUE.test(value)) throw fail(`header "${name}" may hold only visible ASCII, spaces and tabs (no line breaks or other control characters)`);
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
      headers: checkHeaders(input.headers ?? {}, profile),
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
    if (patch.headers !== undefined) checkHeaders(patch.headers, getProfile(current.profile));
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
