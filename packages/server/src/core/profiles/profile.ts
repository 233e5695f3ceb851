import type { RetryPolicy } from '../retry.js';
import type { Endpoint, WebhookEvent } from '../model.js';

/** What a profile needs to know about the attempt it is building a request for. */
export interface AttemptContext {
  event: WebhookEvent;
  endpoint: Pick<Endpoint, 'id' | 'tenantId' | 'secret'>;
  /** Secrets still honoured after a rotation (native profile signs with these too). */
  previousSecrets: readonly string[];
  deliveryId: string;
  attemptNumber: number;
  /** When attempt 1 was made (null while making it). */
  firstAttemptAt: number | null;
  /** Time of this attempt, epoch ms. */
  now: number;
  /** The envelope, already serialised by `serializeEnvelope` (the same for every endpoint of this profile). */
  body: string;
}

/**
 * A profile is everything that makes a webhook system look like itself on the wire: the
 * envelope, the headers and signature, the retry policy and the shape of its ids and secrets.
 * The delivery engine is the same for all of them.
 */
export interface Profile {
  readonly name: string;
  readonly retryPolicy: RetryPolicy;
  /** Closed list of event types, for systems whose guide fixes them; undefined = open. */
  readonly eventTypes?: readonly string[];
  newEndpointId(): string;
  newDeliveryId(): string;
  generateSecret(): string;
  /** Returns an error message if a caller-supplied secret is unusable, else null. */
  checkSecret(secret: string): string | null;
  serializeEnvelope(event: WebhookEvent): string;
  /** The event an endpoint's test route sends: a realistic sample of `type` (or the profile's default test type). */
  testEvent(type: string | undefined, endpoint: Pick<Endpoint, 'id' | 'tenantId'>): { type: string; data: unknown };
  headers(ctx: AttemptContext): Record<string, string>;
}
