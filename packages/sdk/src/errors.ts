/**
 * Why a webhook failed verification. Stable codes: other SDKs and `spec/signature-vectors.json`
 * use the same names.
 */
export type VerificationFailure =
  /** A header the profile signs with is absent (its name is in `header`). */
  | 'missing_header'
  /** The timestamp header is not a whole number of seconds. */
  | 'invalid_timestamp'
  /** The timestamp is older than the tolerance allows: a replay, or a clock that is off. */
  | 'stale_timestamp'
  /** The timestamp is further in the future than the tolerance allows. */
  | 'future_timestamp'
  /** No signature in the header matches the body under any of the secrets. */
  | 'no_matching_signature'
  /** A secret is empty or not in the profile's format (a configuration error, whatever the request). */
  | 'bad_secret'
  /** The signature matched but the body is not JSON. */
  | 'invalid_payload';

/**
 * Thrown by every `verify*` function when a webhook must not be trusted. `reason` says what
 * failed; the message says what to check next. Neither contains a secret.
 * @example
 * try { await verify(body, headers, { secret }) }
 * catch (err) { if (err instanceof WebhookVerificationError) console.warn(err.reason) }
 */
export class WebhookVerificationError extends Error {
  override readonly name = 'WebhookVerificationError';
  constructor(
    readonly reason: VerificationFailure,
    message: string,
    /** The header concerned, for `missing_header` and the timestamp reasons. */
    readonly header?: string,
  ) {
    super(message);
  }
}
