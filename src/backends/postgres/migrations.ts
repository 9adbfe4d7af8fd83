import type { Migration } from "../../backend/migrations.js";
import { JOB_STATES, UNFINISHED_STATES, sqlStateList } from "../../job/states.js";

/** Where a migration's SQL names the schema; replaced by the quoted schema name when it runs. */
export const SCHEMA_PLACEHOLDER = "{{schema}}";

/**
 * PostgreSQL schema, forward-only, written against the placeholder schema
 * {@link SCHEMA_PLACEHOLDER}: the checksum is taken over this text, so the same
 * release records the same checksums whatever schema a deployment uses.
 *
 * Timestamps are epoch milliseconds (bigint), as on SQLite: the database's
 * clock gives them (`statement_timestamp()`), comparisons stay integer ones,
 * and `to_timestamp(created_at / 1000.0)` shows them to a person.
 */
export const POSTGRES_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "jobs",
    sql: `
CREATE TABLE {{schema}}.jobs (
  id               uuid    PRIMARY KEY,            -- UUIDv7: time-ordered, so also the list order and cursor
  type             text    NOT NULL,
  queue            text    NOT NULL,
  status           text    NOT NULL CHECK (status IN (${sqlStateList(JOB_STATES)})),
  priority         integer NOT NULL,
  payload          json    NOT NULL,               -- json, not jsonb: stored as given, no parse on insert
  result           json,
  progress         json,                           -- JobProgress, NULL until reported
  attempt          integer NOT NULL DEFAULT 0,     -- attempts started, counted at claim
  max_attempts     integer NOT NULL CHECK (max_attempts >= 1),
  timeout_ms       bigint,
  error            jsonb,                          -- JobError of the latest failed attempt
  errors           jsonb   NOT NULL DEFAULT '[]',  -- one JobError per failed attempt
  owner            text,
  unique_key       text,
  cancel_requested boolean NOT NULL DEFAULT false,
  worker_id        text,
  lease_token      text,
  lease_expires_at bigint,
  created_at       bigint  NOT NULL,               -- epoch ms, database clock
  run_at           bigint  NOT NULL,
  started_at       bigint,
  finished_at      bigint,
  updated_at       bigint  NOT NULL,
  -- Fencing by lease token alone is sound: only a running attempt holds one.
  CONSTRAINT jobs_lease_only_while_running CHECK ((status = 'running') = (lease_token IS NOT NULL))
);

-- The claim index: only queued rows, in claim order.
CREATE INDEX jobs_ready ON {{schema}}.jobs (queue, priority DESC, run_at, id) WHERE status = 'queued';
-- Scheduled jobs (delays, retry backoff): claims take the due ones of a queue directly.
CREATE INDEX jobs_scheduled ON {{schema}}.jobs (queue, run_at) WHERE status = 'scheduled';
-- The rescuer's scan for expired leases.
CREATE INDEX jobs_running ON {{schema}}.jobs (lease_expires_at) WHERE status = 'running';
-- uniqueKey: at most one unfinished job per type and key.
CREATE UNIQUE INDEX jobs_unique ON {{schema}}.jobs (type, unique_key)
  WHERE unique_key IS NOT NULL AND status IN (${sqlStateList(UNFINISHED_STATES)});
-- Listing and pruning failed and cancelled jobs. Completed jobs get no B-tree
-- index of their own (an index insert per job on the hot path): listing walks
-- the primary key newest first, and pruning finds old rows through a BRIN
-- index on created_at (a few bytes per range of pages, updated at insert only).
CREATE INDEX jobs_failed ON {{schema}}.jobs (status, finished_at) WHERE status IN ('failed', 'cancelled');
CREATE INDEX jobs_created ON {{schema}}.jobs USING brin (created_at);
-- Owner-scoped listing.
CREATE INDEX jobs_owner ON {{schema}}.jobs (owner, id) WHERE owner IS NOT NULL;
`,
  },
  {
    version: 2,
    name: "queues, queue statistics, idempotency keys",
    sql: `
-- Queue controls, read by every claim: a queue with paused_at set is skipped.
-- A row exists only for queues that were ever paused.
CREATE TABLE {{schema}}.queues (
  queue      text   PRIMARY KEY,
  paused_at  bigint,                               -- epoch ms; NULL when not paused
  updated_at bigint NOT NULL
);

-- Jobs that ended completed or failed, per queue and 10-second window, written
-- by the statement that ends them. Each process writes its own shard (a random
-- number from 0 to 15), so workers on many hosts do not queue on one counter
-- row; readers sum the shards. Windows older than an hour are pruned.
CREATE TABLE {{schema}}.queue_stats (
  queue     text     NOT NULL,
  bucket    bigint   NOT NULL,                     -- window start, epoch ms, a multiple of 10,000
  shard     smallint NOT NULL,
  completed bigint   NOT NULL DEFAULT 0,
  failed    bigint   NOT NULL DEFAULT 0,
  PRIMARY KEY (queue, bucket, shard)
);

-- Completed jobs stored per queue (completed jobs have no index to count them
-- by), moved by completions, deletions and prunes; sharded likewise.
CREATE TABLE {{schema}}.queue_totals (
  queue     text     NOT NULL,
  shard     smallint NOT NULL,
  completed bigint   NOT NULL DEFAULT 0,
  PRIMARY KEY (queue, shard)
);
INSERT INTO {{schema}}.queue_totals (queue, shard, completed)
  SELECT queue, 0, count(*) FROM {{schema}}.jobs WHERE status = 'completed' GROUP BY queue;

-- Idempotency keys of inserts (the HTTP API's Idempotency-Key header), per scope.
CREATE TABLE {{schema}}.idempotency_keys (
  scope        text    NOT NULL,
  key          text    NOT NULL,
  fingerprint  text    NOT NULL,                   -- hash of the request
  job_id       uuid    NOT NULL,
  deduplicated boolean NOT NULL,                   -- the insert returned a job holding its uniqueKey
  created_at   bigint  NOT NULL,
  expires_at   bigint  NOT NULL,
  PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_expiry ON {{schema}}.idempotency_keys (expires_at);
`,
  },
  {
    version: 3,
    name: "autovacuum for a queue table",
    sql: `
-- Every claim and every ack leaves a dead row version, and the claim index
-- keeps an entry for each until VACUUM: claims then step over them (measured
-- here: 0.8 ms a claim of 50 right after a vacuum, 1.8 ms fifty thousand jobs
-- later). PostgreSQL's default waits for 20 % of the table to be dead, which
-- on a table keeping a week of completed jobs is millions of rows; vacuum this
-- one early and often instead. (These settings act only where autovacuum is on,
-- as it is by default.)
ALTER TABLE {{schema}}.jobs SET (
  autovacuum_vacuum_scale_factor = 0.01,
  autovacuum_vacuum_threshold = 1000,
  autovacuum_vacuum_insert_scale_factor = 0.05,
  autovacuum_analyze_scale_factor = 0.02,
  autovacuum_vacuum_cost_delay = 1
);
`,
  },
  {
    version: 4,
    name: "workers, wait times",
    sql: `
-- Worker processes, each refreshing its row every few seconds while it runs and
-- removing it when it stops: the dashboard's "workers alive". A row not
-- refreshed for long belongs to a process that died; it is deleted by the next
-- refresh of any worker.
CREATE TABLE {{schema}}.workers (
  id           text   PRIMARY KEY,
  host         text   NOT NULL,
  pid          int    NOT NULL,
  queues       jsonb  NOT NULL,                    -- [{ "queue": ..., "concurrency": ... }]
  started_at   bigint NOT NULL,                    -- epoch ms
  last_seen_at bigint NOT NULL
);

-- Enqueue-to-start wait summed over the jobs each window counts (their last
-- attempt's start minus its run_at): average = wait_ms / (completed + failed).
ALTER TABLE {{schema}}.queue_stats ADD COLUMN wait_ms bigint NOT NULL DEFAULT 0;
`,
  },
  {
    version: 5,
    name: "waiting workers",
    sql: `
-- Workers idle on a queue, with free slots: an enqueue in any process hands
-- its job to one of them directly (stored already claimed for it, the job
-- sent in a notification on the worker's own channel), so the job starts
-- without a claim round trip. Written by the idle worker (refreshed while it
-- waits, removed when it stops or fills up), taken a slot at a time by
-- enqueues. A row not refreshed by expires_at is ignored, and so is one whose
-- process's LISTEN session (listener_pid) is gone: a job sent there would
-- not be heard. UNLOGGED: no WAL
-- for these writes; a crash of the server empties the table, which costs
-- only hand-offs until the workers write their rows again.
CREATE UNLOGGED TABLE {{schema}}.waiters (
  queue      text   NOT NULL,
  worker_id  text   NOT NULL,
  channel    text   NOT NULL,                     -- the worker process's hand-off channel
  free       int    NOT NULL,                     -- slots it waits to fill
  lease_ms   bigint NOT NULL,                     -- the lease its claims take
  listener_pid int  NOT NULL,                     -- server process of the session that LISTENs on channel
  expires_at bigint NOT NULL,                     -- epoch ms, database clock
  PRIMARY KEY (queue, worker_id)
);
`,
  },
];

/** The SQL of a migration for one schema. */
export function renderMigration(migration: Migration, quotedSchema: string): string {
  return migration.sql.replaceAll(SCHEMA_PLACEHOLDER, quotedSchema);
}
