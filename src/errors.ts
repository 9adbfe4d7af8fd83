/**
 * The one registry of Offload's error codes. Every error Offload raises is an
 * {@link OffloadError} whose `code` is a key of this registry; the HTTP layer maps
 * `status` straight onto the response, so codes and statuses never drift apart.
 */
export const ERROR_CODES = {
  OFFLOAD_ERR_CLOSED: { status: 503, summary: "Offload has been closed" },
  OFFLOAD_ERR_DATABASE: { status: 503, summary: "The database could not be reached or refused the operation" },
  OFFLOAD_ERR_DUPLICATE_JOB_TYPE: { status: 409, summary: "A job type with this name is already defined" },
  OFFLOAD_ERR_FORBIDDEN: { status: 403, summary: "The token's role does not allow this action" },
  OFFLOAD_ERR_HEADERS_TOO_LARGE: { status: 431, summary: "The request headers are larger than allowed" },
  OFFLOAD_ERR_IDEMPOTENCY_CONFLICT: { status: 409, summary: "The idempotency key was already used for another request" },
  OFFLOAD_ERR_INTERNAL: { status: 500, summary: "An unexpected error occurred; the server log has the details" },
  OFFLOAD_ERR_INVALID_INPUT: { status: 400, summary: "An argument or option is invalid" },
  OFFLOAD_ERR_INVALID_PAYLOAD: { status: 400, summary: "The payload does not match the job type's schema" },
  OFFLOAD_ERR_INVALID_STATE: { status: 409, summary: "The job is not in a state that allows this action" },
  OFFLOAD_ERR_JOB_NOT_FOUND: { status: 404, summary: "No job has this id" },
  OFFLOAD_ERR_MIGRATION: { status: 500, summary: "The database schema cannot be used by this version of Offload" },
  OFFLOAD_ERR_NOT_FOUND: { status: 404, summary: "No such route" },
  OFFLOAD_ERR_NOT_READY: { status: 503, summary: "The server is starting, closing, or cannot reach the database" },
  OFFLOAD_ERR_PAYLOAD_TOO_LARGE: { status: 413, summary: "The request body or the job payload is larger than allowed" },
  OFFLOAD_ERR_RATE_LIMITED: { status: 429, summary: "Too many requests; retry after the time in Retry-After" },
  OFFLOAD_ERR_REQUEST_TIMEOUT: { status: 408, summary: "The request was not received in time" },
  OFFLOAD_ERR_UNAUTHORIZED: { status: 401, summary: "A valid bearer token is required" },
  OFFLOAD_ERR_UNKNOWN_JOB_TYPE: { status: 400, summary: "No job type with this name is defined" },
  OFFLOAD_ERR_UNSUPPORTED_MEDIA_TYPE: { status: 415, summary: "The request body must be application/json" },
  OFFLOAD_ERR_WORKER_STATE: { status: 409, summary: "The worker cannot do this in its current state" },
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** One problem found while validating input: where it is and what was expected. */
export interface ValidationIssue {
  /** Dotted path of the offending field, e.g. `options.priority` or `payload.minutes`. */
  path: string;
  message: string;
}

/** Every error Offload throws. `code` is stable; `message` is for people. */
export class OffloadError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: { issues?: ValidationIssue[]; [key: string]: unknown } | undefined;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; details?: OffloadError["details"] } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "OffloadError";
    this.code = code;
    this.status = ERROR_CODES[code].status;
    this.details = options.details;
  }
}

/** Builds an `OFFLOAD_ERR_INVALID_INPUT` (or payload) error whose message names every bad field. */
export function validationError(
  code: "OFFLOAD_ERR_INVALID_INPUT" | "OFFLOAD_ERR_INVALID_PAYLOAD",
  what: string,
  issues: ValidationIssue[],
): OffloadError {
  const list = issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join("; ");
  return new OffloadError(code, `Invalid ${what}: ${list}`, { details: { issues } });
}

/**
 * Thrown by a handler to fail its job at once, without the retries left.
 * Use it for errors that no retry can fix: a missing file, a rejected input.
 */
export class PermanentError extends Error {
  /** Stored as the job error's `code`; defaults to `permanent`. */
  readonly code: string;

  constructor(message: string, options: { cause?: unknown; code?: string } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "PermanentError";
    this.code = options.code ?? "permanent";
  }
}
