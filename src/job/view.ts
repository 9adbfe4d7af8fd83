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
  /** One entry per failed attempt, oldest first. */
  errors: JobError[];
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
    errors: record.errors,
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
