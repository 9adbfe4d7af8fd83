import { UNFINISHED_STATES, sqlStateList } from "../../job/states.js";

/**
 * Every SQL statement of the PostgreSQL engine, built for one schema.
 *
 * Conventions:
 * - `$1` is always `now`: epoch ms injected by tests, or NULL for the
 *   database's clock (`statement_timestamp()`), so hosts with skewed clocks
 *   agree on run times, leases and rescue.
 * - Each hot statement is one round trip and, where it can be, one implicit
 *   transaction: claims, acks, heartbeats and progress take arrays (or a JSON
 *   list) and touch every row of a batch in one statement.
 * - Fencing: a write for an attempt applies only where `lease_token` is the
 *   attempt's token; a CHECK constraint keeps tokens on running rows only.
 * - Claims lock with `FOR UPDATE SKIP LOCKED`, so any number of workers on any
 *   number of hosts claim side by side without waiting for each other, and
 *   update by `id = ANY(ARRAY(...))`: with `id IN (subquery)` the planner
 *   sometimes scans the table instead of using the primary key.
 * - Timestamps are epoch-ms bigints; JSON columns are `json` (stored as given)
 *   except the error list, `jsonb` because attempts append to it.
 */
export function buildStatements(schema: string, shard: number) {
  const jobs = `${schema}.jobs`;
  const STATS_BUCKET_MS = 10_000;
  const NOW = "coalesce($1::bigint, floor(extract(epoch FROM statement_timestamp()) * 1000)::bigint)";
  /**
   * The clock CTE of writes whose loss in a crash of the database server
   * costs nothing but a repeat: claims (the job runs again, as after any
   * crash), heartbeats and progress (the lease and progress as they were),
   * worker rows. Their commit does not wait for the WAL flush (an fsync: the
   * largest part of a claim's time on an idle worker); the next commit that
   * waits (an enqueue, an ack) flushes them too. Acks, cancels and retries
   * keep waiting: once they answer, they survive. Enqueues outside the
   * application's transaction use it too, then wait for the flush with
   * {@link confirmDurable} before they answer: workers see the job one flush
   * sooner, and the enqueue still answers only once the job survives a crash.
   */
  const CLOCK_NO_FLUSH = `c AS (SELECT ${NOW} AS now, set_config('synchronous_commit', 'off', true) AS no_flush)`;
  const UNFINISHED = sqlStateList(UNFINISHED_STATES);
  const LEASE_CLEARED = "worker_id = NULL, lease_token = NULL, lease_expires_at = NULL";
  /** What a claim returns: only what a running attempt reads. */
  const CLAIMED = "j.id, j.type, j.queue, j.priority, j.payload, j.progress, j.attempt, j.max_attempts, j.timeout_ms, j.owner, j.unique_key, j.created_at, j.run_at";
  /** The state an ack leaves its job in, from the old row (j) and the ack (a). */
  const ACK_STATUS = `CASE a.outcome
      WHEN 'completed' THEN 'completed'
      WHEN 'cancelled' THEN 'cancelled'
      WHEN 'failed' THEN CASE WHEN j.cancel_requested THEN 'cancelled' ELSE 'failed' END
      WHEN 'retry' THEN CASE WHEN j.cancel_requested THEN 'cancelled' WHEN a.delay_ms <= 0 THEN 'queued' ELSE 'scheduled' END
      WHEN 'released' THEN CASE WHEN j.cancel_requested THEN 'cancelled' ELSE 'queued' END
    END`;
  const LEASE_EXPIRED_ERROR = `jsonb_build_object('attempt', j.attempt, 'at', c.now, 'code', 'lease_expired',
      'message', 'Lease expired: worker ' || coalesce(j.worker_id, '?') || ' stopped renewing it (crashed, hung or cut off)',
      'stack', NULL, 'startedAt', j.started_at)`;

  /**
   * The rows a claim takes: per queue, queued and due scheduled jobs in claim
   * order, rows others hold skipped; nothing of a paused queue (the pause is
   * read in the claim's own snapshot, so no claim that starts after a pause
   * commits takes a job of it, on any host).
   */
  const picked = (queues: string, limits: string) => `picked AS (
        SELECT p.id
        FROM c, unnest(${queues}::text[], ${limits}::int[]) AS q(name, lim)
        CROSS JOIN LATERAL (SELECT NOT EXISTS (SELECT 1 FROM ${schema}.queues WHERE queue = q.name AND paused_at IS NOT NULL) AS open) g
        CROSS JOIN LATERAL (
          SELECT u.id FROM (
            SELECT * FROM (SELECT id, priority, run_at FROM ${jobs}
                           WHERE status = 'queued' AND queue = q.name AND g.open
                           ORDER BY priority DESC, run_at, id LIMIT q.lim FOR UPDATE SKIP LOCKED) ready
            UNION ALL
            SELECT * FROM (SELECT id, priority, run_at FROM ${jobs}
                           WHERE status = 'scheduled' AND queue = q.name AND run_at <= c.now AND g.open
                           ORDER BY priority DESC, run_at, id LIMIT q.lim FOR UPDATE SKIP LOCKED) due
          ) u
          ORDER BY u.priority DESC, u.run_at, u.id LIMIT q.lim
        ) p
      )`;

  /** Starts an attempt of each picked job: counts it, gives it the lease. */
  const claimUpdate = (workerId: string, token: string, leaseMs: string) => `UPDATE ${jobs} j
      SET status = 'running', attempt = j.attempt + 1, worker_id = ${workerId}, lease_token = ${token},
          lease_expires_at = c.now + ${leaseMs}::bigint, started_at = c.now, updated_at = c.now
      FROM c
      WHERE j.id = ANY(ARRAY(SELECT id FROM picked))
      RETURNING ${CLAIMED}, c.now AS claimed_at`;

  /** The acks of a batch, from a JSON list parameter. */
  const ackList = (param: string) => `a AS (SELECT * FROM json_to_recordset(${param}::json)
        AS x(i int, id uuid, token text, outcome text, result json, error jsonb, delay_ms bigint, progress json))`;

  /**
   * Finishes the attempts of ackList `a`. An ack applies only while its job
   * runs under its token. A retry, failure or release of a job whose
   * cancellation was requested ends it cancelled. Rows are found by primary
   * key (`id = ANY(ARRAY(...))`): joined on the running index instead, the
   * planner walks every dead entry that completed jobs left there (a bitmap
   * scan never marks them dead), tens of thousands between two vacuums.
   * For the same reason the lease token alone fences (no `status =
   * 'running'`, which would invite that index): the table's check
   * constraint keeps a token on running rows only.
   */
  const ackUpdate = (deleting: boolean) => `UPDATE ${jobs} j
      SET status = ${ACK_STATUS},
          result = CASE WHEN a.outcome = 'completed' THEN a.result ELSE j.result END,
          error = CASE WHEN a.outcome = 'completed' THEN NULL ELSE coalesce(a.error, j.error) END,
          errors = CASE WHEN a.outcome <> 'completed' AND a.error IS NOT NULL THEN j.errors || jsonb_build_array(a.error) ELSE j.errors END,
          progress = coalesce(a.progress, j.progress),
          attempt = CASE WHEN a.outcome = 'released' AND NOT j.cancel_requested THEN j.attempt - 1 ELSE j.attempt END,
          run_at = CASE WHEN a.outcome = 'retry' AND NOT j.cancel_requested THEN c.now + a.delay_ms ELSE j.run_at END,
          started_at = CASE WHEN a.outcome = 'released' AND NOT j.cancel_requested THEN NULL ELSE j.started_at END,
          finished_at = CASE WHEN ${ACK_STATUS} IN ('completed', 'failed', 'cancelled') THEN c.now END,
          updated_at = c.now, ${LEASE_CLEARED}
      FROM c, a
      WHERE j.id = ANY(ARRAY(SELECT id FROM a${deleting ? " WHERE outcome <> 'completed'" : ""})) AND j.id = a.id AND j.lease_token = a.token${
        deleting ? " AND a.outcome <> 'completed'" : ""
      }
      RETURNING a.i, j.status, j.queue, GREATEST(0, j.started_at - j.run_at) AS wait`;

  /**
   * Deletes the jobs that the completed acks of CTE `a` finish, under the worker option that keeps no completed job
   * (`prune.completed: 0`): a delete only marks the row dead, where the
   * update writes a new row version and its index entries (measured on one
   * connection, batches of 200: 9-10 µs a job updated, 2.4 µs deleted).
   * Fenced as ackUpdate is; the rows it returns look like ackUpdate's.
   * `mixed`: `a` holds acks of every outcome (ackList), of which only the
   * completed ones are taken.
   */
  const ackDelete = (mixed: boolean) => `DELETE FROM ${jobs} j USING a
      WHERE j.id = ANY(ARRAY(SELECT id FROM a${mixed ? " WHERE outcome = 'completed'" : ""})) AND j.id = a.id AND j.lease_token = a.token${
        mixed ? " AND a.outcome = 'completed'" : ""
      }
      RETURNING a.i, 'completed'::text AS status, j.queue, GREATEST(0, j.started_at - j.run_at) AS wait`;

  /**
   * The CTEs that write a batch of acks from ackList `a`, ending in CTE
   * `acked` (i, status, queue, wait) with a row per applied ack: the update,
   * or under `deleting` the update of every other outcome beside the delete
   * of completed jobs (disjoint rows: a batch holds one ack per lease, and
   * only a job's current lease matches).
   */
  const ackWrites = (deleting: boolean) =>
    deleting
      ? `updated AS (${ackUpdate(true)}),
      removed AS (${ackDelete(true)}),
      acked AS (SELECT * FROM updated UNION ALL SELECT * FROM removed)`
      : `acked AS (${ackUpdate(false)})`;

  /**
   * Counts the jobs that CTE `source` (queue, status, wait) ended completed or
   * failed: into this process's shard of the 10 s window, and completed ones
   * into the queue's stored total unless they were not stored (`stored`
   * false: deleted at completion). One pass over the source, then one upsert
   * per queue and table.
   */
  const countEnded = (source: string, stored = true) => `tally AS (
        SELECT e.queue, count(*) FILTER (WHERE e.status = 'completed') AS completed, count(*) FILTER (WHERE e.status = 'failed') AS failed,
               sum(e.wait) AS wait
        FROM ${source} e WHERE e.status IN ('completed', 'failed') GROUP BY e.queue),
      bumped AS (
        INSERT INTO ${schema}.queue_stats AS t (queue, bucket, shard, completed, failed, wait_ms)
        SELECT e.queue, c.now - c.now % ${STATS_BUCKET_MS}, ${shard}, e.completed, e.failed, e.wait FROM tally e, c
        ON CONFLICT (queue, bucket, shard) DO UPDATE SET completed = t.completed + excluded.completed, failed = t.failed + excluded.failed,
                                                         wait_ms = t.wait_ms + excluded.wait_ms)${
        stored
          ? `,
      totalled AS (
        INSERT INTO ${schema}.queue_totals AS t (queue, shard, completed)
        SELECT e.queue, ${shard}, e.completed FROM tally e WHERE e.completed > 0
        ON CONFLICT (queue, shard) DO UPDATE SET completed = t.completed + excluded.completed)`
          : ""
      }`;

  /** Takes completed jobs that CTE `source` (queue, status) deleted off their queue's stored total. */
  const uncountDeleted = (source: string) => `untotalled AS (
        INSERT INTO ${schema}.queue_totals AS t (queue, shard, completed)
        SELECT e.queue, ${shard}, -count(*) FROM ${source} e WHERE e.status = 'completed' GROUP BY e.queue
        ON CONFLICT (queue, shard) DO UPDATE SET completed = t.completed + excluded.completed)`;

  /** The insert statement with clock CTE `clock` (see {@link insert}). */
  const insertJobs = (clock: string) => `
      WITH ${clock}
      INSERT INTO ${jobs} AS j (id, type, queue, status, priority, payload, max_attempts, timeout_ms, owner, unique_key,
                                created_at, run_at, updated_at)
      SELECT n.id, n.type, n.queue,
             CASE WHEN coalesce(n.run_at, c.now + coalesce(n.delay_ms, 0)) > c.now THEN 'scheduled' ELSE 'queued' END,
             n.priority, n.payload, n.max_attempts, n.timeout_ms, n.owner, n.unique_key,
             c.now, coalesce(n.run_at, c.now + coalesce(n.delay_ms, 0)), c.now
      FROM c, unnest($2::uuid[], $3::text[], $4::text[], $5::int[], $6::json[], $7::int[], $8::bigint[], $9::text[], $10::text[],
                     $11::bigint[], $12::bigint[])
              WITH ORDINALITY AS n(id, type, queue, priority, payload, max_attempts, timeout_ms, owner, unique_key, run_at, delay_ms, ord)
      ORDER BY n.ord
      ON CONFLICT (type, unique_key) WHERE unique_key IS NOT NULL AND status IN (${UNFINISHED}) DO NOTHING
      RETURNING j.id, j.status, j.created_at, j.run_at, CASE WHEN j.status = 'queued' THEN pg_notify($13, j.queue) END AS notified`;

  /**
   * A job of queue $3 that a claim would take before one of priority $4
   * (queued, or scheduled and due, with a priority at least as high), or the
   * queue paused: a job handed over at enqueue must not pass them.
   */
  const BLOCKED = `EXISTS (SELECT 1 FROM ${jobs} WHERE status = 'queued' AND queue = $3::text AND priority >= $4::int)
            OR EXISTS (SELECT 1 FROM ${jobs}, c WHERE status = 'scheduled' AND queue = $3::text AND run_at <= c.now AND priority >= $4::int)
            OR EXISTS (SELECT 1 FROM ${schema}.queues WHERE queue = $3::text AND paused_at IS NOT NULL)`;

  /**
   * Store one due job without a uniqueKey, claimed for the worker that the
   * query `taker` gives (worker_id, channel, lease_ms; no row: nobody takes
   * it, for it is {@link BLOCKED} or no worker waits), else stored queued
   * with the queue's notification as insert does. A worker with a channel is
   * sent the job on it. `taker` is MATERIALIZED: inlined, PostgreSQL ran its
   * probes once for each column that reads it (0.18 ms of a 1.8 ms enqueue
   * here). Committed without waiting for the flush, as insertVisible: the
   * worker starts the job while confirmDurable makes it durable. Params: now,
   * id, queue, priority, type, payload, maxAttempts, timeoutMs, owner,
   * leaseToken, channel, then the taker's own. Result: status, created_at,
   * worker_id, lease_ms.
   */
  const insertClaimedFor = (taker: string) => `
      WITH ${CLOCK_NO_FLUSH},
      w AS MATERIALIZED (${taker}),
      j AS (
        INSERT INTO ${jobs} (id, type, queue, status, priority, payload, max_attempts, timeout_ms, owner, unique_key,
                             created_at, run_at, updated_at, attempt, worker_id, lease_token, lease_expires_at, started_at)
        SELECT $2::uuid, $5::text, $3::text, CASE WHEN w.worker_id IS NULL THEN 'queued' ELSE 'running' END, $4::int, $6::json,
               $7::int, $8::bigint, $9::text, NULL, c.now, c.now, c.now, CASE WHEN w.worker_id IS NULL THEN 0 ELSE 1 END,
               w.worker_id, CASE WHEN w.worker_id IS NOT NULL THEN $10::text END, c.now + w.lease_ms,
               CASE WHEN w.worker_id IS NOT NULL THEN c.now END
        FROM c LEFT JOIN w ON true
        RETURNING status, created_at
      )
      SELECT j.status, j.created_at, w.worker_id, w.lease_ms,
             CASE WHEN w.worker_id IS NULL THEN pg_notify($11::text, $3::text)
                  WHEN w.channel IS NOT NULL THEN pg_notify(w.channel, json_build_object(
                    'worker_id', w.worker_id, 'token', $10::text, 'lease_ms', w.lease_ms, 'id', $2::uuid, 'type', $5::text,
                    'queue', $3::text, 'priority', $4::int, 'payload', $6::json, 'max_attempts', $7::int, 'timeout_ms', $8::bigint,
                    'owner', $9::text, 'claimed_at', j.created_at)::text) END AS notified
      FROM j LEFT JOIN w ON true`;

  const ack = (deleting: boolean) => `
      WITH c AS (SELECT ${NOW} AS now), ${ackList("$2")},
      ${ackWrites(deleting)},
      ${countEnded("acked", !deleting)}
      SELECT i, status FROM acked`;

  /**
   * CTEs `a` and `acked` of an all-completed batch (JSON list $2): each job's
   * current lease completes it, its result stored, or under `deleting` the
   * job deleted (and the list carries no result or progress).
   */
  const completedAcks = (deleting: boolean) =>
    deleting
      ? `a AS (SELECT * FROM json_to_recordset($2::json) AS x(i int, id uuid, token text)),
      acked AS (${ackDelete(false)})`
      : `a AS (SELECT * FROM json_to_recordset($2::json) AS x(i int, id uuid, token text, result json, progress json)),
      acked AS (UPDATE ${jobs} j
        SET status = 'completed', result = a.result, error = NULL, progress = coalesce(a.progress, j.progress),
            finished_at = c.now, updated_at = c.now, ${LEASE_CLEARED}
        FROM c, a
        WHERE j.id = ANY(ARRAY(SELECT id FROM a)) AND j.id = a.id AND j.lease_token = a.token
        RETURNING a.i, j.status, j.queue, GREATEST(0, j.started_at - j.run_at) AS wait)`;

  const ackCompleted = (deleting: boolean) => `
      WITH c AS (SELECT ${NOW} AS now),
      ${completedAcks(deleting)},
      ${countEnded("acked", !deleting)}
      SELECT CASE WHEN count(*) = $3::int THEN NULL ELSE coalesce(json_agg(i), '[]'::json) END AS applied FROM acked`;

  const ackAndClaim = (deleting: boolean) => `
      WITH c AS (SELECT ${NOW} AS now),
      ${ackList("$2")},
      ${ackWrites(deleting)},
      ${picked("$3", "$4")},
      claimed AS (${claimUpdate("$5", "$6", "$7")}),
      ${countEnded("acked", !deleting)}
      SELECT (SELECT coalesce(json_agg(json_build_array(acked.i, acked.status)), '[]'::json) FROM acked) AS acks,
             (SELECT coalesce(json_agg(claimed), '[]'::json) FROM claimed) AS claimed`;

  return {
    /** Result: the database clock in epoch ms. */
    now: `SELECT ${NOW} AS now`,

    /**
     * Store jobs in order. Params: now, then one array per column (ids, types,
     * queues, priorities, payloads, maxAttempts, timeoutMs, owners, uniqueKeys,
     * runAts, delayMs), then the notification channel. A job whose uniqueKey an
     * unfinished job of its type holds is skipped (ON CONFLICT on jobs_unique);
     * the caller then looks the holder up. Queued jobs notify their queue
     * (delivered at commit, deduplicated by PostgreSQL within a transaction).
     * Result: what the database decided of each stored job (id, status,
     * created_at, run_at); the rest is what was sent.
     */
    insert: insertJobs(`c AS (SELECT ${NOW} AS now)`),

    /**
     * {@link insert} committed without waiting for the WAL flush, then made
     * durable by {@link confirmDurable} on the same connection before the
     * enqueue answers: the job is visible to workers (and its notification
     * sent) about a flush sooner. Never in the application's transaction,
     * whose commit the setting would change.
     */
    insertVisible: insertJobs(CLOCK_NO_FLUSH),

    /**
     * Store one due job, already claimed for this process's own idle worker
     * (params workerId, leaseMs): an enqueue that hands its job over without
     * a notification and a claim. See {@link insertClaimedFor}. Result:
     * status and created_at (the claim's time): the caller sent the rest
     * (returning the claimed columns cost 0.1 ms of a 1.6 ms statement).
     */
    insertAndClaim: insertClaimedFor(`SELECT $12::text AS worker_id, NULL::text AS channel, $13::bigint AS lease_ms WHERE NOT (${BLOCKED})`),

    /**
     * Store one due job, already claimed for a worker of another process that
     * waits on its queue (a fresh row in waiters with a free slot, whose
     * LISTEN session is alive), and send it the job on its own channel: it
     * starts without a claim of its own. The job must fit a notification
     * (8,000 bytes). See {@link insertClaimedFor}. Result: status,
     * created_at, and the worker and lease of a job handed over.
     */
    insertHandingOff: insertClaimedFor(`
        UPDATE ${schema}.waiters AS w SET free = w.free - 1
        WHERE (w.queue, w.worker_id) = (SELECT x.queue, x.worker_id FROM ${schema}.waiters x, c
                                          WHERE x.queue = $3::text AND x.free > 0 AND x.expires_at > c.now
                                            AND EXISTS (SELECT 1 FROM pg_stat_get_activity(x.listener_pid))
                                          LIMIT 1 FOR UPDATE OF x SKIP LOCKED)
          AND octet_length($6::json::text) + octet_length($5::text) + octet_length($3::text) + coalesce(octet_length($9::text), 0) <= 7000
          AND NOT (${BLOCKED})
        RETURNING w.worker_id, w.channel, w.lease_ms`),

    /**
     * Write this worker's waiting rows: one per queue with free slots, fresh
     * for ttlMs; its rows of other queues go. Params: now, workerId, channel,
     * queues, frees, leaseMs, ttlMs, listenerPid.
     */
    waitersPut: `
      WITH ${CLOCK_NO_FLUSH},
      n AS (SELECT * FROM unnest($4::text[], $5::int[]) AS n(queue, free) WHERE n.free > 0),
      gone AS (DELETE FROM ${schema}.waiters w WHERE w.worker_id = $2::text AND w.queue NOT IN (SELECT queue FROM n) RETURNING 1)
      INSERT INTO ${schema}.waiters AS w (queue, worker_id, channel, free, lease_ms, listener_pid, expires_at)
      SELECT n.queue, $2::text, $3::text, n.free, $6::bigint, $8::int, c.now + $7::bigint FROM c, n
      ON CONFLICT (queue, worker_id) DO UPDATE SET channel = excluded.channel, free = excluded.free, lease_ms = excluded.lease_ms,
                                                   listener_pid = excluded.listener_pid, expires_at = excluded.expires_at`,

    /**
     * Remove a worker's waiting rows. A row an enqueue is handing a job over
     * with is locked until that enqueue commits: this waits for it, so every
     * hand-off to the worker is committed (and its notification sent) when
     * this returns. Params: workerIds.
     */
    waitersDelete: `DELETE FROM ${schema}.waiters WHERE worker_id = ANY($1::text[])`,

    /**
     * Waits for the WAL flush of everything this connection committed before
     * (a commit that waits flushes the log up to its own record, which comes
     * after theirs): a transaction that only takes a transaction id, so that it
     * has a commit record to flush. No params.
     */
    confirmDurable: "SELECT txid_current() AS xid",

    /** Params: now, types, uniqueKeys. Result: the unfinished jobs holding these keys, with the clock. */
    findUnfinishedByKeys: `
      WITH c AS (SELECT ${NOW} AS now)
      SELECT j.*, c.now FROM c, ${jobs} j
      JOIN unnest($2::text[], $3::text[]) AS k(type, unique_key) ON j.type = k.type AND j.unique_key = k.unique_key
      WHERE j.status IN (${UNFINISHED})`,

    /** Params: id (no now). */
    getById: `SELECT * FROM ${jobs} WHERE id = $1`,

    /** Params: now, id. Result: the row with the clock (one row, all NULL but now when there is no such job). */
    getWithClock: `SELECT j.*, c.now FROM (SELECT ${NOW} AS now) c LEFT JOIN ${jobs} j ON j.id = $2`,

    /**
     * Claim up to a limit of each queue: queued jobs and due scheduled ones
     * (they need no promotion step: a claim takes them straight to running),
     * in claim order, skipping rows other claimers hold. Params: now, queues,
     * limits, workerId, leaseToken, leaseMs. Result: the claimed rows, unordered.
     */
    claim: `
      WITH ${CLOCK_NO_FLUSH},
      ${picked("$2", "$3")}
      ${claimUpdate("$4", "$5", "$6")}`,

    /**
     * {@link claim} for a transaction that also writes what must survive
     * (acks that make jobs claimable at once, then this claim): the flush
     * setting would hold for the whole transaction, so this one keeps it.
     */
    claimInTransaction: `
      WITH c AS (SELECT ${NOW} AS now),
      ${picked("$2", "$3")}
      ${claimUpdate("$4", "$5", "$6")}`,

    /**
     * Finish attempts, every outcome in one statement. Params: now, acks (JSON
     * list of { i, id, token, outcome, result, error, delay_ms, progress }, at
     * most one per lease). Result: the index and new status of each applied ack.
     */
    ack: ack(false),
    /** {@link ack} that deletes the jobs it completes (worker option `prune.completed: 0`). */
    ackDeleting: ack(true),

    /**
     * {@link ack} for a batch whose every ack is `completed`, the worker's
     * steady state: fewer columns to read from the list and no outcome to
     * branch on per row (measured: 16.2 -> 14.0 µs a job in batches of 250).
     * Params: now, acks (JSON list of { i, id, token, result, progress? }),
     * how many acks the list holds. Result: one row, `applied` NULL when
     * every ack applied (nearly always: no row per ack to send and parse),
     * else a JSON list of the indexes of those that did.
     */
    ackCompleted: ackCompleted(false),
    /**
     * {@link ackCompleted} that deletes the jobs it completes (worker option
     * `prune.completed: 0`). Params as ackCompleted's, with no result or
     * progress in the list: the row that would keep them is gone.
     */
    ackCompletedDeleting: ackCompleted(true),

    /**
     * Acks and a claim in one statement, one round trip and one commit: the
     * worker's steady state. Only for acks that make no job claimable at once
     * (completed, failed, cancelled, retry after a delay): the claim reads the
     * snapshot from before the acks, so a release or an immediate retry goes
     * through {@link ack} then {@link claim} in a transaction instead. The two
     * updates touch disjoint rows (running ones; queued and due ones). Params:
     * now, acks, queues, limits, workerId, leaseToken, leaseMs. Result: one row,
     * `acks` as [[index, status], ...] and `claimed` as the claimed rows (JSON).
     */
    ackAndClaim: ackAndClaim(false),
    /** {@link ackAndClaim} that deletes the jobs it completes (worker option `prune.completed: 0`). */
    ackAndClaimDeleting: ackAndClaim(true),

    /** Renew leases. Params: now, ids, tokens, leaseMs. Result: id, token and cancel_requested of each renewed lease. */
    heartbeat: `
      WITH ${CLOCK_NO_FLUSH}
      UPDATE ${jobs} j SET lease_expires_at = c.now + $4::bigint
      FROM c, unnest($2::uuid[], $3::text[]) AS l(id, token)
      WHERE j.id = ANY($2::uuid[]) AND j.id = l.id AND j.lease_token = l.token
      RETURNING j.id, j.lease_token, j.cancel_requested`,

    /** Store progress under leases. Params: now, ids, tokens, progress (JSON texts). Result: id and token of each write. */
    progress: `
      WITH ${CLOCK_NO_FLUSH}
      UPDATE ${jobs} j SET progress = p.progress, updated_at = c.now
      FROM c, unnest($2::uuid[], $3::text[], $4::json[]) AS p(id, token, progress)
      WHERE j.id = ANY($2::uuid[]) AND j.id = p.id AND j.lease_token = p.token
      RETURNING j.id, j.lease_token`,

    /** Cancel a job that has not started. Params: now, id. */
    cancelWaiting: `
      WITH c AS (SELECT ${NOW} AS now)
      UPDATE ${jobs} j SET status = 'cancelled', finished_at = c.now, updated_at = c.now
      FROM c WHERE j.id = $2 AND j.status IN ('scheduled', 'queued')
      RETURNING j.*`,

    /**
     * Ask the worker running a job to stop: its heartbeat tells it, and a
     * notification on the cancel channel, at commit, tells it at once.
     * Params: now, id, cancel channel.
     */
    requestCancel: `
      WITH c AS (SELECT ${NOW} AS now)
      UPDATE ${jobs} j SET cancel_requested = true, updated_at = c.now
      FROM c WHERE j.id = $2 AND j.status = 'running'
      RETURNING j.*, pg_notify($3, j.id::text) AS notified`,

    /** Queue a failed or cancelled job again with fresh attempts. Params: now, id, channel. */
    retry: `
      WITH c AS (SELECT ${NOW} AS now)
      UPDATE ${jobs} j
      SET status = 'queued', attempt = 0, cancel_requested = false, error = NULL, result = NULL, progress = NULL,
          run_at = c.now, started_at = NULL, finished_at = NULL, updated_at = c.now
      FROM c WHERE j.id = $2 AND j.status IN ('failed', 'cancelled')
      RETURNING j.*, pg_notify($3, j.queue) AS notified`,

    /** Params: id. Result: n, how many were deleted (0 or 1). A completed one leaves its queue's total. */
    deleteFinished: `
      WITH d AS (DELETE FROM ${jobs} WHERE id = $1 AND status IN ('completed', 'failed', 'cancelled') RETURNING queue, status),
      ${uncountDeleted("d")}
      SELECT count(*)::int AS n FROM d`,

    /**
     * Rescue up to a limit of attempts whose lease expired: back to queued (the
     * attempt stays counted), failed when none are left, cancelled when
     * cancellation was requested; each records a lease_expired error. Rows a
     * worker is writing right now are skipped, not waited for. Params: now,
     * limit, channel. Result: the rescued rows.
     */
    rescueExpired: `
      WITH c AS (SELECT ${NOW} AS now),
      expired AS (
        SELECT id FROM ${jobs}, c WHERE status = 'running' AND lease_expires_at < c.now
        ORDER BY lease_expires_at LIMIT $2 FOR UPDATE SKIP LOCKED
      ),
      rescued AS (UPDATE ${jobs} j
      SET status = CASE WHEN j.cancel_requested THEN 'cancelled' WHEN j.attempt >= j.max_attempts THEN 'failed' ELSE 'queued' END,
          finished_at = CASE WHEN j.cancel_requested OR j.attempt >= j.max_attempts THEN c.now END,
          error = ${LEASE_EXPIRED_ERROR},
          errors = j.errors || jsonb_build_array(${LEASE_EXPIRED_ERROR}),
          updated_at = c.now, ${LEASE_CLEARED}
      FROM c
      WHERE j.id = ANY(ARRAY(SELECT id FROM expired))
      RETURNING j.*, CASE WHEN NOT j.cancel_requested AND j.attempt < j.max_attempts THEN pg_notify($3, j.queue) END AS notified,
                GREATEST(0, j.started_at - j.run_at) AS wait),
      ${countEnded("rescued")}
      SELECT * FROM rescued`,

    /**
     * Delete up to a limit of jobs in a state, finished more than an age ago.
     * A job finished before that time was created before it (both by the
     * database clock), so `created_at < before` holds for every victim: it
     * lets the BRIN index on created_at skip the recent part of the table
     * instead of visiting every completed row, which have no index of their
     * own. Failed and cancelled jobs walk jobs_failed. Params: now, status,
     * ageMs, limit.
     */
    prune: `
      WITH c AS (SELECT ${NOW} AS now),
      victims AS (
        SELECT id FROM ${jobs}, c
        WHERE status = $2 AND finished_at < c.now - $3::bigint AND created_at < c.now - $3::bigint
        LIMIT $4
      ),
      d AS (DELETE FROM ${jobs} WHERE id = ANY(ARRAY(SELECT id FROM victims)) RETURNING queue, status),
      ${uncountDeleted("d")}
      SELECT count(*)::int AS n FROM d`,

    /** Drop statistics windows older than an hour and up to 1,000 expired idempotency keys. Params: now. */
    pruneSide: `
      WITH c AS (SELECT ${NOW} AS now),
      windows AS (DELETE FROM ${schema}.queue_stats WHERE bucket < (SELECT now FROM c) - 3600000 - ${STATS_BUCKET_MS} RETURNING 1),
      keys AS (DELETE FROM ${schema}.idempotency_keys WHERE (scope, key) IN (
                 SELECT scope, key FROM ${schema}.idempotency_keys WHERE expires_at <= (SELECT now FROM c) ORDER BY expires_at LIMIT 1000)
               RETURNING 1)
      SELECT (SELECT count(*) FROM windows)::int AS windows, (SELECT count(*) FROM keys)::int AS keys`,

    /** Pause a queue; pausing again keeps the first paused_at. Params: now, queue. Result: queue, paused_at. */
    queuePause: `
      WITH c AS (SELECT ${NOW} AS now)
      INSERT INTO ${schema}.queues AS q (queue, paused_at, updated_at) SELECT $2, c.now, c.now FROM c
      ON CONFLICT (queue) DO UPDATE SET paused_at = coalesce(q.paused_at, excluded.paused_at), updated_at = excluded.updated_at
      RETURNING queue, paused_at`,

    /** Resume a queue. Params: now, queue. */
    queueResume: `
      WITH c AS (SELECT ${NOW} AS now)
      UPDATE ${schema}.queues q SET paused_at = NULL, updated_at = c.now FROM c WHERE q.queue = $2 AND q.paused_at IS NOT NULL`,

    /**
     * Everything queueStats reports, in one statement (one snapshot), without
     * reading a completed row: unfinished, failed and cancelled jobs through
     * their partial indexes, completed ones from the stored totals, endings
     * from the windows. Params: now, minute (windows after it are in the last
     * minute), hour. Result: rows of (kind, queue, status, n, oldest, a, b, c, d).
     */
    queueStats: `
      WITH c AS (SELECT ${NOW} AS now)
      SELECT 'queued' AS kind, queue, NULL AS status, count(*)::bigint AS n, min(run_at) AS oldest, NULL::bigint AS a, NULL::bigint AS b, NULL::bigint AS cc, NULL::bigint AS d, NULL::bigint AS wm, NULL::bigint AS wh
        FROM ${jobs} WHERE status = 'queued' GROUP BY queue
      UNION ALL
      SELECT CASE WHEN run_at <= c.now THEN 'due' ELSE 'scheduled' END, queue, NULL, count(*), min(run_at), NULL, NULL, NULL, NULL, NULL, NULL
        FROM ${jobs}, c WHERE status = 'scheduled' GROUP BY 1, queue
      UNION ALL
      SELECT 'state', queue, status, count(*), NULL, NULL, NULL, NULL, NULL, NULL, NULL
        FROM ${jobs} WHERE status IN ('running', 'failed', 'cancelled') GROUP BY queue, status
      UNION ALL
      SELECT 'completed', queue, NULL, sum(completed)::bigint, NULL, NULL, NULL, NULL, NULL, NULL, NULL
        FROM ${schema}.queue_totals GROUP BY queue
      UNION ALL
      SELECT 'windows', queue, NULL, NULL, NULL,
             sum(completed) FILTER (WHERE bucket > $2)::bigint, sum(failed) FILTER (WHERE bucket > $2)::bigint,
             sum(completed)::bigint, sum(failed)::bigint,
             sum(wait_ms) FILTER (WHERE bucket > $2)::bigint, sum(wait_ms)::bigint
        FROM ${schema}.queue_stats WHERE bucket > $3 GROUP BY queue
      UNION ALL
      SELECT 'paused', queue, NULL, NULL, paused_at, NULL, NULL, NULL, NULL, NULL, NULL
        FROM ${schema}.queues WHERE paused_at IS NOT NULL`,

    /** Every statistics window since $1 (epoch ms). Result: queue, bucket, completed, failed, wait_ms, summed over shards. */
    queueStatsSince: `
      SELECT queue, bucket, sum(completed)::bigint AS completed, sum(failed)::bigint AS failed, sum(wait_ms)::bigint AS wait_ms
      FROM ${schema}.queue_stats WHERE bucket >= $1 GROUP BY queue, bucket`,

    /** Make a scheduled job due now. Params: now, id, channel. Result: the job. */
    runNow: `
      WITH c AS (SELECT ${NOW} AS now)
      UPDATE ${jobs} j SET run_at = c.now, updated_at = c.now
      FROM c WHERE j.id = $2 AND j.status = 'scheduled'
      RETURNING j.*, pg_notify($3, j.queue) AS notified`,

    /** Register or refresh a worker, and forget workers not seen for staleMs. Params: now, id, host, pid, queues (JSON), startedAt, staleMs. */
    workerBeat: `
      WITH ${CLOCK_NO_FLUSH},
      stale AS (DELETE FROM ${schema}.workers WHERE last_seen_at < (SELECT now FROM c) - $7::bigint AND id <> $2)
      INSERT INTO ${schema}.workers AS w (id, host, pid, queues, started_at, last_seen_at)
      SELECT $2, $3, $4, $5::jsonb, $6, c.now FROM c
      ON CONFLICT (id) DO UPDATE SET host = excluded.host, pid = excluded.pid, queues = excluded.queues, last_seen_at = excluded.last_seen_at`,

    /** Params: id. */
    workerDelete: `DELETE FROM ${schema}.workers WHERE id = $1`,

    /** Workers seen in the last withinMs, and up to a limit of running jobs, longest running first. Params: now, withinMs, limit. */
    workerList: `
      WITH c AS (SELECT ${NOW} AS now)
      SELECT (SELECT coalesce(json_agg(w ORDER BY w.started_at, w.id), '[]'::json)
                FROM ${schema}.workers w, c WHERE w.last_seen_at >= c.now - $2::bigint) AS workers,
             (SELECT coalesce(json_agg(r), '[]'::json) FROM (
                SELECT id, type, queue, attempt, started_at, worker_id FROM ${jobs}
                WHERE status = 'running' ORDER BY started_at LIMIT $3) r) AS running`,

    /** Params: scope, key. Result: the key's record, expired or not. */
    idempotencyGet: `SELECT fingerprint, job_id, deduplicated, expires_at FROM ${schema}.idempotency_keys WHERE scope = $1 AND key = $2`,

    /** Remember a key, replacing an expired or orphaned record. Params: now, scope, key, fingerprint, jobId, deduplicated, ttlMs. */
    idempotencyPut: `
      WITH c AS (SELECT ${NOW} AS now)
      INSERT INTO ${schema}.idempotency_keys AS k (scope, key, fingerprint, job_id, deduplicated, created_at, expires_at)
      SELECT $2, $3, $4, $5, $6, c.now, c.now + $7::bigint FROM c
      ON CONFLICT (scope, key) DO UPDATE SET fingerprint = excluded.fingerprint, job_id = excluded.job_id,
        deduplicated = excluded.deduplicated, created_at = excluded.created_at, expires_at = excluded.expires_at`,

    /** Params: now. Counts by queue and state; due scheduled jobs apart, since they count as queued. */
    queueCounts: `
      WITH c AS (SELECT ${NOW} AS now)
      SELECT queue, status, (status = 'scheduled' AND run_at <= c.now) AS due, count(*)::int AS n
      FROM ${jobs}, c GROUP BY queue, status, due`,
  };
}

export type PostgresStatements = ReturnType<typeof buildStatements>;
