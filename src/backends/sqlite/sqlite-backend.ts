import { mkdirSync, realpathSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { randomUUID } from "node:crypto";
import Database from "better-sqlite3";
import type { Backend, BackendCapabilities, ClaimParams, QueueClaim } from "../../backend/backend.js";
import { planMigrations, migrationChecksum, type AppliedMigration } from "../../backend/migrations.js";
import { insertedRecord } from "../../backend/inserted-record.js";
import { foldThroughput, minuteBuckets, zeroCounts } from "../../backend/queue-stats.js";
import { workerStatuses, type RunningRow, type WorkerRow } from "../../backend/workers.js";
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
} from "../../backend/types.js";
import { OffloadError } from "../../errors.js";
import { EMPTY_PROGRESS, type JobProgress } from "../../job/progress.js";
import type { JobState } from "../../job/states.js";
import { SQLITE_MIGRATIONS } from "./migrations.js";
import { SqliteNotifier } from "./sqlite-notifier.js";
import { EndedJobs, QueueCounters, readQueueStats } from "./sqlite-queues.js";
import { MIGRATION_SQL, SQL } from "./statements.js";

/** Options of the SQLite engine, also settable as URL parameters (`sqlite:./x.db?synchronous=full`). */
export interface SqliteBackendOptions {
  /** Milliseconds a writer waits for the lock held by another process. Default 5,000. */
  busyTimeoutMs?: number;
  /** Path of the database file, or `:memory:`. */
  filename: string;
  /** How often (ms) to look for commits by other processes to wake idle workers. Default 50. */
  notifyPollMs?: number;
  /**
   * `normal` (default): WAL with synchronous=NORMAL survives a process crash
   * but may lose the last commits on power loss. `full` survives both, at a
   * cost of about 5x on single-job writes.
   */
  synchronous?: "full" | "normal";
}

interface Row {
  attempt: number;
  cancel_requested: number;
  created_at: number;
  error: string | null;
  errors: string;
  finished_at: number | null;
  id: string;
  lease_expires_at: number | null;
  lease_token: string | null;
  max_attempts: number;
  owner: string | null;
  payload: string;
  priority: number;
  progress: string | null;
  queue: string;
  result: string | null;
  run_at: number;
  seq: number;
  started_at: number | null;
  status: JobState;
  timeout_ms: number | null;
  type: string;
  unique_key: string | null;
  updated_at: number;
  worker_id: string | null;
}

function toRecord(row: Row, now?: number): JobRecord {
  return {
    attempt: row.attempt,
    cancelRequested: row.cancel_requested === 1,
    createdAt: row.created_at,
    error: row.error === null ? null : JSON.parse(row.error),
    errors: JSON.parse(row.errors),
    finishedAt: row.finished_at,
    id: row.id,
    leaseExpiresAt: row.lease_expires_at,
    maxAttempts: row.max_attempts,
    owner: row.owner,
    payload: JSON.parse(row.payload),
    priority: row.priority,
    progress: row.progress === null ? { ...EMPTY_PROGRESS } : JSON.parse(row.progress),
    queue: row.queue,
    result: row.result === null ? null : JSON.parse(row.result),
    runAt: row.run_at,
    startedAt: row.started_at,
    // A due job not yet promoted by a claim is, to anyone looking, queued.
    status: now !== undefined && row.status === "scheduled" && row.run_at <= now ? "queued" : row.status,
    timeoutMs: row.timeout_ms,
    type: row.type,
    uniqueKey: row.unique_key,
    updatedAt: row.updated_at,
    workerId: row.worker_id,
  };
}

/**
 * How far created_at may run behind seq: a job's time is read before its
 * transaction waits for the writer lock (up to the busy timeout).
 */
const CREATED_AT_SKEW_MS = 60_000;

/** The columns a claim returns (statements.ts, CLAIMED_COLUMNS). */
type ClaimedRow = Pick<
  Row,
  "attempt" | "created_at" | "id" | "max_attempts" | "owner" | "payload" | "priority" | "progress" | "queue" | "run_at" | "seq" | "timeout_ms" | "type" | "unique_key"
>;

/** Claim order, for rows that RETURNING hands back unordered. */
function claimOrder(a: ClaimedRow, b: ClaimedRow): number {
  return b.priority - a.priority || a.run_at - b.run_at || a.seq - b.seq;
}

function encodeCursor(seq: number): string {
  return Buffer.from(`s:${seq}`).toString("base64url");
}

function decodeCursor(cursor: string): number {
  const text = Buffer.from(cursor, "base64url").toString();
  const seq = text.startsWith("s:") ? Number(text.slice(2)) : NaN;
  if (!Number.isSafeInteger(seq) || seq < 0) {
    throw new OffloadError("OFFLOAD_ERR_INVALID_INPUT", "Invalid cursor: pass back the nextCursor of a previous page unchanged");
  }
  return seq;
}

function json(value: unknown): string | null {
  return value === null || value === undefined ? null : JSON.stringify(value);
}

/** True when both paths name the same file (through links and relative paths). */
function sameFile(a: string, b: string): boolean {
  if (a === ":memory:" || b === ":memory:") return false;
  try {
    return realpathSync(a) === realpathSync(b);
  } catch {
    return resolve(a) === resolve(b);
  }
}

/** Parses `sqlite:<path>[?synchronous=full&busyTimeoutMs=5000]` (also `sqlite://<path>`). */
export function parseSqliteUrl(url: string): SqliteBackendOptions {
  let rest = url.slice("sqlite:".length);
  if (rest.startsWith("//")) rest = rest.slice(2);
  const [path = "", query = ""] = rest.split("?", 2);
  if (!path) throw new OffloadError("OFFLOAD_ERR_INVALID_INPUT", `Invalid database URL ${JSON.stringify(url)}: expected sqlite:<file path>`);
  const options: SqliteBackendOptions = { filename: path };
  for (const [key, value] of new URLSearchParams(query)) {
    if (key === "synchronous" && (value === "full" || value === "normal")) options.synchronous = value;
    else if ((key === "busyTimeoutMs" || key === "notifyPollMs") && /^\d+$/.test(value)) options[key] = Number(value);
    else throw new OffloadError("OFFLOAD_ERR_INVALID_INPUT", `Invalid database URL parameter ${key}=${value}: expected synchronous=normal|full, busyTimeoutMs=<ms> or notifyPollMs=<ms>`);
  }
  return options;
}

let pageCacheKeptMapped = false;

/**
 * Once per process: one allocation of 1 MB through SQLite, freed at once.
 * Whenever another connection commits, SQLite drops this connection's page
 * cache and reads the pages again into freshly allocated buffers; glibc gave
 * the freed buffers back to the kernel (it trims the heap once 128 KB lie
 * free at its top), so each refill faulted the pages in again. Measured in
 * a worker process taking jobs that another process enqueues 20 ms apart: 95
 * page faults a job, and the claim 0.7-1.5 ms instead of 0.3-0.5 (p50 from
 * enqueue to start 2.2-2.3 ms). Freeing a block that glibc mapped on its own
 * (above 128 KB) raises its trim threshold to twice that block's size for
 * the whole process, as it does by itself the first time a program frees
 * such a block: 2 MB then stay at the top of the heap. After it: 6 faults a
 * job, p50 1.5 ms. Elsewhere (musl, macOS) the allocation does nothing more.
 * CAST materialises the zero blob (`zeroblob` alone allocates nothing); it
 * takes about 3 ms, once.
 */
function keepPageCacheMapped(db: Database.Database): void {
  if (pageCacheKeptMapped) return;
  pageCacheKeptMapped = true;
  db.prepare("SELECT length(CAST(zeroblob(1048576) AS BLOB)) AS n").get();
}

/**
 * The embedded engine: one SQLite file in WAL mode, shared safely by any
 * number of worker processes on one machine.
 */
export class SqliteBackend implements Backend {
  readonly capabilities: BackendCapabilities = { concurrentWrites: false, engine: "sqlite", listenNotify: false, multiHost: false, skipLocked: false, transactionalEnqueue: "sync" };
  readonly notifier: SqliteNotifier;
  readonly db: Database.Database;
  private readonly stmt: { [K in keyof typeof SQL]: Database.Statement };
  private closed = false;
  private readonly listStatements = new Map<string, Database.Statement>();
  private readonly txBegin: Database.Statement;
  private readonly txCommit: Database.Statement;
  private readonly txRollback: Database.Statement;
  private readonly counters = new QueueCounters(() => this.stmt);
  private readonly filename: string;
  /** Insert statements prepared on applications' own connections (transactional enqueue). */
  private readonly foreign = new WeakMap<Database.Database, Pick<typeof this.stmt, "findUnfinishedByKey" | "insert">>();

  constructor(options: SqliteBackendOptions) {
    if (options.filename !== ":memory:") mkdirSync(dirname(options.filename), { recursive: true });
    this.filename = options.filename;
    this.db = new Database(options.filename);
    try {
      this.db.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 5_000}`);
      this.db.pragma("journal_mode = WAL");
      this.db.pragma(`synchronous = ${options.synchronous === "full" ? "FULL" : "NORMAL"}`);
      keepPageCacheMapped(this.db);
    } catch (error) {
      // Not a database, or locked for good: close the handle rather than leak one per retry.
      this.db.close();
      throw error;
    }
    this.notifier = new SqliteNotifier(this.db, options.notifyPollMs ?? 50, options.filename === ":memory:" ? null : `${options.filename}-wal`);
    this.stmt = {} as typeof this.stmt;
    this.txBegin = this.db.prepare("BEGIN IMMEDIATE");
    this.txCommit = this.db.prepare("COMMIT");
    this.txRollback = this.db.prepare("ROLLBACK");
  }

  /** Statements are prepared once, after migrations created the tables they name. */
  private prepare(): void {
    for (const [name, sql] of Object.entries(SQL)) {
      (this.stmt as Record<string, Database.Statement>)[name] = this.db.prepare(sql);
    }
  }

  /**
   * Runs `fn` in a `BEGIN IMMEDIATE` transaction: the writer lock is taken
   * first, never upgraded. The three statements are prepared once; building a
   * `db.transaction()` wrapper per call cost about 5% of an enqueue.
   */
  private write<T>(fn: () => T): T {
    if (this.closed) throw new OffloadError("OFFLOAD_ERR_CLOSED", "The SQLite engine is closed");
    try {
      this.txBegin.run();
      const result = fn();
      this.txCommit.run();
      return result;
    } catch (error) {
      if (this.db.inTransaction) this.txRollback.run();
      if (error instanceof OffloadError) throw error;
      // SQLITE_BUSY (another process held the lock past the busy timeout), a full disk, a read-only file...
      const code = (error as { code?: unknown }).code;
      throw new OffloadError("OFFLOAD_ERR_DATABASE", `SQLite write failed${typeof code === "string" ? ` (${code})` : ""}: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }

  async migrate(): Promise<MigrationStatus> {
    const applied = this.write(() => {
      this.db.exec(MIGRATION_SQL.createTable);
      const rows = this.db.prepare(MIGRATION_SQL.applied).all() as AppliedMigration[];
      const pending = planMigrations(SQLITE_MIGRATIONS, rows);
      const record = this.db.prepare(MIGRATION_SQL.record);
      for (const migration of pending) {
        this.db.exec(migration.sql);
        record.run(migration.version, migration.name, migrationChecksum(migration), Date.now());
      }
      return pending.map((m) => m.version);
    });
    this.prepare();
    const version = (this.db.prepare(MIGRATION_SQL.version).get() as { v: number }).v;
    return { applied, version };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.notifier.close();
    this.db.close();
  }

  async jobInsertMany(params: { jobs: readonly JobInsert[]; now?: number; tx?: unknown }): Promise<JobInsertResult[]> {
    if (params.tx !== undefined) return this.jobInsertManySync({ ...params, tx: params.tx });
    const now = params.now ?? Date.now();
    return this.write(() => this.insertWith(this.stmt, params.jobs, now));
  }

  /**
   * Stores jobs on the application's own connection to this database file,
   * inside the transaction it has open (`db.transaction(() => ...)()` or
   * `BEGIN`): they exist if and only if it commits. Statements are prepared
   * once per connection. Errors are the driver's own, so the application's
   * transaction handling sees them as it sees any other.
   */
  jobInsertManySync(params: { jobs: readonly JobInsert[]; now?: number; tx: unknown }): JobInsertResult[] {
    if (this.closed) throw new OffloadError("OFFLOAD_ERR_CLOSED", "The SQLite engine is closed");
    const db = params.tx as Database.Database;
    if (typeof db !== "object" || db === null || typeof db.prepare !== "function" || typeof db.inTransaction !== "boolean" || typeof db.name !== "string") {
      throw new OffloadError("OFFLOAD_ERR_INVALID_INPUT", "Invalid tx: expected a better-sqlite3 Database with a transaction open");
    }
    if (!db.inTransaction) {
      throw new OffloadError(
        "OFFLOAD_ERR_INVALID_INPUT",
        "Invalid tx: the database has no transaction open; call enqueueSync inside db.transaction(() => ...) (or after BEGIN)",
      );
    }
    if (!sameFile(db.name, this.filename)) {
      throw new OffloadError("OFFLOAD_ERR_INVALID_INPUT", `Invalid tx: it is a connection to ${db.name}, but Offload stores jobs in ${this.filename}`);
    }
    if (db === this.db) throw new OffloadError("OFFLOAD_ERR_INVALID_INPUT", "Invalid tx: pass the application's own connection, not Offload's");
    let statements = this.foreign.get(db);
    if (!statements) {
      statements = { findUnfinishedByKey: db.prepare(SQL.findUnfinishedByKey), insert: db.prepare(SQL.insert) };
      this.foreign.set(db, statements);
    }
    return this.insertWith(statements, params.jobs, params.now ?? Date.now());
  }

  private insertWith(stmt: Pick<typeof this.stmt, "findUnfinishedByKey" | "insert">, jobs: readonly JobInsert[], now: number): JobInsertResult[] {
    return jobs.map((job): JobInsertResult => {
      if (job.uniqueKey !== null) {
        const existing = stmt.findUnfinishedByKey.get(job.type, job.uniqueKey) as Row | undefined;
        if (existing) return { deduplicated: true, job: toRecord(existing, now) };
      }
      const runAt = job.runAt ?? (job.delayMs ? now + job.delayMs : now);
      const status: JobState = runAt > now ? "scheduled" : "queued";
      stmt.insert.run({
        id: job.id,
        maxAttempts: job.maxAttempts,
        now,
        owner: job.owner,
        payload: job.payloadJson,
        priority: job.priority,
        queue: job.queue,
        runAt,
        status,
        timeoutMs: job.timeoutMs,
        type: job.type,
        uniqueKey: job.uniqueKey,
      });
      return { deduplicated: false, job: insertedRecord(job, { createdAt: now, runAt, status }) };
    });
  }

  async jobGet(params: { id: string; now?: number }): Promise<JobRecord | null> {
    const row = this.stmt.getById.get(params.id) as Row | undefined;
    return row ? toRecord(row, params.now ?? Date.now()) : null;
  }

  async jobList(params: { cursor?: string | null; filter: JobListFilter; limit: number; now?: number }): Promise<JobListResult> {
    const now = params.now ?? Date.now();
    const where: string[] = [];
    const args: unknown[] = [];
    const { filter } = params;
    if (filter.status === "queued") {
      where.push("(status = 'queued' OR (status = 'scheduled' AND run_at <= ?))");
      args.push(now);
    } else if (filter.status === "scheduled") {
      where.push("status = 'scheduled' AND run_at > ?");
      args.push(now);
    } else if (filter.status !== undefined) {
      where.push("status = ?");
      args.push(filter.status);
    }
    for (const column of ["owner", "queue", "type"] as const) {
      if (filter[column] !== undefined) {
        where.push(`${column} = ?`);
        args.push(filter[column]);
      }
    }
    if (params.cursor) {
      where.push("seq < ?");
      args.push(decodeCursor(params.cursor));
    }
    const sql = `SELECT * FROM offload_jobs ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY seq DESC LIMIT ?`;
    let statement = this.listStatements.get(sql);
    if (!statement) {
      // At most one statement per combination of filters (a few dozen), prepared once each.
      statement = this.db.prepare(sql);
      this.listStatements.set(sql, statement);
    }
    const rows = statement.all(...args, params.limit + 1) as Row[];
    const page = rows.slice(0, params.limit);
    const last = page[page.length - 1];
    return {
      items: page.map((row) => toRecord(row, now)),
      nextCursor: rows.length > params.limit && last ? encodeCursor(last.seq) : null,
    };
  }

  async jobClaim(params: ClaimParams): Promise<ClaimedJob[]> {
    const now = params.now ?? Date.now();
    // Look before locking: most polls of an idle queue end here without a write.
    const plan = this.planClaim(params.queues, now);
    if (plan.ready.length === 0) return [];
    return this.write(() => this.claimInTransaction(params, plan, now));
  }

  async jobAckAndClaim(params: { acks: JobAck[]; claim: ClaimParams; deleteCompleted?: boolean; now?: number }): Promise<{ acks: JobAckResult[]; claimed: ClaimedJob[] }> {
    const now = params.now ?? params.claim.now ?? Date.now();
    if (params.acks.length === 0) return { acks: [], claimed: await this.jobClaim({ ...params.claim, now }) };
    return this.write(() => {
      const acks = this.ackInTransaction(params.acks, now, params.deleteCompleted === true);
      // Planned after the acks: a retry with no delay, or a release, makes its job claimable at once.
      const plan = this.planClaim(params.claim.queues, now);
      return { acks, claimed: plan.ready.length === 0 ? [] : this.claimInTransaction(params.claim, plan, now) };
    });
  }

  /** Which queues have something to claim, and whether due scheduled jobs need promoting: reads only. */
  private planClaim(queues: readonly QueueClaim[], now: number): { due: boolean; ready: QueueClaim[] } {
    const wanted = queues.filter((q) => q.limit > 0);
    if (wanted.length === 0) return { due: false, ready: [] };
    const due = this.stmt.hasDueScheduled.get(now) !== undefined;
    return { due, ready: due ? wanted : wanted.filter((q) => this.stmt.hasQueued.get({ queue: q.queue }) !== undefined) };
  }

  private claimInTransaction(params: ClaimParams, plan: { due: boolean; ready: QueueClaim[] }, now: number): ClaimedJob[] {
    const token = randomUUID();
    const expiresAt = now + params.leaseMs;
    const { workerId } = params;
    if (plan.due) this.stmt.promoteDue.run({ now });
    const rows: ClaimedRow[] = [];
    for (const { limit, queue } of plan.ready) {
      const batch = this.stmt.claim.all({ expiresAt, limit, now, queue, token, workerId }) as ClaimedRow[];
      for (const row of batch) rows.push(row);
    }
    rows.sort(claimOrder);
    return rows.map((row) => ({
      id: row.id,
      job: {
        attempt: row.attempt,
        cancelRequested: false,
        createdAt: row.created_at,
        finishedAt: null,
        id: row.id,
        leaseExpiresAt: expiresAt,
        maxAttempts: row.max_attempts,
        owner: row.owner,
        payload: JSON.parse(row.payload),
        priority: row.priority,
        progress: row.progress === null ? { ...EMPTY_PROGRESS } : JSON.parse(row.progress),
        queue: row.queue,
        runAt: row.run_at,
        startedAt: now,
        status: "running",
        timeoutMs: row.timeout_ms,
        type: row.type,
        uniqueKey: row.unique_key,
        updatedAt: now,
        workerId,
      },
      leaseToken: token,
    }));
  }

  async jobHeartbeatMany(params: { leaseMs: number; leases: readonly Lease[]; now?: number; workerId: string }): Promise<JobHeartbeatResult[]> {
    if (params.leases.length === 0) return [];
    const expiresAt = (params.now ?? Date.now()) + params.leaseMs;
    return this.write(() =>
      params.leases.map(({ id, leaseToken }) => {
        const row = this.stmt.heartbeat.get({ expiresAt, id, token: leaseToken }) as { cancel_requested: number } | undefined;
        return { cancelRequested: row?.cancel_requested === 1, id, renewed: row !== undefined };
      }),
    );
  }

  async jobProgressMany(params: { now?: number; updates: readonly (Lease & { progress: JobProgress })[] }): Promise<string[]> {
    if (params.updates.length === 0) return [];
    const now = params.now ?? Date.now();
    return this.write(() =>
      params.updates
        .filter(({ id, leaseToken, progress }) => this.stmt.progress.run({ id, now, progress: JSON.stringify(progress), token: leaseToken }).changes === 1)
        .map((u) => u.id),
    );
  }

  async jobAckMany(params: { acks: JobAck[]; deleteCompleted?: boolean; now?: number }): Promise<JobAckResult[]> {
    if (params.acks.length === 0) return [];
    const now = params.now ?? Date.now();
    return this.write(() => this.ackInTransaction(params.acks, now, params.deleteCompleted === true));
  }

  /** `deleting`: completed jobs are deleted (Backend.jobAckMany). */
  private ackInTransaction(acks: readonly JobAck[], now: number, deleting: boolean): JobAckResult[] {
    // Acks apply in order. Each run of consecutive completions goes in one
    // statement; within a run, a job completes once (its first ack), as it
    // would with one statement per ack.
    const completedInRun = new Set<string>();
    const ended = new EndedJobs();
    let runEnd = -1;
    const results = acks.map((ack, index): JobAckResult => {
      const base = { id: ack.id, now, progress: json(ack.progress), token: ack.leaseToken };
      let row: { status: JobState } | undefined;
      switch (ack.outcome) {
        case "completed":
          if (index > runEnd) {
            completedInRun.clear();
            runEnd = index;
            while (acks[runEnd + 1]?.outcome === "completed") runEnd++;
            const seen = new Set<string>();
            // A job deleted at completion keeps neither its result nor its progress: only id and token go.
            const run: { id: string; progress?: string | null; result?: string; token: string }[] = [];
            for (const a of acks.slice(index, runEnd + 1) as (JobAck & { outcome: "completed" })[]) {
              // UPDATE ... FROM takes an arbitrary one of several source rows for a job: send only the first per lease.
              const key = `${a.id} ${a.leaseToken}`;
              if (seen.has(key)) continue;
              seen.add(key);
              run.push(deleting ? { id: a.id, token: a.leaseToken } : { id: a.id, progress: json(a.progress), result: a.resultJson, token: a.leaseToken });
            }
            const done = (
              deleting
                ? this.stmt.ackDeleteCompletedMany.all({ acks: JSON.stringify(run) })
                : this.stmt.ackCompletedMany.all({ acks: JSON.stringify(run), now })
            ) as { id: string; lease_token: string; queue: string; wait: number }[];
            for (const r of done) {
              completedInRun.add(`${r.id} ${r.lease_token}`);
              ended.add(r.queue, "completed", r.wait, deleting);
            }
          }
          row = completedInRun.delete(`${ack.id} ${ack.leaseToken}`) ? { status: "completed" } : undefined;
          break;
        case "failed": {
          const failed = this.stmt.ackFailed.get({ ...base, error: JSON.stringify(ack.error) }) as { queue: string; status: JobState; wait: number } | undefined;
          if (failed?.status === "failed") ended.add(failed.queue, "failed", failed.wait);
          row = failed;
          break;
        }
        case "retry":
          row = this.stmt.ackRetry.get({ ...base, error: JSON.stringify(ack.error), runAt: now + ack.delayMs }) as typeof row;
          break;
        case "cancelled":
          row = this.stmt.ackCancelled.get({ ...base, error: json(ack.error) }) as typeof row;
          break;
        case "released":
          row = this.stmt.ackReleased.get(base) as typeof row;
          break;
      }
      return { applied: row !== undefined, id: ack.id, status: row?.status ?? null };
    });
    this.counters.record(ended, now);
    return results;
  }

  async jobCancel(params: { id: string; now?: number }): Promise<JobCancelResult | null> {
    const now = params.now ?? Date.now();
    return this.write(() => {
      const cancelled = this.stmt.cancelWaiting.get({ id: params.id, now }) as Row | undefined;
      if (cancelled) return { job: toRecord(cancelled, now), outcome: "cancelled" as const };
      const requested = this.stmt.requestCancel.get({ id: params.id, now }) as Row | undefined;
      if (requested) return { job: toRecord(requested, now), outcome: "requested" as const };
      const row = this.stmt.getById.get(params.id) as Row | undefined;
      return row ? { job: toRecord(row, now), outcome: "finished" as const } : null;
    });
  }

  async jobRetry(params: { id: string; now?: number }): Promise<JobRecord | null> {
    const now = params.now ?? Date.now();
    return this.write(() => {
      // A newer unfinished job may hold this job's uniqueKey; queueing this one
      // again would break offload_jobs_unique with a raw SQLITE_CONSTRAINT error.
      const job = this.stmt.getById.get(params.id) as Row | undefined;
      if (job && job.unique_key !== null && (job.status === "failed" || job.status === "cancelled")) {
        const holder = this.stmt.findUnfinishedByKey.get(job.type, job.unique_key) as Row | undefined;
        if (holder) {
          throw new OffloadError(
            "OFFLOAD_ERR_INVALID_STATE",
            `Job ${params.id} cannot be retried: job ${holder.id} (${holder.status}) holds its uniqueKey ${JSON.stringify(job.unique_key)}; retry it once that job has finished`,
            { details: { status: job.status, uniqueKeyHeldBy: holder.id } },
          );
        }
      }
      const row = this.stmt.retry.get({ id: params.id, now }) as Row | undefined;
      if (row) return toRecord(row, now);
      const existing = this.stmt.getById.get(params.id) as Row | undefined;
      if (!existing) return null;
      throw new OffloadError(
        "OFFLOAD_ERR_INVALID_STATE",
        `Job ${params.id} is ${existing.status}: only failed or cancelled jobs can be retried`,
        { details: { status: existing.status } },
      );
    });
  }

  async jobDelete(params: { id: string }): Promise<boolean> {
    return this.write(() => {
      const deleted = this.stmt.deleteFinished.get(params.id) as { queue: string; status: JobState } | undefined;
      if (deleted) {
        if (deleted.status === "completed") this.counters.removeCompleted(deleted.queue, 1);
        return true;
      }
      const existing = this.stmt.getById.get(params.id) as Row | undefined;
      if (!existing) return false;
      throw new OffloadError("OFFLOAD_ERR_INVALID_STATE", `Job ${params.id} is ${existing.status}: only finished jobs can be deleted`, {
        details: { status: existing.status },
      });
    });
  }

  async jobRescueExpired(params: { limit: number; now?: number }): Promise<JobRescueResult> {
    const now = params.now ?? Date.now();
    const rows = this.write(() => {
      const rescued = this.stmt.rescueExpired.all({ limit: params.limit, now }) as Row[];
      const ended = new EndedJobs();
      for (const row of rescued) if (row.status === "failed") ended.add(row.queue, "failed", Math.max(0, (row.started_at ?? row.run_at) - row.run_at));
      this.counters.record(ended, now);
      return rescued;
    });
    const result: JobRescueResult = { cancelled: [], failed: [], requeued: [] };
    for (const row of rows) {
      const record = toRecord(row);
      if (record.status === "queued") result.requeued.push(record);
      else if (record.status === "failed") result.failed.push(record);
      else result.cancelled.push(record);
    }
    return result;
  }

  async jobPrune(params: { ages: PruneAges; limit: number; now?: number }): Promise<number> {
    const now = params.now ?? Date.now();
    return this.write(() => {
      let deleted = 0;
      for (const status of ["completed", "failed", "cancelled"] as const) {
        if (deleted >= params.limit) break;
        const before = now - params.ages[status];
        const boundary = this.firstSeqCreatedSince(before + CREATED_AT_SKEW_MS);
        const rows = this.stmt.prune.all({ before, boundary, limit: params.limit - deleted, status }) as { queue: string }[];
        deleted += rows.length;
        if (status === "completed") {
          const byQueue = new Map<string, number>();
          for (const { queue } of rows) byQueue.set(queue, (byQueue.get(queue) ?? 0) + 1);
          for (const [queue, count] of byQueue) this.counters.removeCompleted(queue, count);
        }
      }
      return deleted;
    });
  }

  /**
   * The first seq of a job created at or after `time` (one past the last seq
   * when there is none). A job finished before `time` was created before it,
   * so it lies below this boundary: the pruner walks only that part of the
   * table instead of every completed row (completed jobs have no index of
   * their own). seq follows created_at because inserts are serialised by the
   * writer lock; a binary search over the rowid costs some 20 index probes.
   */
  private firstSeqCreatedSince(time: number): number {
    const bounds = this.stmt.seqBounds.get() as { hi: number | null; lo: number | null };
    if (bounds.lo === null || bounds.hi === null) return 0;
    let lo = bounds.lo;
    let hi = bounds.hi + 1;
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      const row = this.stmt.firstAtOrAfter.get(mid) as { created_at: number; seq: number } | undefined;
      if (!row) hi = mid;
      else if (row.created_at < time) lo = row.seq + 1;
      else hi = mid;
    }
    return lo;
  }

  async queueCounts(params: { now?: number } = {}): Promise<QueueCounts[]> {
    const now = params.now ?? Date.now();
    const rows = this.stmt.queueCounts.all() as { n: number; queue: string; status: JobState }[];
    const byQueue = new Map<string, QueueCounts>();
    for (const row of rows) {
      let entry = byQueue.get(row.queue);
      if (!entry) {
        entry = { counts: zeroCounts(), queue: row.queue };
        byQueue.set(row.queue, entry);
      }
      entry.counts[row.status] += row.n;
    }
    // Due scheduled jobs count as queued, as in every other view.
    const due = this.stmt.dueCounts.all(now) as {
      n: number;
      queue: string;
    }[];
    for (const row of due) {
      const entry = byQueue.get(row.queue);
      if (entry) {
        entry.counts.scheduled -= row.n;
        entry.counts.queued += row.n;
      }
    }
    return [...byQueue.values()].sort((a, b) => a.queue.localeCompare(b.queue));
  }

  async queuePause(params: { now?: number; queue: string }): Promise<QueueState> {
    const now = params.now ?? Date.now();
    const row = this.write(() => this.stmt.queuePause.get({ now, queue: params.queue }) as { paused_at: number; queue: string });
    return { paused: true, pausedAt: row.paused_at, queue: row.queue };
  }

  async queueResume(params: { now?: number; queue: string }): Promise<QueueState> {
    const now = params.now ?? Date.now();
    this.write(() => this.stmt.queueResume.run({ now, queue: params.queue }));
    return { paused: false, pausedAt: null, queue: params.queue };
  }

  async queueStats(params: { now?: number } = {}): Promise<QueueStats[]> {
    if (this.closed) throw new OffloadError("OFFLOAD_ERR_CLOSED", "The SQLite engine is closed");
    const now = params.now ?? Date.now();
    // One read transaction, so the counts of the five statements agree with each other.
    return this.db.transaction(() => readQueueStats(this.stmt, now))();
  }

  async queueThroughput(params: { minutes: number; now?: number }): Promise<QueueThroughputSeries> {
    if (this.closed) throw new OffloadError("OFFLOAD_ERR_CLOSED", "The SQLite engine is closed");
    const buckets = minuteBuckets(params.now ?? Date.now(), params.minutes);
    const rows = this.stmt.queueStatsSince.all({ from: buckets[0] }) as { bucket: number; completed: number; failed: number; queue: string; wait_ms: number }[];
    return foldThroughput(buckets, rows.map((r) => ({ bucket: r.bucket, completed: r.completed, failed: r.failed, queue: r.queue, waitMs: r.wait_ms })));
  }

  async jobRunNow(params: { id: string; now?: number }): Promise<JobRecord | null> {
    const now = params.now ?? Date.now();
    return this.write(() => {
      const row = this.stmt.runNow.get({ id: params.id, now }) as Row | undefined;
      if (row) return toRecord(row, now);
      const existing = this.stmt.getById.get(params.id) as Row | undefined;
      if (!existing) return null;
      throw new OffloadError("OFFLOAD_ERR_INVALID_STATE", `Job ${params.id} is ${toRecord(existing, now).status}: only scheduled jobs can be run now`, {
        details: { status: toRecord(existing, now).status },
      });
    });
  }

  async workerBeat(params: { now?: number; staleMs: number; worker: WorkerInfo }): Promise<void> {
    const now = params.now ?? Date.now();
    const { host, id, pid, queues, startedAt } = params.worker;
    this.write(() => {
      this.stmt.workerUpsert.run({ host, id, now, pid, queues: JSON.stringify(queues), startedAt });
      this.stmt.workerPruneStale.run({ before: now - params.staleMs });
    });
  }

  async workerGone(params: { id: string }): Promise<void> {
    this.write(() => this.stmt.workerDelete.run(params.id));
  }

  async workerList(params: { now?: number; runningLimit: number; withinMs: number }): Promise<WorkerStatus[]> {
    if (this.closed) throw new OffloadError("OFFLOAD_ERR_CLOSED", "The SQLite engine is closed");
    const now = params.now ?? Date.now();
    return this.db.transaction(() => {
      const workers = this.stmt.workerList.all({ since: now - params.withinMs }) as WorkerRow[];
      const running = this.stmt.runningJobs.all({ limit: params.runningLimit }) as RunningRow[];
      return workerStatuses(workers, running);
    })();
  }

  async jobInsertIdempotent(params: { idempotency: IdempotencyKey; job: JobInsert; now?: number }): Promise<JobInsertIdempotentResult> {
    const now = params.now ?? Date.now();
    const { fingerprint, key, scope, ttlMs } = params.idempotency;
    return this.write((): JobInsertIdempotentResult => {
      this.stmt.idempotencyPrune.run({ now });
      const seen = this.stmt.idempotencyGet.get({ key, scope }) as { deduplicated: number; expires_at: number; fingerprint: string; job_id: string } | undefined;
      if (seen && seen.expires_at > now) {
        const row = this.stmt.getById.get(seen.job_id) as Row | undefined;
        // A key whose job was deleted (by hand or by the pruner) is forgotten: the request stores a new job.
        if (row) {
          if (seen.fingerprint !== fingerprint) return { jobId: seen.job_id, outcome: "conflict" };
          return { deduplicated: seen.deduplicated === 1, job: toRecord(row, now), outcome: "replayed" };
        }
      }
      const [stored] = this.insertWith(this.stmt, [params.job], now);
      // Deduplicated onto another owner's job: nothing of this request is stored, its key included.
      if (stored!.deduplicated && stored!.job.owner !== params.job.owner) return { deduplicated: true, job: stored!.job, outcome: "stored" };
      this.stmt.idempotencyPut.run({
        deduplicated: stored!.deduplicated ? 1 : 0,
        expiresAt: now + ttlMs,
        fingerprint,
        jobId: stored!.job.id,
        key,
        now,
        scope,
      });
      return { deduplicated: stored!.deduplicated, job: stored!.job, outcome: "stored" };
    });
  }
}
