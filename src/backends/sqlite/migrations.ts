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
