import { randomBytes } from 'node:crypto';
import { newId } from '../ids.js';
import type { RetryPolicy } from '../retry.js';
import { signHexSha256 } from '../signing.js';
import { LILY_SAMPLES } from './lily-samples.js';
import type { Profile } from './profile.js';

const S = 1000;
const M = 60 * S;
const H = 60 * M;

/** Lily's guide: immediately, then 30 s, 5 min, 30 min, 2 h, 6 h after the previous attempt; any non-2xx or timeout is retried; exact delays. */
export const LILY_RETRY_POLICY: RetryPolicy = {
  delaysMs: [0, 30 * S, 5 * M, 30 * M, 2 * H, 6 * H],
  retryOn: 'any',
  jitter: 0,
  receiverSignals: false,
  retryAfterCapMs: 0,
};

export const LILY_EVENT_TYPES = Object.keys(LILY_SAMPLES);
export const LILY_API_VERSION = '2024-09-01';

/** ISO 8601 UTC to the second, as in the guide ("2024-09-07T14:30:00Z"). */
export const lilyTime = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** Lily Media AI (lily-media-webhooks-guide.txt): `X-Lily-*` headers, `sha256=` hex HMAC of the raw body. */
export const lilyProfile: Profile = {
  name: 'lily',
  retryPolicy: LILY_RETRY_POLICY,
  eventTypes: LILY_EVENT_TYPES,
  newEndpointId: () => `webhook_${randomBytes(8).toString('hex')}`,
  newDeliveryId: () => newId('delivery'),
  generateSecret: () => `wh_secret_${randomBytes(24).toString('hex')}`,
  checkSecret: (secret) => (secret.length >= 8 ? null : 'secret must be at least 8 characters'),
  serializeEnvelope: (event) =>
    `{"id":${JSON.stringify(event.id)},"type":${JSON.stringify(event.type)},"created_at":"${lilyTime(event.createdAt)}","data":${event.payload},` +
    `"organization_id":${JSON.stringify(event.tenantId)},"api_version":"${LILY_API_VERSION}","environment":"${event.environment}"}`,
  testEvent: (type) => {
    const chosen = type ?? 'post.published';
    return { type: chosen, data: LILY_SAMPLES[chosen] ?? {} };
  },
  headers: (ctx) => {
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': 'Lily-Media-Webhooks/2.0',
      'x-lily-signature': signHexSha256(ctx.endpoint.secret, ctx.body),
      'x-lily-event-type': ctx.event.type,
      'x-lily-event-id': ctx.event.id,
      'x-lily-delivery-id': ctx.deliveryId,
      'x-lily-timestamp': String(Math.floor(ctx.now / 1000)),
    };
    if (ctx.attemptNumber > 1) {
      headers['x-lily-retry-count'] = String(ctx.attemptNumber - 1);
      headers['x-lily-max-retries'] = String(LILY_RETRY_POLICY.delaysMs.length);
      headers['x-lily-first-attempt'] = lilyTime(ctx.firstAttemptAt ?? ctx.now);
    }
    return headers;
  },
};
