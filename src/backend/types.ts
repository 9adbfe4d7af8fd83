import type { JobProgress } from "../job/progress.js";
import type { JobState } from "../job/states.js";

/**
 * One failed attempt, as stored in a job's `errors` list. The latest is also
 * the job's `error`.
 */
export interface JobError {
  /** The attempt that failed (1-based). */
  attempt: number;
  /** Epoch milliseconds, database clock. */
  at: number;
  /**
   * `error` for a thrown error (or the error's own string `code`), `timeout`,
   * `cancelled`, `lease_expired`, `invalid_payload`, `permanent` (or a
   * PermanentError's code), `unknown_type`.
   */
  code: string;
  message: string;
  stack: string | null;
  /** When the failed attempt started, epoch ms; null when it never started (cancelled while claimed ahead), absent in errors stored by earlier versions. */
  startedAt?: number | null;
}

/**
 * A job as the engines store it. Timestamps are epoch milliseconds; the public
 * `JobView` turns them into ISO 8601 strings.
 */
export interface JobRecord {
  /** Attempts started so far (counted at claim). */
  attempt: number;
  cancelRequested: boolean;
  createdAt: number;
  /** The latest attempt's error, or null. */
  error: JobError | null;
  /** One entry per failed attempt, oldest first. */
  errors: JobError[];
  finishedAt: number | null;
  /** UUIDv7: sortable by creation time. */
  id: string;
  /** Lease expiry of the running attempt, or null when not running. */
  leaseExpiresAt: number | null;
  maxAttempts: number;
  owner: string | null;
  payload: unknown;
  priority: number;
  progress: JobProgress;
  queue: string;
  result: unknown;
  runAt: number;
  startedAt: number | null;
  status: JobState;
  /** Per-attempt timeout in milliseconds, or null for none. */
  timeoutMs: number | null;
  type: string;
  uniqueKey: string | null;
  updatedAt: number;
  /** Id of the worker holding the lease, or null when not running. */
  workerId: string | null;
}

/** A new job, validated and ready to store. */
export interface JobInsert {
  id: string;
  maxAttempts: number;
  owner: string | null;
  /** JSON text of the validated payload. */
  payloadJson: string;
  priority: number;
  queue: string;
  /**
   * Run no earlier than `delayMs` after now by the database clock, so a
   * client with a skewed clock still delays by the right amount. Not with `runAt`.
   */
  delayMs?: number | null;
  /** Epoch ms; null means "now" by the database clock. A time after now stores the job as `scheduled`. */
  runAt: number | null;
  timeoutMs: number | null;
  type: string;
  uniqueKey: string | null;
}

export interface JobInsertResult {
  /** True when an unfinished job of the same type and unique key was returned instead of a new one. */
  deduplicated: boolean;
  job: JobRecord;
}

/** A running attempt's lease: only writes that present `leaseToken` apply. */
export interface Lease {
  id: string;
  leaseToken: string;
}

/**
 * A claimed job as the worker needs it: the record without the fields a
 * running attempt never reads (earlier errors, result), which the claim
 * therefore does not fetch.
 */
export type ClaimedJobRecord = Omit<JobRecord, "error" | "errors" | "result">;

/** A job handed to a worker by `jobClaim`: the record plus the attempt's lease. */
export interface ClaimedJob extends Lease {
  job: ClaimedJobRecord;
}

/** How an attempt ended, as a worker reports it. */
export type JobAck = Lease & { progress?: JobProgress } & (
    /** `resultJson`: JSON text, as `JSON.stringify` writes it (engines store it as given). */
    | { outcome: "completed"; resultJson: string }
    | { error: JobError; outcome: "failed" }
    /** Scheduled again `delayMs` after now, by the database clock. */
    | { delayMs: number; error: JobError; outcome: "retry" }
    | { error: JobError | null; outcome: "cancelled" }
    /** Given back unfinished (graceful shutdown): back to `queued`, the attempt refunded. */
    | { outcome: "released" }
  );

export interface JobAckResult {
  /** False when the lease was no longer held: the write was fenced off. */
  applied: boolean;
  id: string;
  /** The job's state after the ack (for applied acks). */
  status: JobState | null;
}

export interface JobHeartbeatResult {
  /** The worker must abort the attempt: cancellation was requested for it. */
  cancelRequested: boolean;
  id: string;
  /** False when the lease was lost (expired and rescued, or taken over): abort the attempt. */
  renewed: boolean;
}

export type JobCancelResult =
  /** Was scheduled or queued: now `cancelled`. */
  | { job: JobRecord; outcome: "cancelled" }
  /** Is running: `cancelRequested` set; the worker aborts it. */
  | { job: JobRecord; outcome: "requested" }
  /** Already finished: nothing changed. */
  | { job: JobRecord; outcome: "finished" };

export interface JobListFilter {
  owner?: string | undefined;
  queue?: string | undefined;
  status?: JobState | undefined;
  type?: string | undefined;
}

export interface JobListResult {
  items: JobRecord[];
  /** Opaque; pass back as `cursor` for the next page. Null on the last page. */
  nextCursor: string | null;
}

export interface JobRescueResult {
  /** Jobs whose lease expired and that had no attempts left. */
  failed: JobRecord[];
  /** Jobs whose lease expired and that were put back in their queue. */
  requeued: JobRecord[];
  /** Jobs whose lease expired while cancellation was requested. */
  cancelled: JobRecord[];
}

/** Age limits for {@link Backend.jobPrune}, in milliseconds. */
export interface PruneAges {
  cancelled: number;
  completed: number;
  failed: number;
}

/** Counts of jobs by state for one queue. */
export interface QueueCounts {
  counts: Record<JobState, number>;
  queue: string;
}

export interface MigrationStatus {
  /** Versions applied by this call. */
  applied: number[];
  /** Highest version in the database after the call. */
  version: number;
}

/** Whether a queue is paused. A paused queue accepts jobs; no worker claims from it. */
export interface QueueState {
  paused: boolean;
  /** When the pause began (epoch ms), or null. */
  pausedAt: number | null;
  queue: string;
}

/** Jobs of one queue that ended in a window of time (final outcomes only: a retried attempt is not counted). */
export interface QueueThroughput {
  completed: number;
  failed: number;
  /** Enqueue-to-start wait summed over those jobs (each one's last attempt), in milliseconds. */
  waitMs: number;
}

/** Jobs that ended per queue and minute, oldest minute first: what {@link Backend.queueThroughput} reports. */
export interface QueueThroughputSeries {
  /** Start of each minute, epoch ms, oldest first. */
  buckets: number[];
  queues: { completed: number[]; failed: number[]; queue: string; waitMs: number[] }[];
}

/** A worker process as it registers itself. */
export interface WorkerInfo {
  host: string;
  id: string;
  pid: number;
  queues: { concurrency: number; queue: string }[];
  startedAt: number;
}

/** A worker process seen recently, with the jobs it runs. */
export interface WorkerStatus extends WorkerInfo {
  lastSeenAt: number;
  running: { attempt: number; id: string; queue: string; startedAt: number; type: string }[];
}

/** What {@link Backend.queueStats} reports for one queue. */
export interface QueueStats {
  /** Jobs by state, as `queueCounts` gives them (a due scheduled job counts as queued). */
  counts: Record<JobState, number>;
  /** Jobs that ended in the last hour (the engine's windows may reach up to 10 s further back). */
  lastHour: QueueThroughput;
  /** Jobs that ended in the last minute (the engine's windows may reach up to 10 s further back). */
  lastMinute: QueueThroughput;
  /** `runAt` (epoch ms) of the ready job that has waited longest, or null when none is ready. */
  oldestQueuedAt: number | null;
  paused: boolean;
  queue: string;
}

/**
 * An idempotency key presented with an insert. Keys of different scopes never
 * meet: the HTTP API scopes them by the caller's owner or token.
 */
export interface IdempotencyKey {
  /** Hash of the request; the same key with another fingerprint is a conflict. */
  fingerprint: string;
  key: string;
  scope: string;
  /** How long the key is remembered after its first use, in milliseconds. */
  ttlMs: number;
}

export type JobInsertIdempotentResult =
  /** A key not seen before (or expired, or whose job was deleted): the job was inserted, or deduplicated by its `uniqueKey`. */
  | { deduplicated: boolean; job: JobRecord; outcome: "stored" }
  /** The key was seen with the same fingerprint: the job it gave then, as it is now. */
  | { deduplicated: boolean; job: JobRecord; outcome: "replayed" }
  /** The key was seen with another fingerprint: nothing stored. */
  | { jobId: string; outcome: "conflict" };
