import { randomBytes } from 'node:crypto';
import { toIso } from '../clock.js';
import { newHexId, newId } from '../ids.js';
import type { RetryPolicy } from '../retry.js';
import { signHexSha256 } from '../signing.js';
import type { Profile } from './profile.js';

const M = 60 * 1000;

/**
 * Screenshot API's guide: immediately, then 1, 5, 15, 30 and 60 min (5 retries after the first
 * attempt); only 5xx, 429, timeouts, connection and DNS failures are retried; exact delays.
 */
export const SCREENSHOT_RETRY_POLICY: RetryPolicy = {
  delaysMs: [0, 1 * M, 5 * M, 15 * M, 30 * M, 60 * M],
  retryOn: 'transient',
  jitter: 0,
  receiverSignals: false,
  retryAfterCapMs: 0,
};

export const SCREENSHOT_EVENT_TYPES = [
  'SCREENSHOT_COMPLETED', 'SCREENSHOT_FAILED', 'CREDITS_LOW', 'CREDITS_EXHAUSTED', 'SUBSCRIPTION_RENEWED', 'SUBSCRIPTION_CANCELLED',
  'PAYMENT_SUCCESSFUL', 'PAYMENT_FAILED', 'PAYMENT_PROCESSED', 'USER_REGISTERED', 'WEBHOOK_TEST',
] as const;

export const SCREENSHOT_SECRET_MIN_LENGTH = 32;

/** Screenshot API (screenshot-api-webhooks-guide.txt): `X-Webhook-*` headers, `sha256=` hex HMAC of the raw body. */
export const screenshotProfile: Profile = {
  name: 'screenshot',
  retryPolicy: SCREENSHOT_RETRY_POLICY,
  eventTypes: SCREENSHOT_EVENT_TYPES,
  newEndpointId: () => newHexId('wh_', 16),
  // Time-sortable so delivery logs page in order; receivers only rely on the `del_` prefix and uniqueness.
  newDeliveryId: () => newId('del'),
  generateSecret: () => `whs_${randomBytes(16).toString('hex')}`,
  checkSecret: (secret) => (secret.length >= SCREENSHOT_SECRET_MIN_LENGTH ? null : `secret must be at least ${SCREENSHOT_SECRET_MIN_LENGTH} characters`),
  serializeEnvelope: (event) => `{"event":${JSON.stringify(event.type)},"timestamp":"${toIso(event.createdAt)}","data":${event.payload}}`,
  testEvent: (type, endpoint) => ({
    type: type ?? 'WEBHOOK_TEST',
    data: { webhookId: endpoint.id, userId: endpoint.tenantId, message: 'This is a test webhook from Screenshot API' },
  }),
  headers: (ctx) => ({
    'content-type': 'application/json',
    'x-webhook-event': ctx.event.type,
    'x-webhook-signature-256': signHexSha256(ctx.endpoint.secret, ctx.body),
    'x-webhook-delivery': ctx.deliveryId,
    'user-agent': 'ScreenshotAPI-Webhook/1.0',
  }),
};
