import { ERROR_CODES, OffloadError, type ErrorCode } from "../errors.js";

/** Every error response of the HTTP API. */
export interface ErrorBody {
  error: { code: ErrorCode; details?: Record<string, unknown>; message: string };
}

/** An error as it goes on the wire: status, body, extra headers; `internal` marks errors worth an error-level log line. */
export interface HttpError {
  body: ErrorBody;
  headers: Record<string, string>;
  internal: boolean;
  status: number;
}

/**
 * Errors whose message may name a file, a database URL or driver internals:
 * the response carries the registry's summary instead, and the log the rest.
 */
const SUMMARY_ONLY: ReadonlySet<ErrorCode> = new Set(["OFFLOAD_ERR_CLOSED", "OFFLOAD_ERR_DATABASE", "OFFLOAD_ERR_INTERNAL", "OFFLOAD_ERR_MIGRATION"]);

export function errorBody(code: ErrorCode, message: string, details?: Record<string, unknown>): ErrorBody {
  return { error: details === undefined ? { code, message } : { code, details, message } };
}

/** Fastify's own errors (body parsing, URLs), mapped to Offload's codes with messages that say what to send instead. */
function fromFastify(error: { code: string; message: string; statusCode?: number }, bodyLimit: number): HttpError | null {
  const plain = (status: number, code: ErrorCode, message: string): HttpError => ({ body: errorBody(code, message), headers: {}, internal: false, status });
  switch (error.code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return plain(413, "OFFLOAD_ERR_PAYLOAD_TOO_LARGE", `The request body is larger than ${bodyLimit} bytes`);
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return plain(415, "OFFLOAD_ERR_UNSUPPORTED_MEDIA_TYPE", "Unsupported Content-Type: send the body as application/json (charset utf-8)");
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
      return plain(400, "OFFLOAD_ERR_INVALID_INPUT", "The request body is empty: send a JSON object, or no Content-Type and no body");
    case "FST_ERR_CTP_INVALID_CONTENT_LENGTH":
      return plain(400, "OFFLOAD_ERR_INVALID_INPUT", "The Content-Length header does not match the body");
    case "FST_ERR_CTP_INVALID_JSON_BODY":
      return plain(400, "OFFLOAD_ERR_INVALID_INPUT", "Malformed JSON in the request body");
    case "FST_ERR_BAD_URL":
    case "FST_ERR_INVALID_URL":
      return plain(400, "OFFLOAD_ERR_INVALID_INPUT", "Malformed URL");
    case "FST_ERR_MAX_PARAM_LENGTH":
      return plain(400, "OFFLOAD_ERR_INVALID_INPUT", "A part of the URL path is too long: job ids and queue names are at most 100 characters");
    default:
      break;
  }
  if (typeof error.statusCode === "number" && error.statusCode >= 400 && error.statusCode < 500) {
    if (error.statusCode === 413) return plain(413, "OFFLOAD_ERR_PAYLOAD_TOO_LARGE", "The request is too large");
    if (error.statusCode === 415) return plain(415, "OFFLOAD_ERR_UNSUPPORTED_MEDIA_TYPE", "Unsupported Content-Type: send the body as application/json");
    return plain(400, "OFFLOAD_ERR_INVALID_INPUT", "Bad request");
  }
  return null;
}

/**
 * Turns anything thrown while serving a request into the API's error
 * format. Offload errors keep their code, status, message and details
 * (except those whose message may reveal paths or SQL); unknown errors are
 * `OFFLOAD_ERR_INTERNAL` with no detail at all: no stack, no message.
 */
export function toHttpError(error: unknown, bodyLimit: number): HttpError {
  if (error instanceof OffloadError) {
    const headers: Record<string, string> = {};
    if (error.code === "OFFLOAD_ERR_UNAUTHORIZED") headers["www-authenticate"] = 'Bearer realm="offload"';
    const retryAfter = error.details?.retryAfterSeconds;
    if (typeof retryAfter === "number") headers["retry-after"] = String(retryAfter);
    if (SUMMARY_ONLY.has(error.code)) {
      return { body: errorBody(error.code, ERROR_CODES[error.code].summary), headers, internal: true, status: error.status };
    }
    return { body: errorBody(error.code, error.message, error.details), headers, internal: error.status >= 500, status: error.status };
  }
  const fastifyError = error as { code?: unknown; message?: unknown; statusCode?: unknown };
  if (error instanceof Error && typeof fastifyError.code === "string") {
    const mapped = fromFastify(fastifyError as { code: string; message: string; statusCode?: number }, bodyLimit);
    if (mapped) return mapped;
  }
  return { body: errorBody("OFFLOAD_ERR_INTERNAL", ERROR_CODES.OFFLOAD_ERR_INTERNAL.summary), headers: {}, internal: true, status: 500 };
}
