/**
 * Every SQL statement of the SQLite engine, each with its parameters, result
 * and locks. All writes run inside `BEGIN IMMEDIATE` transactions opened by
 * the engine, so the single SQLite writer lock is taken up front and never
 * upgraded mid-transaction (which could fail with SQLITE_BUSY instead of
 * waiting for the busy timeout).
 *
 * Differences from PostgreSQL: no SKIP LOCKED (one writer at a time, so a
 * claim can never see a row another claim holds); timestamps are epoch-ms
 * integers; JSON is TEXT handled with the json1 functions.
 */

/** What a claim returns: only what a running attempt reads. */
const CLAIMED_COLUMNS = "seq, id, type, queue, priority, payload, progress, attempt, max_attempts, timeout_ms, owner, unique_key, created_at, run_at";

const LEASE_CLEARED = "worker_id = NULL, lease_token = NULL, lease_expires_at = NULL";

/** True while the queue named by the parameter @queue is paused (offload_queues, a primary-key probe). */
const QUEUE_PAUSED = "EXISTS (SELECT 1 FROM offload_queues WHERE queue = @queue AND paused_at IS NOT NULL)";

/** Appends the JSON error @error to the `errors` array and makes it the job's `error`. */
const RECORD_ERROR = "error = json(@error), errors = json_insert(errors, '$[#]', json(@error))";

/** The migration ledger: run before the job table exists, so prepared apart from SQL. */
export const MIGRATION_SQL = {
  /** Run first, inside the migration transaction (BEGIN IMMEDIATE: the lock that serialises migrating processes). */
  createTable: `CREATE TABLE IF NOT EXISTS offload_migrations (
    version INTEGER PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL, applied_at INTEGER NOT NULL)`,
  /** Result: every applied version with its checksum. */
  applied: `SELECT version, checksum FROM offload_migrations`,
  /** Params: version, name, checksum, applied_at. */
  record: `INSERT INTO offload_migrations (version, name, checksum, applied_at) VALUES (?, ?, ?, ?)`,
  /** Result: the schema version. */
  version: `SELECT max(version) AS v FROM offload_migrations`,
} as const;

export const SQL = {
  /**
   * Insert one job. Params: the JobInsert columns plus @status, @now.
   * Runs inside the enqueue transaction after `findUnfinishedByKey`.
   */
  insert: `
    INSERT INTO offload_jobs (id, type, queue, status, priority, payload, max_attempts, timeout_ms, owner, unique_key,
                              created_at, run_at, updated_at)
    VALUES (@id, @type, @queue, @status, @priority, @payload, @maxAttempts, @timeoutMs, @owner, @uniqueKey,
            @now, @runAt, @now)`,

  /** Params: type, unique_key. Result: the unfinished job holding that key, if any. */
  findUnfinishedByKey: `
    SELECT * FROM offload_jobs
    WHERE type = ? AND unique_key = ? AND status IN ('scheduled', 'queued', 'running')`,

  /** Params: id. Result: the row. */
  getById: `SELECT * FROM offload_jobs WHERE id = ?`,

  /**
   * Read-only pre-check run before taking the writer lock for a claim, so idle
   * workers polling a shared file do not queue up on the lock.
   * Params: queue. Result: a row when the queue has a queued job and is not paused.
   */
  hasQueued: `SELECT 1 FROM offload_jobs WHERE status = 'queued' AND queue = @queue AND NOT ${QUEUE_PAUSED} LIMIT 1`,

  /** Params: now. Result: a row when a scheduled job is due. */
  hasDueScheduled: `SELECT 1 FROM offload_jobs WHERE status = 'scheduled' AND run_at <= ? LIMIT 1`,

  /** Promote due scheduled jobs (delays, retry backoff) to queued. Params: now. */
  promoteDue: `UPDATE offload_jobs SET status = 'queued', updated_at = @now WHERE status = 'scheduled' AND run_at <= @now`,

  /**
   * Claim up to @limit queued jobs of @queue in claim order, counting an
   * attempt and giving each a lease. The subquery walks offload_jobs_ready.
   * A paused queue gives nothing: the pause is read inside the claim's own
   * transaction, so no claim that starts after a pause commits can take a job
   * of that queue, in any process.
   * Result: the claimed rows (in no particular order).
   */
  claim: `
    UPDATE offload_jobs
    SET status = 'running', attempt = attempt + 1, worker_id = @workerId, lease_token = @token,
        lease_expires_at = @expiresAt, started_at = @now, updated_at = @now
    WHERE seq IN (SELECT seq FROM offload_jobs WHERE status = 'queued' AND queue = @queue AND NOT ${QUEUE_PAUSED}
                  ORDER BY priority DESC, run_at, seq LIMIT @limit)
    RETURNING ${CLAIMED_COLUMNS}`,

  /** Renew one lease. Params: id, token, expiresAt. Result: cancel_requested when the lease is held. */
  heartbeat: `
    UPDATE offload_jobs SET lease_expires_at = @expiresAt
    WHERE id = @id AND lease_token = @token AND status = 'running'
    RETURNING cancel_requested`,

  /** Store progress under a lease. Params: id, token, progress (JSON), now. */
  progress: `
    UPDATE offload_jobs SET progress = @progress, updated_at = @now
    WHERE id = @id AND lease_token = @token AND status = 'running'`,

  /**
   * Ack: completed, for a whole batch in one statement (completions are the
   * hot path: one statement instead of one per job saves ~2 µs a job).
   * Params: acks = JSON array of { id, token, result: JSON text, progress: JSON text | null }, now.
   * Walks json_each and looks each job up by id (checked with EXPLAIN QUERY PLAN).
   * The lease token is kept (status no longer 'running' fences it off) because
   * RETURNING cannot name the FROM table: it tells which ack of a job applied.
   * Result: id, token and queue of each job that was still running under its token.
   */
  ackCompletedMany: `
    UPDATE offload_jobs
    SET status = 'completed', result = a.result, progress = coalesce(a.progress, offload_jobs.progress), error = NULL,
        finished_at = @now, updated_at = @now, worker_id = NULL, lease_expires_at = NULL
    FROM (SELECT value ->> '$.id' AS id, value ->> '$.token' AS token, value ->> '$.result' AS result,
                 value ->> '$.progress' AS progress
          FROM json_each(@acks)) AS a
    WHERE offload_jobs.id = a.id AND offload_jobs.lease_token = a.token AND offload_jobs.status = 'running'
    RETURNING id, lease_token, queue, max(0, started_at - run_at) AS wait`,

  /**
   * ackCompletedMany for a worker that keeps no completed job (`prune.completed: 0`):
   * deletes the jobs instead. Params: acks (JSON list of { id, token }). Result: as ackCompletedMany's.
   */
  ackDeleteCompletedMany: `
    DELETE FROM offload_jobs
    WHERE status = 'running' AND (id, lease_token) IN (SELECT value ->> '$.id', value ->> '$.token' FROM json_each(@acks))
    RETURNING id, lease_token, queue, max(0, started_at - run_at) AS wait`,

  /** Ack: failed for good (or cancelled, if requested meanwhile). Params: id, token, error, progress, now. Result: status, queue. */
  ackFailed: `
    UPDATE offload_jobs
    SET status = CASE WHEN cancel_requested THEN 'cancelled' ELSE 'failed' END, ${RECORD_ERROR},
        progress = coalesce(@progress, progress), finished_at = @now, updated_at = @now, ${LEASE_CLEARED}
    WHERE id = @id AND lease_token = @token AND status = 'running'
    RETURNING status, queue, max(0, started_at - run_at) AS wait`,

  /** Ack: retry after backoff (or cancelled, if requested meanwhile). Params: id, token, error, runAt, progress, now. */
  ackRetry: `
    UPDATE offload_jobs
    SET status = CASE WHEN cancel_requested THEN 'cancelled' WHEN @runAt <= @now THEN 'queued' ELSE 'scheduled' END,
        run_at = CASE WHEN cancel_requested THEN run_at ELSE @runAt END,
        finished_at = CASE WHEN cancel_requested THEN @now END,
        ${RECORD_ERROR}, progress = coalesce(@progress, progress), updated_at = @now, ${LEASE_CLEARED}
    WHERE id = @id AND lease_token = @token AND status = 'running'
    RETURNING status`,

  /** Ack: cancelled. Params: id, token, error (JSON or NULL), progress, now. */
  ackCancelled: `
    UPDATE offload_jobs
    SET status = 'cancelled',
        error = coalesce(json(@error), error),
        errors = CASE WHEN @error IS NULL THEN errors ELSE json_insert(errors, '$[#]', json(@error)) END,
        progress = coalesce(@progress, progress), finished_at = @now, updated_at = @now, ${LEASE_CLEARED}
    WHERE id = @id AND lease_token = @token AND status = 'running'
    RETURNING status`,

  /**
   * Ack: released unfinished at shutdown. Back to queued at its old place,
   * the attempt refunded. Params: id, token, progress, now.
   */
  ackReleased: `
    UPDATE offload_jobs
    SET status = CASE WHEN cancel_requested THEN 'cancelled' ELSE 'queued' END,
        attempt = CASE WHEN cancel_requested THEN attempt ELSE attempt - 1 END,
        started_at = CASE WHEN cancel_requested THEN started_at END,
        finished_at = CASE WHEN cancel_requested THEN @now END,
        progress = coalesce(@progress, progress), updated_at = @now, ${LEASE_CLEARED}
    WHERE id = @id AND lease_token = @token AND status = 'running'
    RETURNING status`,

  /** Cancel a job that has not started. Params: id, now. */
  cancelWaiting: `
    UPDATE offload_jobs SET status = 'cancelled', finished_at = @now, updated_at = @now
    WHERE id = @id AND status IN ('scheduled', 'queued')
    RETURNING *`,

  /** Ask the worker running a job to stop. Params: id, now. */
  requestCancel: `
    UPDATE offload_jobs SET cancel_requested = 1, updated_at = @now
    WHERE id = @id AND status = 'running'
    RETURNING *`,

  /** Queue a failed or cancelled job again with fresh attempts. Params: id, now. */
  retry: `
    UPDATE offload_jobs
    SET status = 'queued', attempt = 0, cancel_requested = 0, error = NULL, result = NULL, progress = NULL,
        run_at = @now, started_at = NULL, finished_at = NULL, updated_at = @now
    WHERE id = @id AND status IN ('failed', 'cancelled')
    RETURNING *`,

  /** Params: id, now. Makes a scheduled job due now: the next claim promotes it. */
  runNow: `UPDATE offload_jobs SET run_at = @now, updated_at = @now WHERE id = @id AND status = 'scheduled' RETURNING *`,

  /** Register or refresh a worker. Params: id, host, pid, queues (JSON), startedAt, now. */
  workerUpsert: `
    INSERT INTO offload_workers (id, host, pid, queues, started_at, last_seen_at) VALUES (@id, @host, @pid, @queues, @startedAt, @now)
    ON CONFLICT (id) DO UPDATE SET host = excluded.host, pid = excluded.pid, queues = excluded.queues, last_seen_at = excluded.last_seen_at`,

  /** Forget workers not seen since @before. Params: before. */
  workerPruneStale: `DELETE FROM offload_workers WHERE last_seen_at < @before`,

  /** Params: id. */
  workerDelete: `DELETE FROM offload_workers WHERE id = ?`,

  /** Workers seen since @since, oldest first. Params: since. */
  workerList: `SELECT id, host, pid, queues, started_at, last_seen_at FROM offload_workers WHERE last_seen_at >= @since ORDER BY started_at, id`,

  /** Running jobs, longest running first (a walk of offload_jobs_running). Params: limit. */
  runningJobs: `
    SELECT id, type, queue, attempt, started_at, worker_id FROM offload_jobs WHERE status = 'running'
    ORDER BY started_at LIMIT @limit`,

  /** Params: id. Deletes a finished job. Result: its queue and status (offload_queue_totals counts completed ones). */
  deleteFinished: `DELETE FROM offload_jobs WHERE id = ? AND status IN ('completed', 'failed', 'cancelled') RETURNING queue, status`,

  /**
   * Rescue up to @limit attempts whose lease expired before @now: back to
   * queued (the attempt stays counted), failed when none are left, cancelled
   * when cancellation was requested. Records a lease_expired error built from
   * the row's own attempt and worker. Result: the rescued rows.
   */
  rescueExpired: `
    UPDATE offload_jobs
    SET status = CASE WHEN cancel_requested THEN 'cancelled' WHEN attempt >= max_attempts THEN 'failed' ELSE 'queued' END,
        finished_at = CASE WHEN cancel_requested OR attempt >= max_attempts THEN @now END,
        error = json_object('attempt', attempt, 'at', @now, 'code', 'lease_expired',
                            'message', 'Lease expired: worker ' || coalesce(worker_id, '?') || ' stopped renewing it (crashed, hung or cut off)',
                            'stack', NULL, 'startedAt', started_at),
        errors = json_insert(errors, '$[#]', json_object('attempt', attempt, 'at', @now, 'code', 'lease_expired',
                            'message', 'Lease expired: worker ' || coalesce(worker_id, '?') || ' stopped renewing it (crashed, hung or cut off)',
                            'stack', NULL, 'startedAt', started_at)),
        updated_at = @now, ${LEASE_CLEARED}
    WHERE seq IN (SELECT seq FROM offload_jobs WHERE status = 'running' AND lease_expires_at < @now LIMIT @limit)
    RETURNING *`,

  /**
   * Delete up to @limit jobs of @status finished before @before, oldest first,
   * among seq < @boundary (the first job created after @before: see
   * firstSeqCreatedSince). Failed and cancelled walk offload_jobs_failed;
   * completed walk the rowid, bounded. Result: the queue of each deleted job
   * (offload_queue_totals counts completed ones).
   */
  prune: `
    DELETE FROM offload_jobs
    WHERE seq IN (SELECT seq FROM offload_jobs WHERE status = @status AND finished_at < @before AND seq < @boundary
                  ORDER BY seq LIMIT @limit)
    RETURNING queue`,

  /** Result: lowest and highest seq. */
  seqBounds: `SELECT min(seq) AS lo, max(seq) AS hi FROM offload_jobs`,

  /** Params: seq. Result: the first row at or after it (rowid search). */
  firstAtOrAfter: `SELECT seq, created_at FROM offload_jobs WHERE seq >= ? ORDER BY seq LIMIT 1`,

  /** Params: now. Result: due scheduled jobs by queue (they count as queued). */
  dueCounts: `SELECT queue, count(*) AS n FROM offload_jobs WHERE status = 'scheduled' AND run_at <= ? GROUP BY queue`,

  /** Counts by queue and state. */
  queueCounts: `SELECT queue, status, count(*) AS n FROM offload_jobs GROUP BY queue, status`,

  /**
   * Pause a queue; pausing again keeps the first paused_at. Params: queue, now.
   * Result: queue, paused_at. Read by hasQueued and claim.
   */
  queuePause: `
    INSERT INTO offload_queues (queue, paused_at, updated_at) VALUES (@queue, @now, @now)
    ON CONFLICT (queue) DO UPDATE SET paused_at = coalesce(paused_at, excluded.paused_at), updated_at = excluded.updated_at
    RETURNING queue, paused_at`,

  /** Resume a queue. Params: queue, now. */
  queueResume: `UPDATE offload_queues SET paused_at = NULL, updated_at = @now WHERE queue = @queue AND paused_at IS NOT NULL`,

  /** Result: every paused queue with paused_at. */
  queuesPaused: `SELECT queue, paused_at FROM offload_queues WHERE paused_at IS NOT NULL`,

  /**
   * Count jobs that ended in the 10 s window @bucket. Params: queue, bucket, completed, failed.
   * Runs in the transaction that ended them.
   */
  queueStatsBump: `
    INSERT INTO offload_queue_stats (queue, bucket, completed, failed, wait_ms) VALUES (@queue, @bucket, @completed, @failed, @waitMs)
    ON CONFLICT (queue, bucket) DO UPDATE SET completed = completed + excluded.completed, failed = failed + excluded.failed,
                                              wait_ms = wait_ms + excluded.wait_ms`,

  /** Every window since @from. Params: from. */
  queueStatsSince: `SELECT queue, bucket, completed, failed, wait_ms FROM offload_queue_stats WHERE bucket >= @from`,

  /** Drop windows that closed before @before (older than an hour). Params: before. */
  queueStatsPrune: `DELETE FROM offload_queue_stats WHERE bucket < @before`,

  /** Move a queue's stored completed count by @delta. Params: queue, delta. */
  queueTotalsAdd: `
    INSERT INTO offload_queue_totals (queue, completed) VALUES (@queue, @delta)
    ON CONFLICT (queue) DO UPDATE SET completed = completed + excluded.completed`,

  /**
   * Jobs ended per queue in windows that overlap the last minute (bucket > @minute)
   * and the last hour (bucket > @hour). Params: minute, hour.
   */
  queueStatsWindows: `
    SELECT queue,
           sum(CASE WHEN bucket > @minute THEN completed ELSE 0 END) AS completed_minute,
           sum(CASE WHEN bucket > @minute THEN failed ELSE 0 END) AS failed_minute,
           sum(CASE WHEN bucket > @minute THEN wait_ms ELSE 0 END) AS wait_minute,
           sum(completed) AS completed_hour, sum(failed) AS failed_hour, sum(wait_ms) AS wait_hour
    FROM offload_queue_stats WHERE bucket > @hour GROUP BY queue`,

  /** Result: completed jobs stored, per queue. */
  queueTotals: `SELECT queue, completed FROM offload_queue_totals WHERE completed <> 0`,

  /** Queued jobs per queue and the earliest runAt among them: a covering walk of offload_jobs_ready. */
  statsQueued: `SELECT queue, count(*) AS n, min(run_at) AS oldest FROM offload_jobs WHERE status = 'queued' GROUP BY queue`,

  /** Scheduled jobs per queue, split into due (run_at <= @now, counted as queued) and not. Walks offload_jobs_scheduled. */
  statsScheduled: `
    SELECT queue, run_at <= @now AS due, count(*) AS n, min(run_at) AS oldest
    FROM offload_jobs WHERE status = 'scheduled' GROUP BY queue, due`,

  /** Running jobs per queue. Walks offload_jobs_running. */
  statsRunning: `SELECT queue, count(*) AS n FROM offload_jobs WHERE status = 'running' GROUP BY queue`,

  /** Failed and cancelled jobs per queue. Walks offload_jobs_failed. */
  statsFailedCancelled: `SELECT queue, status, count(*) AS n FROM offload_jobs WHERE status IN ('failed', 'cancelled') GROUP BY queue, status`,

  /** Params: scope, key. Result: the key's record, expired or not. */
  idempotencyGet: `SELECT fingerprint, job_id, deduplicated, expires_at FROM offload_idempotency_keys WHERE scope = @scope AND key = @key`,

  /** Remember a key (replacing an expired or orphaned record). Params: scope, key, fingerprint, jobId, deduplicated, now, expiresAt. */
  idempotencyPut: `
    INSERT OR REPLACE INTO offload_idempotency_keys (scope, key, fingerprint, job_id, deduplicated, created_at, expires_at)
    VALUES (@scope, @key, @fingerprint, @jobId, @deduplicated, @now, @expiresAt)`,

  /** Delete up to 100 expired keys, oldest first, through offload_idempotency_keys_expiry. Params: now. */
  idempotencyPrune: `
    DELETE FROM offload_idempotency_keys
    WHERE (scope, key) IN (SELECT scope, key FROM offload_idempotency_keys WHERE expires_at <= @now ORDER BY expires_at LIMIT 100)`,
} as const;
