#!/usr/bin/env node
// Builds spec/signature-vectors.json from the server's own envelope and signing code (each
// profile's serializeEnvelope and headers), so the vectors are what Herald really sends.
// Regenerate after `npm run build`:  node spec/signature-vectors.mjs
// packages/server/test/signature-vectors.test.ts rebuilds them from the sources and fails if the
// committed file differs.
import { writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The send time of every vector, seconds since the epoch (2025-11-24T16:00:00Z). */
export const T = 1764000000;
const TOLERANCE = 300;

const b64 = (text) => `whsec_${Buffer.from(text).toString('base64')}`;
const SECRETS = {
  standard: { current: b64('herald vectors: the current key!'), old: b64('herald vectors: the old key, 32b'), wrong: b64('herald vectors: not this key....') },
  lily: { current: 'wh_secret_3f1c0a9e5b7d2468ace13579bdf02468', old: 'your_webhook_secret', wrong: 'wh_secret_not_the_one' },
  screenshot: { current: 'whs_0123456789abcdef0123456789abcdef', old: 'whs_fedcba9876543210fedcba9876543210', wrong: 'whs_ffffffffffffffffffffffffffffffff' },
};

// Published data as its JSON text: signed byte for byte as given (the escaped \u00e9 stays escaped).
const ASCII_DATA = '{"invoice_id":"inv_1","amount":4200}';
const UNICODE_DATA = '{"customer":"Zoë Müller","note":"日本語 ✓ 💪","escaped":"caf\\u00e9","amount":4200}';

/** Turns a header map into one with other names, keeping the order. */
const renamed = (headers, names) => Object.fromEntries(Object.entries(headers).map(([k, v]) => [names[k] ?? k, v]));
const without = (headers, name) => Object.fromEntries(Object.entries(headers).filter(([k]) => k !== name));
const withHeader = (headers, name, value) => ({ ...headers, [name]: value });

/**
 * @param getProfile the server's profile registry (`getProfile` from core/profiles)
 * @returns the vectors document
 */
export function buildVectors(getProfile) {
  /** One request as the server builds it: the envelope and the profile's headers for one attempt. */
  function send(profileName, { secret, previousSecrets = [], type, data, attempt = 1, id = 'evt_01KAVECTOR0000000000000001' }) {
    const profile = getProfile(profileName);
    const event = { id, tenantId: 'acme', type, payload: data, idempotencyKey: null, environment: 'live', createdAt: T * 1000 - 250 };
    const body = profile.serializeEnvelope(event);
    const headers = profile.headers({
      event, endpoint: { id: 'ep_vectors', tenantId: 'acme', secret }, previousSecrets, deliveryId: `${profileName === 'lily' ? 'delivery' : 'del'}_vectors_1`,
      attemptNumber: attempt, firstAttemptAt: attempt > 1 ? (T - 330) * 1000 : null, now: T * 1000, body,
    });
    return { headers, body };
  }
  const vectors = [];
  const add = (name, profile, secrets, req, expected, { now = T, tolerance = TOLERANCE } = {}) =>
    vectors.push({ name, profile, secrets, headers: req.headers, body: req.body, now, tolerance, expected: expected === 'ok' ? 'ok' : { error: expected } });

  // --- standard (Standard Webhooks) ---
  {
    const s = SECRETS.standard;
    const one = send('standard', { secret: s.current, type: 'invoice.paid', data: ASCII_DATA });
    const uni = send('standard', { secret: s.current, type: 'customer.updated', data: UNICODE_DATA });
    const rotated = send('standard', { secret: s.current, previousSecrets: [s.old], type: 'invoice.paid', data: ASCII_DATA });
    const sig = one.headers['webhook-signature'];
    add('standard: one secret', 'standard', [s.current], one, 'ok');
    add('standard: non-ASCII body', 'standard', [s.current], uni, 'ok');
    add('standard: rotation, signed with the new and the old secret, receiver knows the new', 'standard', [s.current], rotated, 'ok');
    add('standard: rotation, signed with the new and the old secret, receiver knows the old', 'standard', [s.old], rotated, 'ok');
    add('standard: receiver tries the old then the new secret', 'standard', [s.old, s.current], one, 'ok');
    add('standard: secret without the whsec_ prefix', 'standard', [s.current.slice('whsec_'.length)], one, 'ok');
    add('standard: header names in mixed case', 'standard', [s.current], { ...one, headers: renamed(one.headers, { 'webhook-id': 'Webhook-Id', 'webhook-timestamp': 'Webhook-Timestamp', 'webhook-signature': 'Webhook-Signature' }) }, 'ok');
    add('standard: an unknown signature version before the v1 one', 'standard', [s.current], { ...one, headers: withHeader(one.headers, 'webhook-signature', `v2,Zm9yIGEgbGF0ZXIgc2NoZW1l ${sig}`) }, 'ok');
    add('standard: timestamp 300 s old, at the tolerance', 'standard', [s.current], one, 'ok', { now: T + 300 });
    add('standard: timestamp 300 s ahead, at the tolerance', 'standard', [s.current], one, 'ok', { now: T - 300 });
    add('standard: timestamp 400 s old with a 600 s tolerance', 'standard', [s.current], one, 'ok', { now: T + 400, tolerance: 600 });
    add('standard: wrong secret', 'standard', [s.wrong], one, 'no_matching_signature');
    add('standard: rotation, receiver knows neither secret', 'standard', [s.wrong], rotated, 'no_matching_signature');
    add('standard: tampered body', 'standard', [s.current], { ...one, body: one.body.replace('4200', '4201') }, 'no_matching_signature');
    add('standard: tampered non-ASCII body', 'standard', [s.current], { ...uni, body: uni.body.replace('Zoë', 'Zoe') }, 'no_matching_signature');
    add('standard: body parsed and serialised again', 'standard', [s.current], { ...uni, body: JSON.stringify(JSON.parse(uni.body)) }, 'no_matching_signature');
    add('standard: tampered webhook-id', 'standard', [s.current], { ...one, headers: withHeader(one.headers, 'webhook-id', 'evt_01KAVECTOR0000000000000002') }, 'no_matching_signature');
    add('standard: tampered webhook-timestamp', 'standard', [s.current], { ...one, headers: withHeader(one.headers, 'webhook-timestamp', String(T + 1)) }, 'no_matching_signature');
    add('standard: only an unknown signature version', 'standard', [s.current], { ...one, headers: withHeader(one.headers, 'webhook-signature', sig.replace('v1,', 'v2,')) }, 'no_matching_signature');
    add('standard: signature not base64', 'standard', [s.current], { ...one, headers: withHeader(one.headers, 'webhook-signature', 'v1,not*base64') }, 'no_matching_signature');
    add('standard: timestamp 301 s old', 'standard', [s.current], one, 'stale_timestamp', { now: T + 301 });
    add('standard: timestamp a day old, signature valid', 'standard', [s.current], one, 'stale_timestamp', { now: T + 86400 });
    add('standard: timestamp 61 s old with a 60 s tolerance', 'standard', [s.current], one, 'stale_timestamp', { now: T + 61, tolerance: 60 });
    add('standard: timestamp 301 s in the future', 'standard', [s.current], one, 'future_timestamp', { now: T - 301 });
    add('standard: timestamp not a number', 'standard', [s.current], { ...one, headers: withHeader(one.headers, 'webhook-timestamp', 'soon') }, 'invalid_timestamp');
    for (const name of ['webhook-id', 'webhook-timestamp', 'webhook-signature']) {
      add(`standard: missing ${name}`, 'standard', [s.current], { ...one, headers: without(one.headers, name) }, 'missing_header');
    }
    add('standard: empty secret', 'standard', ['whsec_'], one, 'bad_secret');
    add('standard: secret not base64', 'standard', ['whsec_not base64!'], one, 'bad_secret');
  }

  // --- lily (Lily Media AI) ---
  {
    const s = SECRETS.lily;
    const lily = getProfile('lily');
    const sample = (type) => JSON.stringify(lily.testEvent(type, { id: 'webhook_vectors', tenantId: 'acme' }).data);
    const one = send('lily', { secret: s.current, type: 'post.published', data: sample('post.published') });
    const uni = send('lily', { secret: s.current, type: 'content.generated', data: sample('content.generated') });
    const retry = send('lily', { secret: s.current, type: 'post.failed', data: sample('post.failed'), attempt: 3 });
    add('lily: one secret', 'lily', [s.current], one, 'ok');
    add('lily: non-ASCII body (the guide\'s content.generated sample)', 'lily', [s.current], uni, 'ok');
    add('lily: a retry, with the retry headers', 'lily', [s.current], retry, 'ok');
    add('lily: receiver tries the old then the new secret', 'lily', [s.old, s.current], one, 'ok');
    add('lily: header names as the guide writes them', 'lily', [s.current], { ...one, headers: renamed(one.headers, { 'x-lily-signature': 'X-Lily-Signature', 'x-lily-timestamp': 'X-Lily-Timestamp' }) }, 'ok');
    add('lily: timestamp 300 s old, at the tolerance', 'lily', [s.current], one, 'ok', { now: T + 300 });
    add('lily: timestamp 300 s ahead, at the tolerance', 'lily', [s.current], one, 'ok', { now: T - 300 });
    add('lily: wrong secret', 'lily', [s.wrong], one, 'no_matching_signature');
    add('lily: tampered body', 'lily', [s.current], { ...one, body: one.body.replace('instagram', 'Instagram') }, 'no_matching_signature');
    add('lily: tampered non-ASCII body', 'lily', [s.current], { ...uni, body: uni.body.replace('💪', '💯') }, 'no_matching_signature');
    add('lily: signature without the sha256= prefix', 'lily', [s.current], { ...one, headers: withHeader(one.headers, 'x-lily-signature', one.headers['x-lily-signature'].slice(7)) }, 'no_matching_signature');
    add('lily: timestamp 301 s old', 'lily', [s.current], one, 'stale_timestamp', { now: T + 301 });
    add('lily: timestamp 301 s in the future', 'lily', [s.current], one, 'future_timestamp', { now: T - 301 });
    add('lily: timestamp not a number', 'lily', [s.current], { ...one, headers: withHeader(one.headers, 'x-lily-timestamp', '2025-11-24T16:00:00Z') }, 'invalid_timestamp');
    add('lily: missing x-lily-signature', 'lily', [s.current], { ...one, headers: without(one.headers, 'x-lily-signature') }, 'missing_header');
    add('lily: missing x-lily-timestamp', 'lily', [s.current], { ...one, headers: without(one.headers, 'x-lily-timestamp') }, 'missing_header');
    add('lily: empty secret', 'lily', [''], one, 'bad_secret');
  }

  // --- screenshot (Screenshot API) ---
  {
    const s = SECRETS.screenshot;
    const one = send('screenshot', { secret: s.current, type: 'WEBHOOK_TEST', data: '{"webhookId":"wh_0123456789abcdef","userId":"user_456","message":"This is a test webhook from Screenshot API"}' });
    const uni = send('screenshot', { secret: s.current, type: 'SCREENSHOT_COMPLETED', data: `{"screenshotId":"job_abc123","metadata":{"url":"https://exämple.com/ページ","title":"Zoë ✓"}}` });
    add('screenshot: one secret', 'screenshot', [s.current], one, 'ok');
    add('screenshot: non-ASCII body', 'screenshot', [s.current], uni, 'ok');
    add('screenshot: receiver tries the old then the new secret', 'screenshot', [s.old, s.current], one, 'ok');
    add('screenshot: header names as the guide writes them', 'screenshot', [s.current], { ...one, headers: renamed(one.headers, { 'x-webhook-signature-256': 'X-Webhook-Signature-256' }) }, 'ok');
    add('screenshot: no timestamp in this profile, so a day later still verifies', 'screenshot', [s.current], one, 'ok', { now: T + 86400 });
    add('screenshot: wrong secret', 'screenshot', [s.wrong], one, 'no_matching_signature');
    add('screenshot: tampered body', 'screenshot', [s.current], { ...one, body: one.body.replace('user_456', 'user_457') }, 'no_matching_signature');
    add('screenshot: tampered non-ASCII body', 'screenshot', [s.current], { ...uni, body: uni.body.replace('exämple', 'example') }, 'no_matching_signature');
    add('screenshot: missing x-webhook-signature-256', 'screenshot', [s.current], { ...one, headers: without(one.headers, 'x-webhook-signature-256') }, 'missing_header');
    add('screenshot: empty secret', 'screenshot', [''], one, 'bad_secret');
  }

  return {
    description: 'Herald webhook signature test vectors, generated from the server\'s signing code by spec/signature-vectors.mjs.',
    usage: 'For each vector, verify `body` (its UTF-8 bytes) with `headers` (names case-insensitive) for `profile`, accepting any of `secrets`, ' +
      'at time `now` (seconds since the epoch) with a timestamp tolerance of `tolerance` seconds either way. `expected` is "ok" or {"error": reason}. ' +
      'Checks run in this order, and the first failure is the reason: bad_secret, missing_header, invalid_timestamp, stale_timestamp / future_timestamp, no_matching_signature.',
    profiles: {
      standard: 'Standard Webhooks: webhook-signature holds space-separated "v1,<base64 HMAC-SHA256>" of "<webhook-id>.<webhook-timestamp>.<body>", keyed with the base64-decoded secret after "whsec_"; other versions are ignored.',
      lily: 'X-Lily-Signature: "sha256=<hex HMAC-SHA256>" of the body, keyed with the secret\'s UTF-8 bytes; X-Lily-Timestamp within the tolerance.',
      screenshot: 'X-Webhook-Signature-256: "sha256=<hex HMAC-SHA256>" of the body, keyed with the secret\'s UTF-8 bytes; no timestamp.',
    },
    vectors,
  };
}

export const VECTORS_PATH = fileURLToPath(new URL('./signature-vectors.json', import.meta.url));

export const render = (doc) => `${JSON.stringify(doc, null, 2)}\n`;

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { getProfile } = await import('../packages/server/dist/core/index.js');
  const doc = buildVectors(getProfile);
  writeFileSync(VECTORS_PATH, render(doc));
  console.log(`wrote ${doc.vectors.length} vectors to ${VECTORS_PATH}`);
}
