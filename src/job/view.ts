import type { JobError, JobRecord } from "../backend/types.js";
import type { JobProgress } from "./progress.js";
import type { JobState } from "./states.js";

/** A job as the public API shows it. Timestamps are ISO 8601 strings (UTC). */
export interface JobView<Payload = unknown, Result = unknown> {
  /** Attempts started so far; 0 until the first claim. */
  attempt: number;
  /** True once cancellation of a running job was requested. */
  cancelRequested: boolean;
  createdAt: string;
  /** The latest failed attempt's error. */
  error: { code: string; message: string; stack: string | null } | null;
  /** One entry per failed attempt, oldest first (a manual retry keeps the earlier ones). */
  errors: JobErrorView[];
  finishedAt: string | null;
  /** UUIDv7, sortable by creation time. */
  id: string;
  maxAttempts: number;
  owner: string | null;
  payload: Payload;
  priority: number;
  progress: JobProgress;
  queue: string;
  /** The handler's return value once `completed`. */
  result: Result | null;
  runAt: string;
  startedAt: string | null;
  status: JobState;
  type: string;
  uniqueKey: string | null;
  updatedAt: string;
}

/** One failed attempt, as the public API shows it. */
export interface JobErrorView {
  /** The attempt that failed (1-based). */
  attempt: number;
  /** When it failed, ISO 8601. */
  at: string;
  /** `error` (or the thrown error's own string `code`), `timeout`, `cancelled`, `lease_expired`, `invalid_payload`, `permanent` (or a PermanentError's code), `unknown_type`. */
  code: string;
  message: string;
  stack: string | null;
  /** When the attempt started, ISO 8601; null if it never started (or for errors stored by earlier versions). */
  startedAt: string | null;
}

export function toJobErrorView(error: JobError): JobErrorView {
  return {
    attempt: error.attempt,
    at: new Date(error.at).toISOString(),
    code: error.code,
    message: error.message,
    stack: error.stack,
    startedAt: typeof error.startedAt === "number" ? new Date(error.startedAt).toISOString() : null,
  };
}

/** What `enqueue` returns: the job, and whether an existing one was returned for its `uniqueKey`. */
export type EnqueuedJob<Payload = unknown, Result = unknown> = JobView<Payload, Result> & { deduplicated: boolean };

function iso(ms: number): string;
function iso(ms: number | null): string | null;
function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

export function toJobView<P = unknown, R = unknown>(record: JobRecord): JobView<P, R> {
  return {
    attempt: record.attempt,
    cancelRequested: record.cancelRequested,
    createdAt: iso(record.createdAt),
    error: record.error && { code: record.error.code, message: record.error.message, stack: record.error.stack },
    errors: record.errors.map(toJobErrorView),
    finishedAt: iso(record.finishedAt),
    id: record.id,
    maxAttempts: record.maxAttempts,
    owner: record.owner,
    payload: record.payload as P,
    priority: record.priority,
    progress: record.progress,
    queue: record.queue,
    result: record.result as R | null,
    runAt: iso(record.runAt),
    startedAt: iso(record.startedAt),
    status: record.status,
    type: record.type,
    uniqueKey: record.uniqueKey,
    updatedAt: iso(record.updatedAt),
  };
}
