/**
 * Verify webhooks sent by Herald, for each of its profiles (`standard`, `lily`, `screenshot`).
 * Uses only Web APIs (Web Crypto, TextEncoder): runs in Node 20, browsers and edge runtimes.
 * @example
 * import { verifyRequest, WebhookVerificationError } from '@herald/sdk';
 * const event = await verifyRequest(request, { secret: process.env.WEBHOOK_SECRET! });
 */
export { verify, verifySignature, DEFAULT_TOLERANCE_SECONDS, type VerifyOptions, type RawBody } from './verify.js';
export { verifyRequest, verifyExpress, verifyFastify, type RawBodyRequest } from './request.js';
export { WebhookVerificationError, type VerificationFailure } from './errors.js';
export type { HeadersLike } from './headers.js';
export type { ProfileName } from './profiles.js';
