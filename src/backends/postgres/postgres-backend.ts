import { createHash, randomUUID } from "node:crypto";
import pg from "pg";
import type { Backend, BackendCapabilities, ClaimParams } from "../../backend/backend.js";
import { planMigrations, migrationChecksum, type AppliedMigration } from "../../backend/migrations.js";
import { canHandOff, insertedRecord } from "../../backend/inserted-record.js";
import { foldThroughput, minuteBuckets, QueueStatsCollector, zeroCounts } from "../../backend/queue-stats.js";
import { workerStatuses, type RunningRow, type WorkerRow } from "../../backend/workers.js";
import type {
  ClaimedJob,
  JobAck,
  JobAckResult,
  JobCancelResult,
  JobHeartbeatResult,
  JobInsert,
  JobInsertResult,
  JobListFilter,
  JobListResult,
  JobRecord,
  JobRescueResult,
  Lease,
  MigrationStatus,
  PruneAges,
  QueueCounts,
  IdempotencyKey,
  JobInsertIdempotentResult,
  QueueState,
  QueueStats,
  QueueThroughputSeries,
  WorkerInfo,
  WorkerStatus,
} from "../../backend/types.js";
import { OffloadError } from "../../errors.js";
import { EMPTY_PROGRESS, type JobProgress } from "../../job/progress.js";
import type { JobState } from "../../job/states.js";
import type { Logger } from "../../observability/logger.js";
import { POSTGRES_MIGRATIONS, renderMigration } from "./migrations.js";
import { briefError } from "./brief-error.js";
import { PostgresNotifier } from "./postgres-notifier.js";
import { buildStatements, type PostgresStatements } from "./statements.js";

/** Options of the PostgreSQL engine; all but the URL are also URL parameters (`?schema=jobs&poolSize=20`). */
export interface PostgresBackendOptions {
  /** `postgres://user:password@host:5432/database`, with any parameter the `pg` driver reads (sslmode, ...). */
  connectionString: string;
  /** Milliseconds to wait for a connection (a new one, or a free one from the pool). Default 2,000. */
  connectTimeoutMs?: number;
  /**
   * Deadline of one enqueue, connection included, in milliseconds: when the
   * database cannot be reached, enqueue fails this fast instead of hanging.
   * Default 2,000.
   */
  enqueueTimeoutMs?: number;
  logger?: Logger | null;
  /** Connections in this process's pool (the LISTEN connection comes on top). Default 10. */
  poolSize?: number;
  /**
   * Deadline of any other operation, in milliseconds. Default 10,000: below
   * the default lease, so a worker cut off from the database notices, and
   * backs off, before its leases run out.
   */
  queryTimeoutMs?: number;
  /** Schema holding Offload's tables, created by the first migration. Default `offload`. */
  schema?: string;
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** pg_advisory_xact_lock's first key for migrations ("0ff10ad"); the second is the schema's hash. */
const MIGRATION_LOCK_CLASS = 0x0ff10ad;
/** pg_advisory_xact_lock's first key for idempotency keys; the second is the key's hash. */
const IDEMPOTENCY_LOCK_CLASS = 0x0ff10ae;
/** Width of a statistics window (statements.ts): "the last minute" may reach this much further back. */
const STATS_BUCKET_MS = 10_000;
const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;

/** A row of the queueStats statement. */
interface StatsRow {
  a: number | string | null;
  b: number | string | null;
  cc: number | string | null;
  d: number | string | null;
  wh: number | string | null;
  wm: number | string | null;
  kind: "completed" | "due" | "paused" | "queued" | "scheduled" | "state" | "windows";
  n: number | string | null;
  oldest: number | string | null;
  queue: string;
  status: JobState | null;
}

/** `int8` comes back as a JS number (epoch ms and counters stay far below 2^53), everything else as pg parses it. */
const TYPES = {
  getTypeParser: ((oid: number, format?: "text" | "binary") =>
    oid === pg.types.builtins.INT8 ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

interface Row {
  attempt: number;
  cancel_requested: boolean;
  created_at: number | string;
  error: JobRecord["error"];
  errors: JobRecord["errors"];
  finished_at: number | string | null;
  id: string;
  lease_expires_at: number | string | null;
  max_attempts: number;
  owner: string | null;
  payload: unknown;
  priority: number;
  progress: JobProgress | null;
  queue: string;
  result: unknown;
  run_at: number | string;
  started_at: number | string | null;
  status: JobState;
  timeout_ms: number | string | null;
  type: string;
  unique_key: string | null;
  updated_at: number | string;
  worker_id: string | null;
}

type ClaimedRow = Pick<Row, "attempt" | "created_at" | "id" | "max_attempts" | "owner" | "payload" | "priority" | "progress" | "queue" | "run_at" | "timeout_ms" | "type" | "unique_key"> & {
  claimed_at: number | string;
};

/** Numbers from our pool are numbers already; from an application's client (its own type parsers) they may be strings. */
function num(value: number | string): number;
function num(value: number | string | null): number | null;
function num(value: number | string | null): number | null {
  return value === null ? null : Number(value);
}

function toRecord(row: Row, now: number | null): JobRecord {
  const runAt = num(row.run_at);
  return {
    attempt: row.attempt,
    cancelRequested: row.cancel_requested,
    createdAt: num(row.created_at),
    error: row.error ?? null,
    errors: row.errors ?? [],
    finishedAt: num(row.finished_at),
    id: row.id,
    leaseExpiresAt: num(row.lease_expires_at),
    maxAttempts: row.max_attempts,
    owner: row.owner,
    payload: row.payload,
    priority: row.priority,
    progress: row.progress ?? { ...EMPTY_PROGRESS },
    queue: row.queue,
    result: row.result ?? null,
    runAt,
    startedAt: num(row.started_at),
    // A due job not yet claimed is, to anyone looking, queued.
    status: now !== null && row.status === "scheduled" && runAt <= now ? "queued" : row.status,
    timeoutMs: num(row.timeout_ms),
    type: row.type,
    uniqueKey: row.unique_key,
    updatedAt: num(row.updated_at),
    workerId: row.worker_id,
  };
}

/** Claim order: higher priority first, then earlier run time, then id (as the claim index orders them). */
function claimOrder(a: ClaimedJob, b: ClaimedJob): number {
  return b.job.priority - a.job.priority || a.job.runAt - b.job.runAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

function encodeCursor(id: string): string {
  return Buffer.from(`i:${id}`).toString("base64url");
}

function decodeCursor(cursor: string): string {
  const text = Buffer.from(cursor, "base64url").toString();
  const id = text.startsWith("i:") ? text.slice(2) : "";
  if (!UUID.test(id)) throw new OffloadError("OFFLOAD_ERR_INVALID_INPUT", "Invalid cursor: pass back the nextCursor of a previous page unchanged");
  return id;
}

/** The connection string without Offload's own parameters, and those parameters. */
export function parsePostgresUrl(url: string): PostgresBackendOptions {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new OffloadError("OFFLOAD_ERR_INVALID_INPUT", "Invalid database URL: expected postgres://user@host:5432/database");
  }
  const options: Partial<PostgresBackendOptions> = {};
  const numeric = { connectTimeoutMs: [1, 600_000], enqueueTimeoutMs: [1, 600_000], poolSize: [1, 1_000], queryTimeoutMs: [1, 3_600_000] } as const;
  for (const key of ["schema", ...Object.keys(numeric)] as const) {
    const value = parsed.searchParams.get(key);
    if (value === null) continue;
    parsed.searchParams.delete(key);
    if (key === "schema") {
      options.schema = value;
      continue;
    }
    const [min, max] = numeric[key as keyof typeof numeric];
    if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
      throw new OffloadError("OFFLOAD_ERR_INVALID_INPUT", `Invalid database URL parameter ${key}=${value}: expected a whole number from ${min} to ${max}`);
    }
    options[key as keyof typeof numeric] = Number(value);
  }
  return { ...options, connectionString: parsed.toString() };
}

/** The URL with its password hidden, for messages. */
function redact(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, "//$1:***@");
}

/** Statement names by text; the texts are a fixed set (and a few dozen list filters), so hashing each once is enough. */
const statementNames = new Map<string, string>();

/** A statement prepared once per connection: named by its text's hash, so two texts never share a name. */
function prepared(text: string, values: unknown[]): pg.QueryConfig {
  let name = statementNames.get(text);
  if (name === undefined) {
    name = `offload_${createHash("sha1").update(text).digest("hex").slice(0, 16)}`;
    statementNames.set(text, name);
  }
  return { name, text, values };
}

/** Either our pooled client or an application's own (transactional enqueue). */
type Queryable = Pick<pg.ClientBase, "query">;

function isQueryable(value: unknown): value is Queryable {
  return typeof value === "object" && value !== null && typeof (value as Queryable).query === "function";
}

/** A pooled connection that claims share while any is in flight (see PostgresBackend.withClaimSession). */
interface ClaimSession {
  /** Set by a failure that leaves the connection unusable: destroyed when the last claim on it ends. */
  broken: Error | null;
  client: Promise<pg.PoolClient>;
  /** Set when the server dropped it while it was ours. */
  dropped: Error | null;
  ended?: boolean;
  inFlight: number;
  onError: ((error: Error) => void) | null;
}

/**
 * Which acks of a batch are the first of their lease (job id and token):
 * later ones are sent nowhere. Keyed by id, the string the worker already
 * hashed; a key of id and token is built only when an id comes back.
 */
class FirstAckOfLease {
  private readonly tokens = new Map<string, string>();
  private repeats: Set<string> | null = null;

  first(ack: Lease): boolean {
    if (!UUID.test(ack.id)) return false;
    const token = this.tokens.get(ack.id);
    if (token === undefined) {
      this.tokens.set(ack.id, ack.leaseToken);
      return true;
    }
    if (token === ack.leaseToken) return false;
    const key = `${ack.id} ${ack.leaseToken}`;
    this.repeats ??= new Set();
    if (this.repeats.has(key)) return false;
    this.repeats.add(key);
    return true;
  }
}

/**
 * Acks that all complete, as ackCompleted takes them: the JSON list (only
 * the keys it reads; `progress` only where an attempt reported some; under
 * `deleting`, as ackCompletedDeleting takes them, no result or progress) and
 * the indexes sent, or null when none is. The acks of a claim share its
 * token, so its JSON form is written once per run of equal tokens.
 * Measured per 1,000 acks, parsing alone: 3.7 ms on the server with every
 * outcome's keys, 2.5 ms with these.
 */
function completedAckBatch(acks: readonly JobAck[], deleting: boolean): { batch: string; sent: number[] | null } {
  const once = new FirstAckOfLease();
  const sent: number[] = [];
  let batch = "[";
  let token = "";
  let tokenJson = "";
  for (let i = 0; i < acks.length; i++) {
    const ack = acks[i] as Extract<JobAck, { outcome: "completed" }>;
    if (!once.first(ack)) continue;
    if (ack.leaseToken !== token) {
      token = ack.leaseToken;
      tokenJson = JSON.stringify(token);
    }
    const sep = sent.length === 0 ? "" : ",";
    // A job deleted at completion keeps neither its result nor its progress.
    batch += deleting
      ? `${sep}{"i":${i},"id":"${ack.id}","token":${tokenJson}}`
      : `${sep}{"i":${i},"id":"${ack.id}","token":${tokenJson},"result":${ack.resultJson}${ack.progress ? `,"progress":${JSON.stringify(ack.progress)}` : ""}}`;
    sent.push(i);
  }
  return { batch: `${batch}]`, sent: sent.length === 0 ? null : sent };
}

/**
 * The results of a batch of completions of which those at `applied` applied.
 * A function of its own, not a loop in the async ackOn: V8 compiles a hot
 * loop's whole function on the spot (on-stack replacement), and ackOn's
 * compile, its callees inlined, was the largest of a worker's first 10,000
 * jobs (46 ms of 193 ms of optimising compiles, --trace-opt).
 */
function completedResults(acks: readonly JobAck[], applied: readonly number[]): JobAckResult[] {
  const results: JobAckResult[] = new Array(acks.length);
  for (const i of applied) results[i] = { applied: true, id: acks[i]!.id, status: "completed" };
  for (let i = 0; i < acks.length; i++) results[i] ??= { applied: false, id: acks[i]!.id, status: null };
  return results;
}

/** A claimed row as the worker takes it, under lease `token` of `leaseMs` for `workerId`. */
function claimedFromRow(row: ClaimedRow, leaseMs: number, workerId: string, token: string): ClaimedJob {
  const at = num(row.claimed_at);
  return {
    id: row.id,
    job: {
      attempt: row.attempt,
      cancelRequested: false,
      createdAt: num(row.created_at),
      finishedAt: null,
      id: row.id,
      leaseExpiresAt: at + leaseMs,
      maxAttempts: row.max_attempts,
      owner: row.owner,
      payload: row.payload,
      priority: row.priority,
      progress: row.progress ?? { ...EMPTY_PROGRESS },
      queue: row.queue,
      runAt: num(row.run_at),
      startedAt: at,
      status: "running",
      timeoutMs: num(row.timeout_ms),
      type: row.type,
      uniqueKey: row.unique_key,
      updatedAt: at,
      workerId,
    },
    leaseToken: token,
  };
}

/** A job an enqueue handed over, from its notification (insertHandingOff: the claimed columns, the worker, token and lease). */
function parseHandOff(payload: string): ClaimedJob {
  const m = JSON.parse(payload) as Omit<ClaimedRow, "attempt" | "created_at" | "progress" | "run_at" | "unique_key"> & {
    lease_ms: number;
    token: string;
    worker_id: string;
  };
  const row: ClaimedRow = { ...m, attempt: 1, created_at: m.claimed_at, progress: null, run_at: m.claimed_at, unique_key: null };
  return claimedFromRow(row, m.lease_ms, m.worker_id, m.token);
}

/** The claimed row of a job an enqueue stored already claimed, at `at`: what it sent. */
function claimedRowOf(job: JobInsert, at: number): ClaimedRow {
  return {
    attempt: 1,
    claimed_at: at,
    created_at: at,
    id: job.id,
    max_attempts: job.maxAttempts,
    owner: job.owner,
    payload: JSON.parse(job.payloadJson),
    priority: job.priority,
    progress: null,
    queue: job.queue,
    run_at: at,
    timeout_ms: job.timeoutMs,
    type: job.type,
    unique_key: null,
  };
}

/**
 * What an enqueue stored of one due job, sent as `job`, at `at` (the
 * database's clock): queued, or running under the lease of the worker it was
 * handed to.
 */
function storedResult(job: JobInsert, at: number, handedTo: { leaseMs: number; workerId: string } | null): JobInsertResult {
  const queued = insertedRecord(job, { createdAt: at, runAt: at, status: "queued" });
  if (!handedTo) return { deduplicated: false, job: queued };
  return {
    deduplicated: false,
    job: { ...queued, attempt: 1, leaseExpiresAt: at + handedTo.leaseMs, startedAt: at, status: "running", updatedAt: at, workerId: handedTo.workerId },
  };
}

/**
 * The engine for many workers on many hosts: one PostgreSQL database, a pool
 * per process, LISTEN/NOTIFY wake-ups. See statements.ts for the SQL.
 */
export class PostgresBackend implements Backend {
  readonly capabilities: BackendCapabilities = {
    concurrentWrites: true,
    engine: "postgres",
    listenNotify: true,
    multiHost: true,
    skipLocked: true,
    transactionalEnqueue: "async",
  };
  readonly notifier: PostgresNotifier;
  readonly schema: string;
  readonly pool: pg.Pool;
  private readonly sql: PostgresStatements;
  private readonly quotedSchema: string;
  private readonly channel: string;
  private readonly cancelChannel: string;
  /** This process's own channel: jobs that enqueues elsewhere hand to its waiting worker come on it. */
  private readonly handOffChannel = `offload_handoff_${randomUUID().replaceAll("-", "").slice(0, 16)}`;
  /** The connection of the claims in flight, if any (see withClaimSession). */
  private claimSession: ClaimSession | null = null;
  /** Workers of this process written as waiting (see waitersPut). */
  private readonly waitingWorkers = new Set<string>();
  private readonly logger: Logger | null;
  private readonly enqueueTimeoutMs: number;
  private readonly queryTimeoutMs: number;
  private closed = false;
  /** The URL without its password, for messages. */
  private readonly describe: string;

  constructor(options: PostgresBackendOptions) {
    this.schema = options.schema ?? "offload";
    if (!SCHEMA_NAME.test(this.schema)) {
      throw new OffloadError("OFFLOAD_ERR_INVALID_INPUT", `Invalid schema ${JSON.stringify(this.schema)}: expected lower-case letters, digits and _ (at most 63, not starting with a digit)`);
    }
    for (const key of ["connectTimeoutMs", "enqueueTimeoutMs", "poolSize", "queryTimeoutMs"] as const) {
      const value = options[key];
      if (value !== undefined && (!Number.isSafeInteger(value) || value < 1)) {
        throw new OffloadError("OFFLOAD_ERR_INVALID_INPUT", `Invalid PostgreSQL option ${key}: expected a positive whole number, got ${String(value)}`);
      }
    }
    this.logger = options.logger ?? null;
    this.quotedSchema = `"${this.schema}"`;
    this.channel = `${this.schema}_jobs`;
    this.cancelChannel = `${this.schema}_cancel`;
    // This process's shard of the statistics counters: spreads writers on many hosts over 16 rows a counter.
    this.sql = buildStatements(this.quotedSchema, Math.floor(Math.random() * 16));
    this.enqueueTimeoutMs = options.enqueueTimeoutMs ?? 2_000;
    this.queryTimeoutMs = options.queryTimeoutMs ?? 10_000;
    const clientConfig: pg.ClientConfig = {
      application_name: "offload",
      connectionString: options.connectionString,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 2_000,
      keepAlive: true,
      types: TYPES,
    };
    // Generic plans: the hot statements have the same plan whatever their parameters, and planning a
    // claim (a lateral join over a union) cost more than running it (1.0 ms against 0.8 ms for 50 jobs
    // here); PostgreSQL's default re-plans the first five executions and keeps re-planning when its
    // estimate of the generic plan is off. (Behind PgBouncer in transaction mode, startup options are
    // dropped: the statements still work, just planned per call.)
    this.pool = new pg.Pool({ ...clientConfig, max: options.poolSize ?? 10, options: "-c plan_cache_mode=force_generic_plan" });
    // An idle pooled connection that drops (server restart, pg_terminate_backend) emits 'error' on the
    // pool; unheard, it would crash the process. The pool discards it and opens a new one when needed.
    this.pool.on("error", (error) => options.logger?.warn({ err: briefError(error) }, "an idle PostgreSQL connection was lost; it will be replaced"));
    // Server process ids of this pool's connections, so the notifier can tell this process's own notifications.
    const sessions = new Set<number>();
    const pid = (client: pg.PoolClient) => (client as pg.PoolClient & { processID: number | null }).processID;
    this.pool.on("connect", (client) => {
      const id = pid(client);
      if (id !== null) sessions.add(id);
    });
    this.pool.on("remove", (client) => {
      const id = pid(client);
      if (id !== null) sessions.delete(id);
    });
    this.notifier = new PostgresNotifier(clientConfig, this.channel, this.cancelChannel, options.logger ?? null, (id) => sessions.has(id), {
      channel: this.handOffChannel,
      deaf: () => this.waitersGone(),
      parse: parseHandOff,
    });
    this.describe = redact(options.connectionString);
  }

  /**
   * Runs `fn` on a pooled connection within `timeoutMs` (acquiring included).
   * A connection that errs or overruns the deadline is destroyed, not reused:
   * it may be half-way through a statement or cut off from the server.
   */
  private async withClient<T>(timeoutMs: number, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    if (this.closed) throw new OffloadError("OFFLOAD_ERR_CLOSED", "The PostgreSQL engine is closed");
    const { at: deadline, clear, expired } = this.deadline(timeoutMs);
    let client: pg.PoolClient | null = null;
    let broken: Error | undefined;
    // pg-pool listens for 'error' only on idle connections. A checked-out one that the server drops
    // between two statements (pg_terminate_backend, a restart: the FATAL message can arrive in the same
    // read as the previous statement's result) emits 'error' with no query to fail: unheard, it kills
    // the process. Heard, it marks the connection dropped, so that it is discarded at release.
    let dropped: Error | undefined;
    const onError = (error: Error) => {
      dropped = error;
    };
    const connecting = this.pool.connect();
    try {
      client = await Promise.race([connecting, expired]);
      client.on("error", onError);
      const work = fn(client);
      work.catch(() => undefined); // settled by the race below; a late rejection must not go unhandled
      return await Promise.race([work, expired]);
    } catch (error) {
      if (!client) connecting.then((late) => late.release(), () => undefined); // a connection that arrives after the deadline goes back
      broken = error as Error;
      throw this.wrap(error, deadline);
    } finally {
      clear();
      // Errors the server reports (constraint, syntax) leave the connection usable; others do not.
      if (client) {
        client.off("error", onError);
        client.release(dropped ?? (broken && !isServerError(broken) ? broken : undefined));
      }
    }
  }

  /** A promise that rejects `timeoutMs` from now (epoch ms `at`), and `clear` to stop its timer. */
  private deadline(timeoutMs: number): { at: number; clear: () => void; expired: Promise<never> } {
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new OffloadError("OFFLOAD_ERR_DATABASE", `PostgreSQL at ${this.describe} did not answer within ${timeoutMs} ms`)), timeoutMs);
    });
    return { at: Date.now() + timeoutMs, clear: () => clearTimeout(timer), expired };
  }

  /**
   * Runs a claim on the connection of the claims in flight, or on a pooled
   * connection that becomes theirs until none is left in flight. pg sends a
   * connection's statements one after the other, the next as soon as the
   * previous answers, so two claims in flight run on the server in the order
   * they were sent, the second already on its way while the worker handles
   * the first: the rows a claim sent earlier gets never come after those of
   * one sent later. (On two pooled connections the second claim sometimes ran
   * first, for instance behind the connection set-up of the first, and
   * jobs of lower priority started before higher ones.) A connection that
   * errs or overruns the deadline is destroyed, as in {@link withClient}.
   */
  private async withClaimSession<T>(timeoutMs: number, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    if (this.closed) throw new OffloadError("OFFLOAD_ERR_CLOSED", "The PostgreSQL engine is closed");
    const session = (this.claimSession ??= this.openClaimSession());
    session.inFlight++;
    const { at: deadline, clear, expired } = this.deadline(timeoutMs);
    try {
      const client = await Promise.race([session.client, expired]);
      if (session.dropped) throw session.dropped;
      const work = fn(client);
      work.catch(() => undefined); // settled by the race below; a late rejection must not go unhandled
      return await Promise.race([work, expired]);
    } catch (error) {
      // Errors the server reports (constraint, syntax) leave the connection usable; others do not.
      if (!isServerError(error)) session.broken ??= error as Error;
      throw this.wrap(error, deadline);
    } finally {
      clear();
      if (--session.inFlight === 0 || session.broken) this.endClaimSession(session);
    }
  }

  private openClaimSession(): ClaimSession {
    const session: ClaimSession = { broken: null, client: this.pool.connect(), dropped: null, inFlight: 0, onError: null };
    session.client.then(
      (client) => {
        // pg-pool hears errors of idle connections only; one dropped while it is ours must not go unheard.
        session.onError = (error: Error) => {
          session.dropped = error;
        };
        client.on("error", session.onError);
      },
      (error: unknown) => {
        session.broken = error as Error;
        if (this.claimSession === session) this.claimSession = null;
      },
    );
    return session;
  }

  /** Gives the connection back to the pool (destroyed if it broke); claims sent from now on take another. */
  private endClaimSession(session: ClaimSession): void {
    if (this.claimSession === session) this.claimSession = null;
    if (session.inFlight > 0) return; // the last claim in flight ends it
    if (session.ended) return;
    session.ended = true;
    session.client.then(
      (client) => {
        if (session.onError) client.off("error", session.onError);
        client.release(session.dropped ?? session.broken ?? undefined);
      },
      () => undefined,
    );
  }

  /** Runs `fn` in a transaction on one connection. */
  private transaction<T>(timeoutMs: number, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    return this.withClient(timeoutMs, async (client) => {
      await client.query("BEGIN");
      try {
        const result = await fn(client);
        await client.query("COMMIT");
        return result;
      } catch (error) {
        await client.query("ROLLBACK").catch(() => undefined);
        throw error;
      }
    });
  }

  private wrap(error: unknown, deadline: number): OffloadError {
    if (error instanceof OffloadError) return error;
    const e = error as { code?: unknown; message?: string };
    if (isServerError(error)) {
      return new OffloadError("OFFLOAD_ERR_DATABASE", `PostgreSQL refused the operation (${String(e.code)}): ${e.message}`, { cause: error });
    }
    const late = Date.now() >= deadline - 50;
    return new OffloadError(
      "OFFLOAD_ERR_DATABASE",
      `PostgreSQL at ${this.describe} is unreachable${late ? " (timed out)" : ""}: ${e.message ?? String(error)}`,
      { cause: error },
    );
  }

  private async query<R>(client: Queryable, text: string, values: unknown[], named = true): Promise<R[]> {
    const result = await client.query(named ? prepared(text, values) : { text, values });
    return result.rows as R[];
  }

  async migrate(): Promise<MigrationStatus> {
    return this.transaction(Math.max(this.queryTimeoutMs, 60_000), async (client) => {
      // Every process that starts at once waits here; the first applies the migrations, the others find them applied.
      await client.query("SELECT pg_advisory_xact_lock($1, hashtext($2))", [MIGRATION_LOCK_CLASS, this.schema]);
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${this.quotedSchema}`);
      await client.query(
        `CREATE TABLE IF NOT EXISTS ${this.quotedSchema}.migrations (
           version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
      );
      const rows = (await client.query(`SELECT version, checksum FROM ${this.quotedSchema}.migrations`)).rows as AppliedMigration[];
      const pending = planMigrations(POSTGRES_MIGRATIONS, rows);
      for (const migration of pending) {
        await client.query(renderMigration(migration, this.quotedSchema));
        await client.query(`INSERT INTO ${this.quotedSchema}.migrations (version, name, checksum) VALUES ($1, $2, $3)`, [
          migration.version,
          migration.name,
          migrationChecksum(migration),
        ]);
      }
      const version = Math.max(0, ...rows.map((r) => r.version), ...pending.map((m) => m.version));
      return { applied: pending.map((m) => m.version), version };
    });
  }

  /** The SQL `migrate` would run on an empty database, for review (`offload migrate --print`). */
  migrationScript(): string {
    const q = this.quotedSchema;
    const parts = [
      `-- Offload PostgreSQL schema ${q}, migrations 1..${POSTGRES_MIGRATIONS.length}`,
      "BEGIN;",
      `SELECT pg_advisory_xact_lock(${MIGRATION_LOCK_CLASS}, hashtext('${this.schema}'));`,
      `CREATE SCHEMA IF NOT EXISTS ${q};`,
      `CREATE TABLE IF NOT EXISTS ${q}.migrations (\n  version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now());`,
    ];
    for (const migration of POSTGRES_MIGRATIONS) {
      parts.push(`-- migration ${migration.version}: ${migration.name}`, renderMigration(migration, q).trim());
      parts.push(`INSERT INTO ${q}.migrations (version, name, checksum) VALUES (${migration.version}, '${migration.name}', '${migrationChecksum(migration)}');`);
    }
    parts.push("COMMIT;");
    return `${parts.join("\n")}\n`;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.notifier.close();
    await this.pool.end();
  }

  async jobInsertMany(params: { jobs: readonly JobInsert[]; now?: number; tx?: unknown }): Promise<JobInsertResult[]> {
    if (params.jobs.length === 0) return [];
    if (params.tx !== undefined) {
      if (!isQueryable(params.tx)) {
        throw new OffloadError("OFFLOAD_ERR_INVALID_INPUT", "Invalid tx: expected a pg client (pg.Client or a client from pg.Pool.connect()) inside BEGIN");
      }
      const tx = params.tx;
      try {
        // The application's connection: its transaction, its type parsers; unnamed statements, so nothing stays prepared on it.
        return await this.insertOn(tx, params.jobs, params.now ?? null, false);
      } catch (error) {
        throw this.wrap(error, Infinity);
      }
    }
    const withKeys = params.jobs.some((j) => j.uniqueKey !== null);
    // With unique keys, the holder lookup joins the insert in a transaction.
    if (withKeys) return this.transaction(this.enqueueTimeoutMs, (client) => this.insertOn(client, params.jobs, params.now ?? null, true));
    // Without them one statement does it all, in its own transaction: committed without waiting for the
    // flush, so that workers hear of the jobs at once, then made durable before the answer.
    return this.withClient(this.enqueueTimeoutMs, async (client) => {
      const [one] = params.jobs;
      const results =
        params.jobs.length === 1 && canHandOff(one!)
          ? [await this.insertClaimed(client, this.sql.insertHandingOff, one!, params.now ?? null).then(({ at, handedTo }) => storedResult(one!, at, handedTo))]
          : await this.insertOn(client, params.jobs, params.now ?? null, true, this.sql.insertVisible);
      await this.confirmDurable(client, results.length === 1 ? results[0]!.job.id : `${results.length} jobs`);
      return results;
    });
  }

  /**
   * Waits, on the connection that committed them, for the WAL flush of writes
   * committed without it. A failure here leaves them committed and seen by
   * workers, but perhaps not durable: the error says so.
   */
  private async confirmDurable(client: pg.PoolClient, what: string): Promise<void> {
    try {
      await this.query(client, this.sql.confirmDurable, []);
    } catch (error) {
      const e = error as { message?: string };
      throw new OffloadError(
        "OFFLOAD_ERR_DATABASE",
        `PostgreSQL committed ${what} but did not confirm it durable (${e.message ?? String(error)}): workers may have started it, and a crash of the database server now would lose it`,
        { cause: error },
      );
    }
  }

  async jobInsertAndClaim(params: {
    job: JobInsert;
    leaseMs: number;
    now?: number;
    onStored?: (stored: { claimed: ClaimedJob | null; inserted: JobInsertResult }) => void;
    workerId: string;
  }): Promise<{ claimed: ClaimedJob | null; inserted: JobInsertResult }> {
    const { job } = params;
    if (!canHandOff(job)) {
      throw new OffloadError("OFFLOAD_ERR_INVALID_INPUT", "jobInsertAndClaim takes one due job without a uniqueKey");
    }
    return this.withClient(this.enqueueTimeoutMs, async (client) => {
      const { at, handedTo, token } = await this.insertClaimed(client, this.sql.insertAndClaim, job, params.now ?? null, [params.workerId, params.leaseMs]);
      // The statement returns only what the database decided; the job is what was sent.
      const claimed = handedTo && claimedFromRow(claimedRowOf(job, at), handedTo.leaseMs, handedTo.workerId, token);
      const stored = { claimed, inserted: storedResult(job, at, handedTo) };
      params.onStored?.(stored);
      await this.confirmDurable(client, `job ${job.id}`);
      return stored;
    });
  }

  /**
   * One due job without a uniqueKey, stored by `statement` (insertAndClaim,
   * insertHandingOff; `extra` are its own params) queued, or claimed for the
   * worker it was handed to, under a new lease token.
   */
  private async insertClaimed(
    client: pg.PoolClient,
    statement: string,
    job: JobInsert,
    now: number | null,
    extra: unknown[] = [],
  ): Promise<{ at: number; handedTo: { leaseMs: number; workerId: string } | null; token: string }> {
    const token = randomUUID();
    const [row] = await this.query<{ created_at: number | string; lease_ms: number | string | null; status: "queued" | "running"; worker_id: string | null }>(
      client,
      statement,
      [now, job.id, job.queue, job.priority, job.type, job.payloadJson, job.maxAttempts, job.timeoutMs, job.owner, token, this.channel, ...extra],
    );
    const handedTo = row!.status === "running" ? { leaseMs: Number(row!.lease_ms), workerId: row!.worker_id! } : null;
    return { at: num(row!.created_at), handedTo, token };
  }

  async waitersPut(params: { leaseMs: number; queues: readonly { free: number; queue: string }[]; ttlMs: number; workerId: string }): Promise<boolean> {
    // A worker whose process does not hear its channel now waits nowhere: a job sent to it would sit until its lease expired.
    const listenerPid = this.notifier.listenerPid;
    const listening = listenerPid !== null;
    if (listening && params.queues.some((q) => q.free > 0)) this.waitingWorkers.add(params.workerId);
    await this.withClient(this.queryTimeoutMs, (client) =>
      this.query(client, this.sql.waitersPut, [
        null,
        params.workerId,
        this.handOffChannel,
        params.queues.map((q) => q.queue),
        params.queues.map((q) => (listening ? q.free : 0)),
        params.leaseMs,
        params.ttlMs,
        listenerPid ?? 0,
      ]),
    );
    return listening;
  }

  async waitersDelete(params: { workerId: string }): Promise<void> {
    await this.withClient(this.queryTimeoutMs, (client) => this.query(client, this.sql.waitersDelete, [[params.workerId]]));
    this.waitingWorkers.delete(params.workerId);
  }

  /** The listener is down: this process's workers wait nowhere until they write their rows again. Never throws. */
  private async waitersGone(): Promise<void> {
    if (this.waitingWorkers.size === 0 || this.closed) return;
    const ids = [...this.waitingWorkers];
    await this.withClient(this.enqueueTimeoutMs, (client) => this.query(client, this.sql.waitersDelete, [ids])).catch((error: unknown) =>
      this.logger?.warn({ err: briefError(error) }, "could not remove this process's waiting workers; their rows expire by themselves"),
    );
  }

  private async insertOn(client: Queryable, jobs: readonly JobInsert[], now: number | null, named: boolean, statement = this.sql.insert): Promise<JobInsertResult[]> {
    const results: (JobInsertResult | undefined)[] = new Array(jobs.length);
    let pending = jobs.map((job, index) => ({ index, job }));
    // A holder of a unique key can finish between the insert and the lookup; then the job is stored on the next round.
    for (let round = 0; pending.length > 0; round++) {
      if (round === 5) throw new OffloadError("OFFLOAD_ERR_DATABASE", "Could not store the jobs: their unique keys kept changing hands; try again");
      const c = pending.map((p) => p.job);
      const rows = await this.query<Pick<Row, "created_at" | "id" | "run_at"> & { status: "queued" | "scheduled" }>(
        client,
        statement,
        [
          now,
          c.map((j) => j.id),
          c.map((j) => j.type),
          c.map((j) => j.queue),
          c.map((j) => j.priority),
          c.map((j) => j.payloadJson),
          c.map((j) => j.maxAttempts),
          c.map((j) => j.timeoutMs),
          c.map((j) => j.owner),
          c.map((j) => j.uniqueKey),
          c.map((j) => j.runAt),
          c.map((j) => j.delayMs ?? null),
          this.channel,
        ],
        named,
      );
      const stored = new Map(rows.map((row) => [row.id, row]));
      const missing: typeof pending = [];
      for (const p of pending) {
        const row = stored.get(p.job.id);
        if (row) results[p.index] = { deduplicated: false, job: insertedRecord(p.job, { createdAt: num(row.created_at), runAt: num(row.run_at), status: row.status }) };
        else missing.push(p);
      }
      if (missing.length === 0) break;
      const holders = await this.query<Row & { now: number | string }>(
        client,
        this.sql.findUnfinishedByKeys,
        [now, missing.map((p) => p.job.type), missing.map((p) => p.job.uniqueKey)],
        named,
      );
      const byKey = new Map(holders.map((row) => [`${row.type}\u0000${row.unique_key}`, row]));
      pending = [];
      for (const p of missing) {
        const holder = byKey.get(`${p.job.type}\u0000${p.job.uniqueKey}`);
        if (holder) results[p.index] = { deduplicated: true, job: toRecord(holder, num(holder.now)) };
        else pending.push(p);
      }
    }
    return results as JobInsertResult[];
  }

  async jobGet(params: { id: string; now?: number }): Promise<JobRecord | null> {
    if (!UUID.test(params.id)) return null;
    return this.withClient(this.queryTimeoutMs, async (client) => {
      const [row] = await this.query<Row & { now: number }>(client, this.sql.getWithClock, [params.now ?? null, params.id]);
      return row && row.id !== null ? toRecord(row, num(row.now)) : null;
    });
  }

  async jobList(params: { cursor?: string | null; filter: JobListFilter; limit: number; now?: number }): Promise<JobListResult> {
    const where: string[] = [];
    const args: unknown[] = [params.now ?? null];
    const arg = (value: unknown) => {
      args.push(value);
      return `$${args.length}`;
    };
    const { filter } = params;
    if (filter.status === "queued") where.push("(j.status = 'queued' OR (j.status = 'scheduled' AND j.run_at <= c.now))");
    else if (filter.status === "scheduled") where.push("j.status = 'scheduled' AND j.run_at > c.now");
    else if (filter.status !== undefined) where.push(`j.status = ${arg(filter.status)}`);
    for (const column of ["owner", "queue", "type"] as const) {
      if (filter[column] !== undefined) where.push(`j.${column} = ${arg(filter[column])}`);
    }
    if (params.cursor) where.push(`j.id < ${arg(decodeCursor(params.cursor))}::uuid`);
    const limit = arg(params.limit + 1);
    const text = `SELECT j.*, c.now FROM ${this.quotedSchema}.jobs j, (${this.sql.now}) c ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY j.id DESC LIMIT ${limit}`;
    const rows = await this.withClient(this.queryTimeoutMs, (client) => this.query<Row & { now: number }>(client, text, args));
    const page = rows.slice(0, params.limit);
    const last = page[page.length - 1];
    return {
      items: page.map((row) => toRecord(row, num(row.now))),
      nextCursor: rows.length > params.limit && last ? encodeCursor(last.id) : null,
    };
  }

  async jobClaim(params: ClaimParams): Promise<ClaimedJob[]> {
    const wanted = params.queues.filter((q) => q.limit > 0);
    if (wanted.length === 0) return [];
    return this.withClaimSession(this.queryTimeoutMs, (client) => this.claimOn(client, params));
  }

  async jobAckAndClaim(params: { acks: JobAck[]; claim: ClaimParams; deleteCompleted?: boolean; now?: number }): Promise<{ acks: JobAckResult[]; claimed: ClaimedJob[] }> {
    const deleting = params.deleteCompleted === true;
    const now = params.now ?? params.claim.now;
    const claim = { ...params.claim, now };
    if (params.acks.length === 0) return { acks: [], claimed: await this.jobClaim(claim) };
    const wanted = claim.queues.some((q) => q.limit > 0);
    // A release or an immediate retry makes its job claimable at once, and the claim must see it:
    // two statements in a transaction. Otherwise (nearly always) one statement does both.
    const readies = params.acks.some((a) => a.outcome === "released" || (a.outcome === "retry" && a.delayMs <= 0));
    if (!wanted) return { acks: await this.jobAckMany({ acks: params.acks, deleteCompleted: deleting, ...(now === undefined ? {} : { now }) }), claimed: [] };
    if (readies) {
      // The claim here shares the acks' transaction: it must not turn off the flush their commit waits for.
      return this.transaction(this.queryTimeoutMs, async (client) => {
        const acks = await this.ackOn(client, params.acks, now ?? null, deleting);
        return { acks, claimed: await this.claimOn(client, claim, this.sql.claimInTransaction) };
      });
    }
    const { batch, results } = this.ackBatch(params.acks, deleting);
    const queues = claim.queues.filter((q) => q.limit > 0);
    const token = randomUUID();
    const [row] = await this.withClient(this.queryTimeoutMs, (client) =>
      this.query<{ acks: [number, JobState][]; claimed: ClaimedRow[] }>(client, deleting ? this.sql.ackAndClaimDeleting : this.sql.ackAndClaim, [
        now ?? null,
        batch ?? "[]",
        queues.map((q) => q.queue),
        queues.map((q) => q.limit),
        claim.workerId,
        token,
        claim.leaseMs,
      ]),
    );
    for (const [i, status] of row!.acks) results[i] = { applied: true, id: params.acks[i]!.id, status };
    return { acks: results, claimed: this.toClaimed(row!.claimed, claim, token) };
  }

  private async claimOn(client: Queryable, params: ClaimParams, statement = this.sql.claim): Promise<ClaimedJob[]> {
    const wanted = params.queues.filter((q) => q.limit > 0);
    const token = randomUUID();
    const rows = await this.query<ClaimedRow>(client, statement, [
      params.now ?? null,
      wanted.map((q) => q.queue),
      wanted.map((q) => q.limit),
      params.workerId,
      token,
      params.leaseMs,
    ]);
    return this.toClaimed(rows, params, token);
  }

  /**
   * The claimed rows as jobs, in claim order. They mostly come back in it
   * already (a queue's ready rows lie in the table in the order they were
   * enqueued): one pass checks, and only rows out of order are sorted.
   */
  private toClaimed(rows: ClaimedRow[], params: ClaimParams, token: string): ClaimedJob[] {
    const claimed = rows.map((row) => claimedFromRow(row, params.leaseMs, params.workerId, token));
    for (let i = 1; i < claimed.length; i++) {
      if (claimOrder(claimed[i - 1]!, claimed[i]!) > 0) return claimed.sort(claimOrder);
    }
    return claimed;
  }

  /**
   * Opening a connection costs the server about 15 ms of CPU here, and a
   * connection's first claim and first ack about 14 and 5 ms more (catalog
   * lookups, then the generic plan, made once per connection and statement),
   * against 4-5 ms for a claim of 500 jobs afterwards. A worker that left
   * this to its first claims paid it while its jobs waited: three or four
   * connections for each process, on a server that its workers keep busy.
   * A prepared statement is planned at its first execution, so each
   * connection runs a claim with a limit of 0 and an ack of no job: both
   * write nothing.
   */
  async workerWarmUp(params: { connections: number; deleteCompleted: boolean; queues: readonly string[] }): Promise<void> {
    const queues = [...params.queues];
    const count = Math.max(1, Math.min(params.connections, this.pool.options.max ?? 1));
    const ack = params.deleteCompleted ? this.sql.ackCompletedDeleting : this.sql.ackCompleted;
    // Every pool.connect() is called in this turn, so the connections are distinct ones, opened side by side.
    await Promise.all([
      this.notifier.whenListening(this.queryTimeoutMs),
      ...Array.from({ length: count }, () =>
        this.withClient(this.queryTimeoutMs, async (client) => {
          await this.query(client, this.sql.claim, [null, queues, queues.map(() => 0), "warm-up", randomUUID(), 1]);
          await this.query(client, ack, [null, "[]", 0]);
        }),
      ),
    ]);
  }

  async jobAckMany(params: { acks: JobAck[]; deleteCompleted?: boolean; now?: number }): Promise<JobAckResult[]> {
    if (params.acks.length === 0) return [];
    return this.withClient(this.queryTimeoutMs, (client) => this.ackOn(client, params.acks, params.now ?? null, params.deleteCompleted === true));
  }

  /**
   * Writes a batch of acks on `client`: by ackCompleted when every one
   * completes (the worker's steady state), else by ack. Only the first ack of
   * each lease is sent (FirstAckOfLease); the others report not applied.
   * `deleting`: completed jobs are deleted (Backend.jobAckMany).
   */
  private async ackOn(client: Queryable, acks: readonly JobAck[], now: number | null, deleting: boolean): Promise<JobAckResult[]> {
    if (acks.every((a) => a.outcome === "completed")) {
      const { batch, sent } = completedAckBatch(acks, deleting);
      if (sent === null) return acks.map((a) => ({ applied: false, id: a.id, status: null }));
      const statement = deleting ? this.sql.ackCompletedDeleting : this.sql.ackCompleted;
      const [row] = await this.query<{ applied: number[] | null }>(client, statement, [now, batch, sent.length]);
      return completedResults(acks, row!.applied ?? sent);
    }
    const { batch, results } = this.ackBatch(acks, deleting);
    if (batch === null) return results;
    const rows = await this.query<{ i: number; status: JobState }>(client, deleting ? this.sql.ackDeleting : this.sql.ack, [now, batch]);
    for (const row of rows) results[row.i] = { applied: true, id: acks[row.i]!.id, status: row.status };
    return results;
  }

  /**
   * The acks as the statements take them, and their results as if none
   * applied. Acks apply in order; a lease is finished by its first ack, so
   * later acks of the same lease are sent nowhere and reported as not
   * applied, exactly as one statement per ack would have them.
   */
  private ackBatch(acks: readonly JobAck[], deleting: boolean): { batch: string | null; results: JobAckResult[] } {
    const once = new FirstAckOfLease();
    const items: string[] = [];
    const results: JobAckResult[] = new Array(acks.length);
    for (let i = 0; i < acks.length; i++) {
      const ack = acks[i]!;
      results[i] = { applied: false, id: ack.id, status: null };
      if (!once.first(ack)) continue;
      // Written as JSON text directly: the result already is JSON text (JobAck.resultJson), and parsing
      // it only to serialise it again cost about 2 % of a worker's time on no-op jobs. A job deleted at
      // completion keeps neither its result nor its progress.
      const deleted = deleting && ack.outcome === "completed";
      items.push(
        `{"i":${i},"id":"${ack.id}","token":${JSON.stringify(ack.leaseToken)},"outcome":"${ack.outcome}",` +
          `"result":${ack.outcome === "completed" && !deleted ? ack.resultJson : "null"},` +
          `"error":${"error" in ack && ack.error ? JSON.stringify(ack.error) : "null"},` +
          `"delay_ms":${ack.outcome === "retry" ? JSON.stringify(ack.delayMs) : "null"},` +
          `"progress":${ack.progress && !deleted ? JSON.stringify(ack.progress) : "null"}}`,
      );
    }
    return { batch: items.length === 0 ? null : `[${items.join(",")}]`, results };
  }

  async jobHeartbeatMany(params: { leaseMs: number; leases: readonly Lease[]; now?: number; workerId: string }): Promise<JobHeartbeatResult[]> {
    if (params.leases.length === 0) return [];
    const leases = params.leases.filter((l) => UUID.test(l.id));
    const rows =
      leases.length === 0
        ? []
        : await this.withClient(this.queryTimeoutMs, (client) =>
            this.query<{ cancel_requested: boolean; id: string; lease_token: string }>(client, this.sql.heartbeat, [
              params.now ?? null,
              leases.map((l) => l.id),
              leases.map((l) => l.leaseToken),
              params.leaseMs,
            ]),
          );
    const renewed = new Map(rows.map((r) => [`${r.id} ${r.lease_token}`, r.cancel_requested]));
    return params.leases.map(({ id, leaseToken }) => {
      const cancel = renewed.get(`${id} ${leaseToken}`);
      return { cancelRequested: cancel === true, id, renewed: cancel !== undefined };
    });
  }

  async jobProgressMany(params: { now?: number; updates: readonly (Lease & { progress: JobProgress })[] }): Promise<string[]> {
    const updates = params.updates.filter((u) => UUID.test(u.id));
    if (updates.length === 0) return [];
    const rows = await this.withClient(this.queryTimeoutMs, (client) =>
      this.query<{ id: string; lease_token: string }>(client, this.sql.progress, [
        params.now ?? null,
        updates.map((u) => u.id),
        updates.map((u) => u.leaseToken),
        updates.map((u) => JSON.stringify(u.progress)),
      ]),
    );
    const written = new Set(rows.map((r) => `${r.id} ${r.lease_token}`));
    return params.updates.filter((u) => written.has(`${u.id} ${u.leaseToken}`)).map((u) => u.id);
  }

  async jobCancel(params: { id: string; now?: number }): Promise<JobCancelResult | null> {
    if (!UUID.test(params.id)) return null;
    const now = params.now ?? null;
    // Each statement is atomic on its own; between them the job can only move on (queued -> running -> finished),
    // and the next statement sees where it went.
    return this.withClient(this.queryTimeoutMs, async (client) => {
      const [cancelled] = await this.query<Row>(client, this.sql.cancelWaiting, [now, params.id]);
      if (cancelled) return { job: toRecord(cancelled, null), outcome: "cancelled" as const };
      const [requested] = await this.query<Row>(client, this.sql.requestCancel, [now, params.id, this.cancelChannel]);
      if (requested) return { job: toRecord(requested, null), outcome: "requested" as const };
      const [row] = await this.query<Row>(client, this.sql.getById, [params.id]);
      return row ? { job: toRecord(row, null), outcome: "finished" as const } : null;
    });
  }

  async jobRetry(params: { id: string; now?: number }): Promise<JobRecord | null> {
    if (!UUID.test(params.id)) return null;
    return this.withClient(this.queryTimeoutMs, async (client) => {
      let row: Row | undefined;
      try {
        [row] = await this.query<Row>(client, this.sql.retry, [params.now ?? null, params.id, this.channel]);
      } catch (error) {
        if ((error as { code?: string }).code !== "23505") throw error;
        // A newer unfinished job holds this job's uniqueKey.
        const [job] = await this.query<Row>(client, this.sql.getById, [params.id]);
        const [holder] = job ? await this.query<Row>(client, this.sql.findUnfinishedByKeys, [null, [job.type], [job.unique_key]]) : [];
        throw new OffloadError(
          "OFFLOAD_ERR_INVALID_STATE",
          `Job ${params.id} cannot be retried: job ${holder?.id ?? "?"} (${holder?.status ?? "unfinished"}) holds its uniqueKey ${JSON.stringify(job?.unique_key)}; retry it once that job has finished`,
          { details: { status: job?.status, uniqueKeyHeldBy: holder?.id } },
        );
      }
      if (row) return toRecord(row, null);
      const [existing] = await this.query<Row>(client, this.sql.getById, [params.id]);
      if (!existing) return null;
      throw new OffloadError("OFFLOAD_ERR_INVALID_STATE", `Job ${params.id} is ${existing.status}: only failed or cancelled jobs can be retried`, {
        details: { status: existing.status },
      });
    });
  }

  async jobDelete(params: { id: string }): Promise<boolean> {
    if (!UUID.test(params.id)) return false;
    return this.withClient(this.queryTimeoutMs, async (client) => {
      const [deleted] = await this.query<{ n: number }>(client, this.sql.deleteFinished, [params.id]);
      if (deleted?.n === 1) return true;
      const [existing] = await this.query<Row>(client, this.sql.getById, [params.id]);
      if (!existing) return false;
      throw new OffloadError("OFFLOAD_ERR_INVALID_STATE", `Job ${params.id} is ${existing.status}: only finished jobs can be deleted`, {
        details: { status: existing.status },
      });
    });
  }

  async jobRescueExpired(params: { limit: number; now?: number }): Promise<JobRescueResult> {
    const rows = await this.withClient(this.queryTimeoutMs, (client) => this.query<Row>(client, this.sql.rescueExpired, [params.now ?? null, params.limit, this.channel]));
    const result: JobRescueResult = { cancelled: [], failed: [], requeued: [] };
    for (const row of rows) {
      const record = toRecord(row, null);
      if (record.status === "queued") result.requeued.push(record);
      else if (record.status === "failed") result.failed.push(record);
      else result.cancelled.push(record);
    }
    return result;
  }

  async jobPrune(params: { ages: PruneAges; limit: number; now?: number }): Promise<number> {
    return this.withClient(this.queryTimeoutMs, async (client) => {
      let deleted = 0;
      for (const status of ["completed", "failed", "cancelled"] as const) {
        if (deleted >= params.limit) break;
        const [result] = await this.query<{ n: number }>(client, this.sql.prune, [params.now ?? null, status, params.ages[status], params.limit - deleted]);
        deleted += result?.n ?? 0;
      }
      // Statistics windows older than an hour, expired idempotency keys: kept small along the way.
      await this.query(client, this.sql.pruneSide, [params.now ?? null]);
      return deleted;
    });
  }

  async queueThroughput(params: { minutes: number; now?: number }): Promise<QueueThroughputSeries> {
    const rows = await this.withClient(this.queryTimeoutMs, async (client) => {
      const now = params.now ?? num((await this.query<{ now: number }>(client, this.sql.now, [null]))[0]!.now)!;
      const buckets = minuteBuckets(now, params.minutes);
      const found = await this.query<{ bucket: number | string; completed: number | string; failed: number | string; queue: string; wait_ms: number | string }>(
        client,
        this.sql.queueStatsSince,
        [buckets[0]],
      );
      return { buckets, found };
    });
    return foldThroughput(
      rows.buckets,
      rows.found.map((r) => ({ bucket: num(r.bucket)!, completed: num(r.completed)!, failed: num(r.failed)!, queue: r.queue, waitMs: num(r.wait_ms)! })),
    );
  }

  async jobRunNow(params: { id: string; now?: number }): Promise<JobRecord | null> {
    if (!UUID.test(params.id)) return null;
    return this.withClient(this.queryTimeoutMs, async (client) => {
      const [row] = await this.query<Row>(client, this.sql.runNow, [params.now ?? null, params.id, this.channel]);
      if (row) return toRecord(row, null);
      const [existing] = await this.query<Row>(client, this.sql.getById, [params.id]);
      if (!existing) return null;
      const status = toRecord(existing, params.now ?? null).status;
      throw new OffloadError("OFFLOAD_ERR_INVALID_STATE", `Job ${params.id} is ${status}: only scheduled jobs can be run now`, { details: { status } });
    });
  }

  async workerBeat(params: { now?: number; staleMs: number; worker: WorkerInfo }): Promise<void> {
    const { host, id, pid, queues, startedAt } = params.worker;
    await this.withClient(this.queryTimeoutMs, (client) =>
      this.query(client, this.sql.workerBeat, [params.now ?? null, id, host, pid, JSON.stringify(queues), startedAt, params.staleMs]),
    );
  }

  async workerGone(params: { id: string }): Promise<void> {
    await this.withClient(this.queryTimeoutMs, (client) => this.query(client, this.sql.workerDelete, [params.id]));
  }

  async workerList(params: { now?: number; runningLimit: number; withinMs: number }): Promise<WorkerStatus[]> {
    const [row] = await this.withClient(this.queryTimeoutMs, (client) =>
      this.query<{ running: RunningRow[]; workers: WorkerRow[] }>(client, this.sql.workerList, [params.now ?? null, params.withinMs, params.runningLimit]),
    );
    return workerStatuses(row!.workers, row!.running);
  }

  async queuePause(params: { now?: number; queue: string }): Promise<QueueState> {
    const [row] = await this.withClient(this.queryTimeoutMs, (client) =>
      this.query<{ paused_at: number | string; queue: string }>(client, this.sql.queuePause, [params.now ?? null, params.queue]),
    );
    return { paused: true, pausedAt: num(row!.paused_at), queue: row!.queue };
  }

  async queueResume(params: { now?: number; queue: string }): Promise<QueueState> {
    await this.withClient(this.queryTimeoutMs, (client) => this.query(client, this.sql.queueResume, [params.now ?? null, params.queue]));
    return { paused: false, pausedAt: null, queue: params.queue };
  }

  async queueStats(params: { now?: number } = {}): Promise<QueueStats[]> {
    const rows = await this.withClient(this.queryTimeoutMs, async (client) => {
      // The windows are cut by the database's clock unless a test injects one.
      const now = params.now ?? num((await this.query<{ now: number }>(client, this.sql.now, [null]))[0]!.now);
      return this.query<StatsRow>(client, this.sql.queueStats, [now, now - MINUTE_MS - STATS_BUCKET_MS, now - HOUR_MS - STATS_BUCKET_MS]);
    });
    const stats = new QueueStatsCollector();
    for (const row of rows) {
      const n = num(row.n) ?? 0;
      switch (row.kind) {
        case "queued":
        case "due": // a due scheduled job not yet claimed is, to anyone looking, queued
          stats.addReady(row.queue, n, num(row.oldest)!);
          break;
        case "scheduled":
          stats.entry(row.queue).counts.scheduled += n;
          break;
        case "state":
          stats.entry(row.queue).counts[row.status!] += n;
          break;
        case "completed":
          if (n !== 0) stats.entry(row.queue).counts.completed += n;
          break;
        case "windows": {
          const [cm, fm, ch, fh, wm, wh] = [row.a, row.b, row.cc, row.d, row.wm, row.wh].map((v) => num(v) ?? 0) as [number, number, number, number, number, number];
          if (ch === 0 && fh === 0) break;
          const queue = stats.entry(row.queue);
          queue.lastMinute = { completed: cm, failed: fm, waitMs: wm };
          queue.lastHour = { completed: ch, failed: fh, waitMs: wh };
          break;
        }
        case "paused":
          stats.entry(row.queue).paused = true;
          break;
      }
    }
    return stats.list();
  }

  async jobInsertIdempotent(params: { idempotency: IdempotencyKey; job: JobInsert; now?: number }): Promise<JobInsertIdempotentResult> {
    const { fingerprint, key, scope, ttlMs } = params.idempotency;
    const now = params.now ?? null;
    return this.transaction(this.enqueueTimeoutMs, async (client): Promise<JobInsertIdempotentResult> => {
      // Two requests with one key wait for each other here: the second sees what the first stored.
      await client.query("SELECT pg_advisory_xact_lock($1, hashtext($2))", [IDEMPOTENCY_LOCK_CLASS, JSON.stringify([scope, key])]);
      const [seen] = await this.query<{ deduplicated: boolean; expires_at: number | string; fingerprint: string; job_id: string }>(client, this.sql.idempotencyGet, [scope, key]);
      const [clock] = await this.query<{ now: number | string }>(client, this.sql.now, [now]);
      const at = num(clock!.now);
      if (seen && num(seen.expires_at) > at) {
        const [row] = await this.query<Row>(client, this.sql.getById, [seen.job_id]);
        // A key whose job was deleted (by hand or by the pruner) is forgotten: the request stores a new job.
        if (row) {
          if (seen.fingerprint !== fingerprint) return { jobId: seen.job_id, outcome: "conflict" };
          return { deduplicated: seen.deduplicated, job: toRecord(row, at), outcome: "replayed" };
        }
      }
      const [stored] = await this.insertOn(client, [params.job], now, true);
      // Deduplicated onto another owner's job: nothing of this request is stored, its key included.
      if (stored!.deduplicated && stored!.job.owner !== params.job.owner) return { deduplicated: true, job: stored!.job, outcome: "stored" };
      await this.query(client, this.sql.idempotencyPut, [now, scope, key, fingerprint, stored!.job.id, stored!.deduplicated, ttlMs]);
      return { deduplicated: stored!.deduplicated, job: stored!.job, outcome: "stored" };
    });
  }

  async queueCounts(params: { now?: number } = {}): Promise<QueueCounts[]> {
    const rows = await this.withClient(this.queryTimeoutMs, (client) =>
      this.query<{ due: boolean; n: number; queue: string; status: JobState }>(client, this.sql.queueCounts, [params.now ?? null]),
    );
    const byQueue = new Map<string, QueueCounts>();
    for (const row of rows) {
      let entry = byQueue.get(row.queue);
      if (!entry) {
        entry = { counts: zeroCounts(), queue: row.queue };
        byQueue.set(row.queue, entry);
      }
      // Due scheduled jobs count as queued, as in every other view.
      entry.counts[row.due ? "queued" : row.status] += row.n;
    }
    return [...byQueue.values()].sort((a, b) => a.queue.localeCompare(b.queue));
  }
}

/** An error the server sent (it has a SQLSTATE): the connection itself is fine. */
function isServerError(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" && /^[0-9A-Z]{5}$/.test(code) && !code.startsWith("08") && !code.startsWith("57P");
}
