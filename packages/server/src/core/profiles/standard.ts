import { randomBytes } from 'node:crypto';
import { newId } from '../ids.js';
import { NATIVE_RETRY_POLICY } from '../retry.js';
import { isStandardSecret, signStandard } from '../signing.js';
import { toIso } from '../clock.js';
import type { Profile } from './profile.js';

export const HERALD_USER_AGENT = 'Herald-Webhooks/0.1';

/** Native profile: Standard Webhooks (https://www.standardwebhooks.com) headers, payload and signature. */
export const standardProfile: Profile = {
  name: 'standard',
  retryPolicy: NATIVE_RETRY_POLICY,
  newEndpointId: () => newId('ep'),
  newDeliveryId: () => newId('dlv'),
  generateSecret: () => `whsec_${randomBytes(32).toString('base64')}`,
  checkSecret: (secret) =>
    isStandardSecret(secret) ? null : 'secret must be "whsec_" followed by the base64 encoding of 24 to 64 bytes',
  // The spec's payload shape; `data` is embedded as published, never re-serialised.
  serializeEnvelope: (event) =>
    `{"type":${JSON.stringify(event.type)},"timestamp":"${toIso(event.createdAt)}","data":${event.payload}}`,
  testEvent: (type, endpoint) => ({
    type: type ?? 'webhook.test',
    data: { message: 'This is a test event sent by Herald.', endpoint_id: endpoint.id },
  }),
  headers: (ctx) => {
    const timestamp = Math.floor(ctx.now / 1000);
    return {
      'content-type': 'application/json',
      'user-agent': HERALD_USER_AGENT,
      // The event id: the same on every retry and replay, so receivers can de-duplicate on it.
      'webhook-id': ctx.event.id,
      'webhook-timestamp': String(timestamp),
      'webhook-signature': signStandard([ctx.endpoint.secret, ...ctx.previousSecrets], ctx.event.id, timestamp, ctx.body),
    };
  },
};
