/**
 * The HTTP API's shapes as the dashboard reads them (docs/http-api.md). The
 * dashboard talks only to the public API, so these are written from its
 * documentation rather than imported from the server's code.
 */

/** Every job state, in the order a job usually moves through them. */
export const JOB_STATES = ["scheduled", "queued", "running", "completed", "failed", "cancelled"] as const;
/** A job's state, as the API names it. */
export type JobState = (typeof JOB_STATES)[number];

/** States a job stays in until someone retries it. */
export function isFinished(status: JobState): boolean {
  return status === "completed" || status === "failed" || status === "cancelled";
}

/** What a handler reported; `null` until reported. */
export interface JobProgress {
  failed: number | null;
  message: string | null;
  percent: number | null;
  processed: number | null;
  total: number | null;
}

/** One failed attempt. */
export interface JobErrorView {
  attempt: number;
  at: string;
  code: string;
  message: string;
  stack: string | null;
  /** When the attempt began, if the server reports it. */
  startedAt?: string | null;
}

/** A job as `GET /api/jobs/:id` gives it (`JobView`). */
export interface Job {
  attempt: number;
  cancelRequested: boolean;
  createdAt: string;
  error: { code: string; message: string; stack: string | null } | null;
  errors: JobErrorView[];
  finishedAt: string | null;
  id: string;
  maxAttempts: number;
  owner: string | null;
  payload: unknown;
  priority: number;
  progress: JobProgress;
  queue: string;
  result: unknown;
  runAt: string;
  startedAt: string | null;
  status: JobState;
  type: string;
  uniqueKey: string | null;
  updatedAt: string;
}

/** A page of `GET /api/jobs`, newest first. */
export interface JobPage {
  items: Job[];
  nextCursor: string | null;
}

/** Jobs that ended in a window. */
export interface Throughput {
  completed: number;
  failed: number;
  processed: number;
}

/** An item of `GET /api/queues`. */
export interface QueueSummary {
  counts: Record<JobState, number>;
  lastHour: Throughput;
  lastMinute: Throughput;
  /** Average enqueue-to-start wait of jobs that ended in the window. */
  latencyMs?: { lastHour: number | null; lastMinute: number | null };
  oldestQueuedAgeMs: number | null;
  paused: boolean;
  queue: string;
}

/** `GET /api/queues/throughput`: per-minute series of each queue. */
export interface QueueThroughput {
  bucketSeconds: number;
  /** ISO start of each bucket, oldest first. */
  buckets: string[];
  items: { completed: number[]; failed: number[]; latencyMs: (number | null)[]; queue: string }[];
}

/** An item of `GET /api/workers`: a worker seen recently, and what it runs. */
export interface WorkerView {
  host: string;
  id: string;
  lastSeenAt: string;
  pid: number;
  queues: { concurrency: number; queue: string }[];
  running: { attempt: number; id: string; queue: string; startedAt: string; type: string }[];
  startedAt: string;
}

/** An item of `GET /api/job-types` (the fields the dashboard reads). */
export interface JobType {
  attempts: number;
  name: string;
  queue: string;
}

/** The kind of token signed in. */
export type Role = "admin" | "owner" | "read-only";

/** `GET /api/session`: who the token is. */
export interface Session {
  owner: string | null;
  role: Role;
  tokensRequired: boolean;
}

/** An event of `GET /api/events`: the fields every payload has, and the ones the dashboard reads. */
export interface LifecycleEvent {
  name: "job:cancelled" | "job:completed" | "job:enqueued" | "job:failed" | "job:progress" | "job:retrying" | "job:started";
  payload: {
    attempt?: number;
    id: string;
    job?: Job;
    progress?: JobProgress;
    queue: string;
    type: string;
  };
}
