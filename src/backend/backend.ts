import type {
  ClaimedJob,
  IdempotencyKey,
  JobAck,
  JobAckResult,
  JobCancelResult,
  JobHeartbeatResult,
  JobInsert,
  JobInsertIdempotentResult,
  JobInsertResult,
  JobListFilter,
  JobListResult,
  JobProgress,
  JobRecord,
  JobRescueResult,
  Lease,
  MigrationStatus,
  PruneAges,
  QueueCounts,
  QueueState,
  QueueStats,
  QueueThroughputSeries,
  WorkerInfo,
  WorkerStatus,
} from "./index.js";

/**
 * THE SEAM between Offload and a database. The worker, the client and
 * maintenance reach storage only through this interface; every engine passes
 * the same conformance suite (`test/conformance`).
 *
 * Conventions:
 * - Methods are named noun first and take one params object.
 * - `now` (epoch ms) may be injected by tests; when absent the engine uses the
 *   database's own clock, so hosts with skewed clocks agree.
 * - Fencing: `jobClaim` hands out a lease token per attempt; progress, acks and
 *   heartbeats apply only while the job is `running` under that token.
 * - Every method that writes runs in one transaction.
 */
export interface Backend {
  readonly capabilities: BackendCapabilities;
  /** Wake-ups for workers. */
  readonly notifier: Notifier;

  /** Closes connections. Pending calls finish first. */
  close(): Promise<void>;

  /**
   * Finishes attempts in one transaction. An ack whose lease is no longer held
   * is not applied. A completed job's `error` is cleared (its `errors` stay). A `retry`, `failed` or `released` ack of a job whose
   * cancellation was requested ends it `cancelled` instead.
   *
   * With `deleteCompleted` (the worker option `prune.completed: 0`), a
   * completed ack deletes its job instead of storing its result: the
   * completion still counts in the queue's throughput windows, not in its
   * stored total of completed jobs. Other outcomes are written as always.
   */
  jobAckMany(params: { acks: JobAck[]; deleteCompleted?: boolean; now?: number }): Promise<JobAckResult[]>;

  /**
   * `jobAckMany` then `jobClaim`, in one transaction: the worker's steady
   * state, where the slots that finished attempts free are filled at once.
   * One write transaction per cycle instead of two (SQLite: about 1.4x at
   * concurrency 10); claims see the jobs the acks made ready.
   */
  jobAckAndClaim(params: { acks: JobAck[]; claim: ClaimParams; deleteCompleted?: boolean; now?: number }): Promise<{ acks: JobAckResult[]; claimed: ClaimedJob[] }>;

  /** Cancels a job: at once if scheduled or queued, by request if running. Null if no such job. */
  jobCancel(params: { id: string; now?: number }): Promise<JobCancelResult | null>;

  /**
   * Claims up to `limit` jobs of each queue (highest priority first, then
   * earliest runAt, then enqueue order), promoting due scheduled jobs first.
   * Each claim counts an attempt and gives a lease of `leaseMs`. Claims one
   * process has in flight at once run and answer in the order they were
   * made, so an earlier claim never gets later jobs than a later one.
   */
  jobClaim(params: ClaimParams): Promise<ClaimedJob[]>;

  /** Deletes a finished job. Returns false if there was none, throws `OFFLOAD_ERR_INVALID_STATE` if it is not finished. */
  jobDelete(params: { id: string }): Promise<boolean>;

  jobGet(params: { id: string; now?: number }): Promise<JobRecord | null>;

  /**
   * Extends the leases a worker holds, in one write, and reports lost leases
   * and cancel requests. The lease tokens alone fence the write; `workerId`
   * is for engines that record who renewed.
   */
  jobHeartbeatMany(params: { leaseMs: number; leases: readonly Lease[]; now?: number; workerId: string }): Promise<JobHeartbeatResult[]>;

  /**
   * Stores jobs in one transaction, in order. A job whose `uniqueKey` matches an
   * unfinished job of the same type is not stored; that job is returned with
   * `deduplicated: true`.
   *
   * With `tx`, the jobs are written on the application's own connection inside
   * its open transaction (a `pg` client after `BEGIN`; on SQLite, a
   * better-sqlite3 database in a transaction): they exist if and only if that
   * transaction commits, and no worker sees them before.
   */
  jobInsertMany(params: { jobs: readonly JobInsert[]; now?: number; tx?: unknown }): Promise<JobInsertResult[]>;

  /**
   * Optional (PostgreSQL): stores one due job without a `uniqueKey` and, when
   * its queue is not paused and no ready job of the queue would be claimed
   * before it, claims it in the same statement for `workerId` (the enqueuing
   * process's own idle worker): one round trip instead of an insert and a
   * claim. Otherwise stores it as `jobInsertMany` would (`claimed: null`).
   *
   * `onStored` is called with the same answer as soon as the job is committed
   * and visible, before the commit is confirmed durable: the caller may start
   * the job there. The promise settles once the job is durable; it rejects if
   * that cannot be confirmed, even after `onStored` ran.
   */
  jobInsertAndClaim?(params: {
    job: JobInsert;
    leaseMs: number;
    now?: number;
    onStored?: (stored: { claimed: ClaimedJob | null; inserted: JobInsertResult }) => void;
    workerId: string;
  }): Promise<{ claimed: ClaimedJob | null; inserted: JobInsertResult }>;

  /**
   * Optional (PostgreSQL): the queues where worker `workerId` waits for jobs,
   * with its free slots there (0 or absent: not waiting). An enqueue in any
   * process may then store a due job already claimed for it, under a lease of
   * `leaseMs`, and send it through {@link Notifier.onHandOff}, taking one
   * free slot. Entries not written again within `ttlMs` are ignored.
   * Resolves false when the engine wrote the worker as waiting nowhere, since
   * this process cannot hear hand-offs now (its listener is reconnecting).
   */
  waitersPut?(params: { leaseMs: number; queues: readonly { free: number; queue: string }[]; ttlMs: number; workerId: string }): Promise<boolean>;

  /** Optional, with {@link waitersPut}: the worker waits no more; resolves once every hand-off to it has committed. */
  waitersDelete?(params: { workerId: string }): Promise<void>;

  /**
   * Optional (engines whose connections are costly to open): readies what a
   * worker starting now is about to use, so that its first claims and acks do
   * not pay for it: up to `connections` connections opened side by side, the
   * claim and completion statements prepared and planned on each (a claim of
   * no job, an ack of none), and the wake-up listener's session. Writes
   * nothing. Resolves when done; a failure is the caller's to log, since
   * claims open what they need anyway.
   */
  workerWarmUp?(params: { connections: number; deleteCompleted: boolean; queues: readonly string[] }): Promise<void>;

  /**
   * `jobInsertMany` with `tx`, synchronously, for engines whose driver is
   * synchronous (`capabilities.transactionalEnqueue === "sync"`): a
   * better-sqlite3 transaction function cannot span an `await`.
   */
  jobInsertManySync?(params: { jobs: readonly JobInsert[]; now?: number; tx: unknown }): JobInsertResult[];

  /**
   * Stores one job under an idempotency key, in one transaction: a key not
   * seen in its scope stores the job (a `uniqueKey` may still deduplicate it)
   * and remembers the key for `ttlMs`; a key seen with the same fingerprint
   * returns the job it gave then (`replayed`); with another fingerprint,
   * nothing is stored (`conflict`). A key whose job was deleted, or that
   * expired, counts as not seen. Expired keys are deleted along the way, a
   * bounded number per call. A request deduplicated by `uniqueKey` onto a
   * job of another owner stores nothing, its key included.
   */
  jobInsertIdempotent(params: { idempotency: IdempotencyKey; job: JobInsert; now?: number }): Promise<JobInsertIdempotentResult>;

  /** Newest first, with an opaque cursor. */
  jobList(params: { cursor?: string | null; filter: JobListFilter; limit: number; now?: number }): Promise<JobListResult>;

  /** Writes progress of running attempts in one transaction; returns the ids whose lease was still held. */
  jobProgressMany(params: { now?: number; updates: readonly (Lease & { progress: JobProgress })[] }): Promise<string[]>;

  /** Deletes finished jobs older than the given ages, at most `limit` rows. Returns how many. */
  jobPrune(params: { ages: PruneAges; limit: number; now?: number }): Promise<number>;

  /**
   * Puts jobs whose lease expired back in their queue (the attempt stays
   * counted), fails those with no attempts left, cancels those whose
   * cancellation was requested.
   */
  jobRescueExpired(params: { limit: number; now?: number }): Promise<JobRescueResult>;

  /**
   * Queues a failed or cancelled job again with a fresh set of attempts. Null
   * if no such job. Throws `OFFLOAD_ERR_INVALID_STATE` for other states, and
   * when another unfinished job of its type now holds its `uniqueKey`.
   */
  jobRetry(params: { id: string; now?: number }): Promise<JobRecord | null>;

  /**
   * Makes a scheduled job due now (its delay or retry backoff skipped). Null
   * if no such job; throws `OFFLOAD_ERR_INVALID_STATE` for other states.
   */
  jobRunNow(params: { id: string; now?: number }): Promise<JobRecord | null>;

  /** Applies pending migrations under a lock; refuses a database newer than the code. */
  migrate(): Promise<MigrationStatus>;

  /** Counts by queue and state. */
  queueCounts(params?: { now?: number }): Promise<QueueCounts[]>;

  /**
   * Pauses a queue, for every worker process: once this resolves, no claim
   * takes a job of it (running jobs run on). Jobs are still accepted. Any
   * queue name may be paused, with or without jobs. Pausing again keeps the
   * first `pausedAt`.
   */
  queuePause(params: { now?: number; queue: string }): Promise<QueueState>;

  /** Lets workers claim from a paused queue again; resuming a queue that is not paused changes nothing. */
  queueResume(params: { now?: number; queue: string }): Promise<QueueState>;

  /**
   * Per queue, sorted by name: counts by state, the paused flag, jobs
   * completed and failed in the last minute and hour, and the oldest ready
   * job's `runAt`. Every queue with jobs, a pause, or jobs ended in the last
   * hour is listed. Cheap enough to call on every metrics scrape: it must not
   * read every finished job.
   */
  queueStats(params?: { now?: number }): Promise<QueueStats[]>;

  /**
   * Jobs that ended (completed, failed) and their summed enqueue-to-start
   * wait, per queue and minute, over the last `minutes` minutes (at most 60:
   * the engine keeps an hour of windows).
   */
  queueThroughput(params: { minutes: number; now?: number }): Promise<QueueThroughputSeries>;

  /**
   * Registers or refreshes a worker process's row, and deletes the rows of
   * workers not seen for `staleMs` (processes that died without stopping).
   */
  workerBeat(params: { now?: number; staleMs: number; worker: WorkerInfo }): Promise<void>;

  /** Removes a stopped worker's row. */
  workerGone(params: { id: string }): Promise<void>;

  /**
   * Workers seen in the last `withinMs`, oldest first, each with the jobs
   * running under its id (at most `runningLimit` in all, longest running first).
   */
  workerList(params: { now?: number; runningLimit: number; withinMs: number }): Promise<WorkerStatus[]>;
}

/** What an engine can do, as data the tests and the worker read. */
export interface BackendCapabilities {
  /** Wake-ups cross process boundaries without polling the table (LISTEN/NOTIFY). */
  listenNotify: boolean;
  /** Several processes may claim concurrently on separate hosts. */
  multiHost: boolean;
  /** Claims skip rows locked by other claimers instead of waiting. */
  skipLocked: boolean;
  /**
   * Writes run side by side on separate connections (PostgreSQL), rather
   * than one after another on one writer (SQLite). The worker then claims and
   * writes outcomes as separate statements, so that a claim, which need not
   * wait for its commit to reach the disk, never waits behind acks that do;
   * on a single writer it sends outcomes with its claim, one transaction
   * instead of two.
   */
  concurrentWrites: boolean;
  /** Engine name: `sqlite` or `postgres`. */
  engine: string;
  /**
   * How jobs are enqueued inside the application's transaction: `async`
   * (`jobInsertMany({ tx })`, e.g. a pg client) or `sync` (also
   * `jobInsertManySync`, for a better-sqlite3 database).
   */
  transactionalEnqueue: "async" | "sync";
}

/** What a worker asks `jobClaim` for. */
export interface ClaimParams {
  leaseMs: number;
  now?: number;
  queues: readonly QueueClaim[];
  workerId: string;
}

export interface QueueClaim {
  limit: number;
  queue: string;
}

/**
 * Wake-ups. A hint only: workers keep polling, so a lost notification delays
 * a job by at most one poll interval and never loses it.
 */
export interface Notifier {
  close(): Promise<void>;
  /** Announces that jobs became ready in these queues. */
  notifyJobsReady(queues: readonly string[]): void;
  /** `queue` is null when the engine cannot tell which queue changed. Returns an unsubscribe function. */
  onJobsReady(listener: (queue: string | null) => void): () => void;
  /**
   * Cancellation requested for a running job, from any process, so that the
   * worker running it aborts at once rather than at its next heartbeat (which
   * stays the guarantee). Engines that cannot carry it across processes call
   * the listener never. Returns an unsubscribe function.
   */
  onCancelRequested(listener: (jobId: string) => void): () => void;
  /**
   * Optional (engines with {@link Backend.waitersPut}): jobs that an enqueue
   * in any process stored already claimed for a worker of this process,
   * waiting on its queue. The listener must run them (or release them): their
   * leases are held. Returns an unsubscribe function.
   */
  onHandOff?(listener: (claimed: ClaimedJob) => void): () => void;
}
