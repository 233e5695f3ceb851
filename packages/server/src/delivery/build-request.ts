import { maskHeaders } from '../core/masking.js';
import type { WebhookEvent } from '../core/model.js';
import type { Profile } from '../core/profiles/index.js';
import type { DispatchEndpoint } from '../store/index.js';
import type { ClaimedDelivery } from '../store/queue.js';

/** Headers a profile sets itself; an endpoint's custom headers never replace these. */
const isReserved = (name: string, profileHeaders: Record<string, string>): boolean => name.toLowerCase() in profileHeaders;

/**
 * Builds the exact request for one attempt. The body comes from `bodyFor` so each event is
 * serialised once per profile per batch, and each attempt is signed once. `loggedHeaders` is what
 * the attempt log records: the same headers with custom values masked.
 */
export function buildAttemptRequest(args: {
  profile: Profile;
  endpoint: DispatchEndpoint;
  event: WebhookEvent;
  delivery: ClaimedDelivery;
  body: string;
  now: number;
}): { headers: Record<string, string>; body: string; loggedHeaders: Record<string, string> } {
  const { profile, endpoint, event, delivery, body, now } = args;
  const previousSecrets =
    endpoint.previousSecret !== null && (endpoint.previousSecretExpiresAt ?? 0) > now ? [endpoint.previousSecret] : [];
  const profileHeaders = profile.headers({
    event,
    endpoint,
    previousSecrets,
    deliveryId: delivery.id,
    attemptNumber: delivery.attemptCount + 1,
    firstAttemptAt: delivery.firstAttemptAt,
    now,
    body,
  });
  const custom: Record<string, string> = {};
  for (const [name, value] of Object.entries(endpoint.headers)) {
    if (!isReserved(name, profileHeaders)) custom[name.toLowerCase()] = value;
  }
  const headers = { ...custom, ...profileHeaders };
  // The delivery log keeps what was sent, except the custom values (often the receiver's credentials).
  const loggedHeaders = Object.keys(custom).length === 0 ? headers : { ...headers, ...maskHeaders(custom) };
  return { headers, body, loggedHeaders };
}
