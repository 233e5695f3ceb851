/**
 * The one registry of API error codes: each code has its HTTP status and a default message.
 * Every surface renders these; profiles translate them into their own error body shape.
 */
export const ERROR_CODES = {
  validation_error: { status: 400, message: 'The request is invalid.' },
  unauthorized: { status: 401, message: 'Missing or invalid API key.' },
  forbidden: { status: 403, message: 'This key is not allowed to do that.' },
  not_found: { status: 404, message: 'Not found.' },
  conflict: { status: 409, message: 'The resource already exists.' },
  request_timeout: { status: 408, message: 'The request was not received in time; send it again.' },
  payload_too_large: { status: 413, message: 'The request body is too large.' },
  uri_too_long: { status: 414, message: 'A path segment of the URL is too long.' },
  unprocessable: { status: 422, message: 'The request is well-formed but its content is not acceptable.' },
  rate_limited: { status: 429, message: 'Too many requests; retry later.' },
  internal: { status: 500, message: 'Internal error.' },
  unavailable: { status: 503, message: 'The service is temporarily unavailable; retry after the Retry-After delay.' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface ErrorDetail {
  field?: string;
  message: string;
  code?: string;
}

export class HeraldError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message?: string,
    readonly details?: ErrorDetail[],
    /** Extra context for profile-specific renderings (e.g. the resource type and id of a 404). */
    readonly context: Record<string, unknown> = {},
  ) {
    super(message ?? ERROR_CODES[code].message);
    this.name = 'HeraldError';
    this.status = ERROR_CODES[code].status;
  }
}

export const notFound = (resource: string, id?: string): HeraldError =>
  new HeraldError('not_found', `${resource} not found.`, undefined, { resourceType: resource, resourceId: id });

export const invalid = (field: string, message: string, code = 'INVALID'): HeraldError =>
  new HeraldError('validation_error', message, [{ field, message, code }]);

/** Turns anything thrown into an Error once, keeping the original as `cause`. */
export function coerceError(value: unknown): Error {
  if (value instanceof Error) return value;
  return new Error(typeof value === 'string' ? value : JSON.stringify(value), { cause: value });
}
