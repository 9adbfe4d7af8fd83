import { JOB_STATES, UNFINISHED_STATES, sqlStateList } from "../../job/states.js";
import { migrationChecksum, type Migration } from "../../backend/migrations.js";
import { MIGRATION_SQL } from "./statements.js";

/**
 * SQLite schema, forward-only. A migration, once released, never changes: the
 * checksum recorded with it makes Offload refuse a database whose history
 * differs from the code's.
 */
export const SQLITE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "jobs",
    sql: `
CREATE TABLE offload_jobs (
  seq              INTEGER PRIMARY KEY,            -- rowid: enqueue order, cheap list cursor
  id               TEXT    NOT NULL UNIQUE,        -- UUIDv7
  type             TEXT    NOT NULL,
  queue            TEXT    NOT NULL,
  status           TEXT    NOT NULL CHECK (status IN (${sqlStateList(JOB_STATES)})),
  priority         INTEGER NOT NULL,
  payload          TEXT    NOT NULL,               -- JSON
  result           TEXT,                           -- JSON
  progress         TEXT,                           -- JSON JobProgress, NULL until reported
  attempt          INTEGER NOT NULL DEFAULT 0,     -- attempts started, counted at claim
  max_attempts     INTEGER NOT NULL CHECK (max_attempts >= 1),
  timeout_ms       INTEGER,
  error            TEXT,                           -- JSON JobError of the latest failed attempt
  errors           TEXT    NOT NULL DEFAULT '[]',  -- JSON array, one JobError per failed attempt
  owner            TEXT,
  unique_key       TEXT,
  cancel_requested INTEGER NOT NULL DEFAULT 0,
  worker_id        TEXT,
  lease_token      TEXT,
  lease_expires_at INTEGER,
  created_at       INTEGER NOT NULL,               -- epoch ms
  run_at           INTEGER NOT NULL,
  started_at       INTEGER,
  finished_at      INTEGER,
  updated_at       INTEGER NOT NULL
);

-- The claim index: only queued rows are in it, in claim order, so claim speed
-- does not depend on how many jobs are scheduled, running or finished.
CREATE INDEX offload_jobs_ready ON offload_jobs (queue, priority DESC, run_at, seq) WHERE status = 'queued';
-- Promotion of due scheduled jobs (delays and retry backoff).
CREATE INDEX offload_jobs_scheduled ON offload_jobs (run_at) WHERE status = 'scheduled';
-- The rescuer's scan for expired leases.
CREATE INDEX offload_jobs_running ON offload_jobs (lease_expires_at) WHERE status = 'running';
-- uniqueKey: at most one unfinished job per type and key.
CREATE UNIQUE INDEX offload_jobs_unique ON offload_jobs (type, unique_key)
  WHERE unique_key IS NOT NULL AND status IN (${sqlStateList(UNFINISHED_STATES)});
-- Listing and pruning failed and cancelled jobs, which are rare among millions
-- of completed ones. Completed jobs get no index of their own: it would cost
-- every job an index insert on its hot path (~15% of processing throughput
-- measured), while listing them walks the rowid newest first and pruning walks
-- it oldest first, both finding completed rows at once.
CREATE INDEX offload_jobs_failed ON offload_jobs (status, seq) WHERE status IN ('failed', 'cancelled');
-- Owner-scoped listing.
CREATE INDEX offload_jobs_owner ON offload_jobs (owner, seq) WHERE owner IS NOT NULL;
`,
  },
  {
    version: 2,
    name: "queues, queue statistics, idempotency keys",
    sql: `
-- Queue controls, read by every claim: a queue with paused_at set is skipped.
-- A row exists only for queues that were ever paused.
CREATE TABLE offload_queues (
  queue      TEXT    PRIMARY KEY,
  paused_at  INTEGER,                              -- epoch ms; NULL when not paused
  updated_at INTEGER NOT NULL
) WITHOUT ROWID;

-- Jobs that ended completed or failed, per queue and 10-second window,
-- written in the transaction that ends them: "the last minute" and "the last
-- hour" read at most 360 rows a queue instead of every finished job.
-- Windows older than an hour are deleted as new ones open.
CREATE TABLE offload_queue_stats (
  queue     TEXT    NOT NULL,
  bucket    INTEGER NOT NULL,                      -- window start, epoch ms, a multiple of 10,000
  completed INTEGER NOT NULL DEFAULT 0,
  failed    INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (queue, bucket)
) WITHOUT ROWID;

-- Completed jobs stored per queue. Completed jobs, the bulk of the table,
-- have no index (see migration 1), so counting them would read every row;
-- this count moves with each completion, deletion and prune instead.
CREATE TABLE offload_queue_totals (
  queue     TEXT    PRIMARY KEY,
  completed INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
INSERT INTO offload_queue_totals (queue, completed)
  SELECT queue, count(*) FROM offload_jobs WHERE status = 'completed' GROUP BY queue;

-- Idempotency keys of inserts (the HTTP API's Idempotency-Key header), per scope.
CREATE TABLE offload_idempotency_keys (
  scope        TEXT    NOT NULL,
  key          TEXT    NOT NULL,
  fingerprint  TEXT    NOT NULL,                   -- hash of the request
  job_id       TEXT    NOT NULL,
  deduplicated INTEGER NOT NULL,                   -- the insert returned a job holding its uniqueKey
  created_at   INTEGER NOT NULL,
  expires_at   INTEGER NOT NULL,
  PRIMARY KEY (scope, key)
) WITHOUT ROWID;
CREATE INDEX offload_idempotency_keys_expiry ON offload_idempotency_keys (expires_at);
`,
  },
  {
    version: 3,
    name: "workers, wait times",
    sql: `
-- Worker processes, each refreshing its row every few seconds while it runs and
-- removing it when it stops: the dashboard's "workers alive". A row not
-- refreshed for long belongs to a process that died; it is deleted by the next
-- refresh of any worker.
CREATE TABLE offload_workers (
  id           TEXT    PRIMARY KEY,
  host         TEXT    NOT NULL,
  pid          INTEGER NOT NULL,
  queues       TEXT    NOT NULL,                   -- JSON [{ "queue": ..., "concurrency": ... }]
  started_at   INTEGER NOT NULL,                   -- epoch ms
  last_seen_at INTEGER NOT NULL
) WITHOUT ROWID;

-- Enqueue-to-start wait summed over the jobs each window counts (their last
-- attempt's start minus its run_at): average = wait_ms / (completed + failed).
ALTER TABLE offload_queue_stats ADD COLUMN wait_ms INTEGER NOT NULL DEFAULT 0;
`,
  },
];

/** The SQL of every migration, for review (`offload migrate --print`). */
export function sqliteMigrationScript(): string {
  const parts = ["-- Offload SQLite schema", "BEGIN IMMEDIATE;", `${MIGRATION_SQL.createTable};`];
  for (const migration of SQLITE_MIGRATIONS) {
    parts.push(`-- migration ${migration.version}: ${migration.name}`, migration.sql.trim());
    parts.push(`INSERT INTO offload_migrations (version, name, checksum, applied_at) VALUES (${migration.version}, '${migration.name}', '${migrationChecksum(migration)}', CAST(unixepoch('subsec') * 1000 AS INTEGER));`);
  }
  parts.push("COMMIT;");
  return `${parts.join("\n")}\n`;
}
