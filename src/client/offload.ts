import type { StandardSchemaV1 } from "@standard-schema/spec";
import { z } from "zod";
import type { Backend } from "../backend/backend.js";
import type { ClaimedJob, JobInsert, JobInsertResult, JobListFilter, MigrationStatus, QueueState } from "../backend/types.js";
import { canHandOff } from "../backend/inserted-record.js";
import { DEFAULT_DATABASE, openBackend, type PostgresOptions } from "../backends/open-backend.js";
import { OffloadError, validationError, type ValidationIssue } from "../errors.js";
import {
  resolveDefinition,
  validatePayload,
  validatePayloadSync,
  type JobHandler,
  type JobTypeDefinition,
  type JobTypeOptions,
  type PayloadCheck,
} from "../job/definition.js";
import { JOB_STATES, type JobState } from "../job/states.js";
import { durationSchema, MAX_TIMER_MS, nameSchema, parseInput, tokenStringSchema } from "../job/validate.js";
import { toJobView, type EnqueuedJob, type JobView } from "../job/view.js";
import { OffloadEventBus, type OffloadEventName, type OffloadEvents } from "../observability/events.js";
import { createDefaultLogger, createSilentLogger, type Logger } from "../observability/logger.js";
import { Worker } from "../worker/worker.js";
import { resolveWorkerOptions, type WorkerOptions } from "../worker/worker-options.js";
import { buildInsert, parseEnqueueOptions, payloadToJson, type EnqueueOptions, type ParsedEnqueueOptions, type SyncEnqueueOptions } from "./enqueue-options.js";
import {
  DEFAULT_IDEMPOTENCY_TTL_MS,
  idempotencyOptionsSchema,
  requestFingerprint,
  summarizeQueues,
  throughputHistory,
  workerView,
  type IdempotencyOptions,
  type QueueSummary,
  type QueueThroughputHistory,
  type WorkerView,
} from "./queue-controls.js";
import { PRESENCE_ALIVE_MS } from "../worker/presence.js";

const throughputOptionsSchema = z.object({ minutes: z.number().int().min(1).max(60).optional() }).strict();

/** Options of {@link createOffload}. */
export interface OffloadOptions {
  /**
   * Where jobs are stored: `sqlite:<path>` or `postgres://user@host:5432/database`
   * (PostgreSQL settings may also be URL parameters: `?schema=jobs&poolSize=20`).
   * Default: env `OFFLOAD_DATABASE`, else `sqlite:./data/offload.db`.
   */
  database?: string;
  /** A pino logger, or `false` for none. Default: JSON lines on stderr at `OFFLOAD_LOG_LEVEL` (default `info`). */
  logger?: Logger | false;
  /** PostgreSQL settings: schema (default `offload`), pool size (default 10), timeouts. Ignored on SQLite. */
  postgres?: PostgresOptions;
}

/** A defined job type: enqueue typed payloads of it. */
export interface JobType<Input = unknown, Result = unknown> {
  readonly name: string;
  readonly queue: string;
  /**
   * Validates and stores one job. Resolves once it is durably stored; with
   * `{ tx }`, once it is written in that transaction (it exists if and only
   * if the transaction commits).
   */
  enqueue(payload: Input, options?: EnqueueOptions): Promise<EnqueuedJob<Input, Result>>;
  /** Validates every payload first, then stores them all in one transaction; results in order. */
  enqueueMany(payloads: readonly Input[], options?: EnqueueOptions): Promise<EnqueuedJob<Input, Result>[]>;
  /**
   * SQLite: stores one job synchronously inside the application's own
   * better-sqlite3 transaction, `{ tx: db }`, as `db.transaction()` requires
   * (it cannot span an `await`). The Offload instance must be opened first
   * (`await offload.migrate()`).
   */
  enqueueSync(payload: Input, options: SyncEnqueueOptions): EnqueuedJob<Input, Result>;
  /** `enqueueSync` for many payloads, in order. */
  enqueueManySync(payloads: readonly Input[], options: SyncEnqueueOptions): EnqueuedJob<Input, Result>[];
}

/** Filters and paging of {@link Offload.listJobs}. */
export interface ListJobsParams {
  /** `nextCursor` of the previous page. */
  cursor?: string | null;
  /** 1 to 500. Default 50. */
  limit?: number;
  owner?: string;
  queue?: string;
  status?: JobState;
  type?: string;
}

const listParamsSchema = z
  .object({
    cursor: z.string().max(200).nullable().optional(),
    limit: z.number().int().min(1).max(500).optional(),
    owner: tokenStringSchema.optional(),
    queue: nameSchema.optional(),
    status: z.enum(JOB_STATES).optional(),
    type: nameSchema.optional(),
  })
  .strict();

const offloadOptionsSchema = z
  .object({
    database: z.string().min(1).optional(),
    logger: z.union([z.literal(false), z.custom<Logger>((v) => typeof v === "object" && v !== null && typeof (v as Logger).info === "function", "expected a pino logger")]).optional(),
    postgres: z
      .object({
        connectTimeoutMs: z.number().int().min(1).max(600_000).optional(),
        enqueueTimeoutMs: z.number().int().min(1).max(600_000).optional(),
        poolSize: z.number().int().min(1).max(1_000).optional(),
        queryTimeoutMs: z.number().int().min(1).max(3_600_000).optional(),
        schema: z
          .string()
          .regex(/^[a-z_][a-z0-9_]{0,62}$/, "expected lower-case letters, digits and _ (at most 63, not starting with a digit)")
          .optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

const idSchema = z.string().min(1).max(100);

const stopOptionsSchema = z
  .object({ grace: durationSchema.refine((ms) => ms <= MAX_TIMER_MS, `must be at most ${MAX_TIMER_MS}ms (about 24.8 days)`).optional() })
  .strict();

/**
 * One Offload instance: job types, the client API and, after `start()`, a
 * worker. Create it with {@link createOffload}.
 */
export class Offload {
  readonly logger: Logger;
  /** The database URL in use. */
  readonly database: string;
  private readonly types = new Map<string, JobTypeDefinition>();
  private readonly events: OffloadEventBus;
  private backendPromise: Promise<Backend> | null = null;
  /** The opened engine, once `backendPromise` has resolved: for the synchronous enqueue. */
  private opened: Backend | null = null;
  private readonly postgres: PostgresOptions | undefined;
  private worker: Worker | null = null;
  private closed = false;
  private migration: MigrationStatus | null = null;
  private starting: Promise<void> | null = null;
  private closing = false;

  constructor(options: OffloadOptions = {}) {
    const parsed = parseInput(offloadOptionsSchema, options, "Offload options", "options");
    this.database = parsed.database ?? process.env.OFFLOAD_DATABASE ?? DEFAULT_DATABASE;
    this.logger = parsed.logger === false ? createSilentLogger() : (parsed.logger ?? createDefaultLogger());
    this.postgres = parsed.postgres;
    this.events = new OffloadEventBus((event, error) => this.logger.error({ err: error, event }, "event listener threw"));
  }

  /**
   * Opens the database and applies migrations, once; every other method calls it.
   * @internal The storage engine itself, for Offload's own tests and tools; not a stable API.
   */
  async backend(): Promise<Backend> {
    if (this.closed) throw new OffloadError("OFFLOAD_ERR_CLOSED", "This Offload instance has been closed");
    this.backendPromise ??= (async () => {
      let backend: Backend;
      try {
        backend = await openBackend(this.database, { logger: this.logger, postgres: this.postgres });
      } catch (error) {
        if (error instanceof OffloadError) throw error;
        throw new OffloadError("OFFLOAD_ERR_DATABASE", `Cannot open the database ${redactUrl(this.database)}: ${(error as Error).message}`, { cause: error });
      }
      try {
        const status = await backend.migrate();
        if (status.applied.length > 0) this.logger.info(status, "database migrated");
        this.migration = status;
      } catch (error) {
        await backend.close();
        if (error instanceof OffloadError) throw error;
        throw new OffloadError("OFFLOAD_ERR_DATABASE", `Cannot prepare the database ${redactUrl(this.database)}: ${(error as Error).message}`, { cause: error });
      }
      this.opened = backend;
      return backend;
    })();
    try {
      return await this.backendPromise;
    } catch (error) {
      this.backendPromise = null; // let the next call try again
      throw error;
    }
  }

  /**
   * Defines a job type. The payload type is inferred from `options.schema`;
   * the handler's return value is stored as the job's result.
   */
  define<S extends StandardSchemaV1, R>(
    name: string,
    options: JobTypeOptions<S>,
    handler: JobHandler<StandardSchemaV1.InferOutput<S>, R>,
  ): JobType<StandardSchemaV1.InferInput<S>, Awaited<R>> {
    const definition = resolveDefinition(name, options, handler);
    if (this.types.has(definition.name)) {
      throw new OffloadError("OFFLOAD_ERR_DUPLICATE_JOB_TYPE", `Job type "${definition.name}" is already defined`);
    }
    if (this.worker) {
      throw new OffloadError("OFFLOAD_ERR_WORKER_STATE", `Define job type "${definition.name}" before start(): the worker is already running`);
    }
    this.types.set(definition.name, definition);
    return {
      enqueue: (payload, enqueueOptions) => this.enqueue(definition.name, payload, enqueueOptions) as Promise<EnqueuedJob<StandardSchemaV1.InferInput<S>, Awaited<R>>>,
      enqueueMany: (payloads, enqueueOptions) =>
        this.enqueueMany(definition.name, payloads, enqueueOptions) as Promise<EnqueuedJob<StandardSchemaV1.InferInput<S>, Awaited<R>>[]>,
      enqueueManySync: (payloads, enqueueOptions) =>
        this.enqueueManySync(definition.name, payloads, enqueueOptions) as EnqueuedJob<StandardSchemaV1.InferInput<S>, Awaited<R>>[],
      enqueueSync: (payload, enqueueOptions) => this.enqueueSync(definition.name, payload, enqueueOptions) as EnqueuedJob<StandardSchemaV1.InferInput<S>, Awaited<R>>,
      name: definition.name,
      queue: definition.options.queue,
    };
  }

  /** The defined job types, by name. */
  get jobTypes(): ReadonlyMap<string, JobTypeDefinition> {
    return this.types;
  }

  /** Enqueues a job of a type named at run time (the HTTP API and CLI use this). */
  async enqueue(type: string, payload: unknown, options?: EnqueueOptions): Promise<EnqueuedJob> {
    const [job] = await this.store(type, [payload], options, "payload");
    return job!;
  }

  /** Enqueues many jobs of one type in one transaction; nothing is stored unless every payload is valid. */
  enqueueMany(type: string, payloads: readonly unknown[], options?: EnqueueOptions): Promise<EnqueuedJob[]> {
    return this.store(type, payloads, options, "payloads");
  }

  /** SQLite: enqueues a job of a type named at run time inside the application's transaction, synchronously. */
  enqueueSync(type: string, payload: unknown, options: SyncEnqueueOptions): EnqueuedJob {
    return this.storeSync(type, [payload], options, "payload")[0]!;
  }

  /** SQLite: `enqueueSync` for many payloads of one type. */
  enqueueManySync(type: string, payloads: readonly unknown[], options: SyncEnqueueOptions): EnqueuedJob[] {
    return this.storeSync(type, payloads, options, "payloads");
  }

  /** Validates and stores; `path` names the payloads in errors (`payload.x` or `payloads[2].x`). */
  private async store(type: string, payloads: readonly unknown[], options: EnqueueOptions | undefined, path: "payload" | "payloads"): Promise<EnqueuedJob[]> {
    const definition = this.definition(type);
    const { parsed, tx } = parseEnqueueOptions(options);
    const inserts = await this.buildInserts(definition, payloads, parsed, path);
    if (inserts.length === 0) return [];
    const backend = await this.backend();
    if (tx !== undefined) {
      // Nobody hears of these jobs until the application commits: PostgreSQL's NOTIFY and SQLite's
      // commit counter wake the workers then; no event is emitted for a job that may yet roll back.
      return (await backend.jobInsertMany({ jobs: inserts, tx })).map((r) => ({ ...toJobView(r.job), deduplicated: r.deduplicated }));
    }
    const handedOff = await this.storeHandingOff(backend, definition, inserts);
    if (handedOff) return handedOff;
    return this.announce(backend, definition, await backend.jobInsertMany({ jobs: inserts }));
  }

  /**
   * One due job, enqueued where this process's own worker idles on its
   * queue: on engines that can (PostgreSQL), stored and claimed for that
   * worker in one statement, so it starts one round trip sooner. Null when
   * this does not apply; the caller then stores the job as usual.
   */
  private async storeHandingOff(backend: Backend, definition: JobTypeDefinition, inserts: JobInsert[]): Promise<EnqueuedJob[] | null> {
    const worker = this.worker;
    const job = inserts[0]!;
    if (!backend.jobInsertAndClaim || !worker || inserts.length !== 1 || !canHandOff(job)) return null;
    if (!worker.reserve(job.queue)) return null;
    // The job starts as soon as it is committed, while the engine confirms it durable; the enqueue
    // answers after that. Should the confirmation fail, the job runs anyway: it is committed.
    let views: EnqueuedJob[] | null = null;
    const stored = (result: { claimed: ClaimedJob | null; inserted: JobInsertResult }) => {
      views = this.announce(backend, definition, [result.inserted]);
      if (result.claimed) worker.admitReserved(result.claimed);
      else worker.unreserve(job.queue);
    };
    try {
      const result = await backend.jobInsertAndClaim({ job, leaseMs: worker.leaseMs, onStored: stored, workerId: worker.id });
      if (!views) stored(result); // an engine that does not call onStored
    } catch (error) {
      if (!views) worker.unreserve(job.queue);
      throw error;
    }
    return views!;
  }

  /** Validates the payloads (sync or async, as the schema is) and builds the rows to store. */
  private async buildInserts(definition: JobTypeDefinition, payloads: readonly unknown[], parsed: ParsedEnqueueOptions, path: "payload" | "payloads"): Promise<JobInsert[]> {
    checkPayloadList(payloads);
    const jsons = payloads.map((payload, i) => payloadToJson(payload, itemPath(path, i)));
    const checks = await Promise.all(jsons.map((json) => validatePayload(definition.schema, JSON.parse(json))));
    const raw = await Promise.all(checks.map((check, i) => ("issues" in check ? validatePayload(definition.schema, payloads[i]) : null)));
    return insertsFrom(definition, jsons, checks, raw, parsed, path);
  }

  private storeSync(type: string, payloads: readonly unknown[], options: SyncEnqueueOptions, path: "payload" | "payloads"): EnqueuedJob[] {
    const definition = this.definition(type);
    const { parsed, tx } = parseEnqueueOptions(options);
    if (tx === undefined) {
      throw validationError("OFFLOAD_ERR_INVALID_INPUT", "enqueueSync options", [
        { message: "required: the application's better-sqlite3 database, inside a transaction (without one, use enqueue())", path: "options.tx" },
      ]);
    }
    const backend = this.opened;
    if (!backend || this.closed) {
      throw new OffloadError(
        "OFFLOAD_ERR_WORKER_STATE",
        this.closed ? "This Offload instance has been closed" : "enqueueSync needs the database opened first: await offload.migrate() (or start()) once at startup",
      );
    }
    if (!backend.jobInsertManySync) {
      throw new OffloadError(
        "OFFLOAD_ERR_INVALID_INPUT",
        `enqueueSync is for SQLite, whose driver is synchronous; on ${backend.capabilities.engine}, use await enqueue(payload, { tx })`,
      );
    }
    checkPayloadList(payloads);
    const jsons = payloads.map((payload, i) => payloadToJson(payload, itemPath(path, i)));
    const checks = jsons.map((json) => validatePayloadSync(definition.schema, JSON.parse(json), definition.name));
    const raw = checks.map((check, i) => ("issues" in check ? validatePayloadSync(definition.schema, payloads[i], definition.name) : null));
    const inserts = insertsFrom(definition, jsons, checks, raw, parsed, path);
    if (inserts.length === 0) return [];
    return backend.jobInsertManySync({ jobs: inserts, tx }).map((r) => ({ ...toJobView(r.job), deduplicated: r.deduplicated }));
  }

  /** After a committed enqueue: wakes this process's worker and emits `job:enqueued`. */
  private announce(backend: Backend, definition: JobTypeDefinition, results: JobInsertResult[]): EnqueuedJob[] {
    const views: EnqueuedJob[] = results.map((r) => ({ ...toJobView(r.job), deduplicated: r.deduplicated }));
    let ready = false;
    for (const [i, view] of views.entries()) {
      if (view.deduplicated) continue;
      const record = results[i]!.job;
      if (view.status === "queued") ready = true;
      // Relative to the database's clock, which set runAt: this host's clock may differ.
      else if (view.status === "scheduled") this.worker?.wakeAt(Date.now() + (record.runAt - record.createdAt));
      if (this.events.has("job:enqueued")) {
        const { deduplicated: _, ...job } = view;
        this.events.emit("job:enqueued", { id: view.id, job, queue: view.queue, type: view.type });
      }
    }
    if (ready) backend.notifier.notifyJobsReady([definition.options.queue]);
    return views;
  }

  private definition(type: unknown): JobTypeDefinition {
    const name = parseInput(nameSchema, type, "job type", "type");
    const definition = this.types.get(name);
    if (!definition) {
      const known = [...this.types.keys()].sort();
      throw new OffloadError(
        "OFFLOAD_ERR_UNKNOWN_JOB_TYPE",
        `Unknown job type "${name}": ${known.length ? `defined types are ${known.map((k) => `"${k}"`).join(", ")}` : "no job types are defined"}`,
        { details: { type: name } },
      );
    }
    return definition;
  }

  /** The job with this id, or null. */
  async getJob(id: string): Promise<JobView | null> {
    const record = await (await this.backend()).jobGet({ id: parseInput(idSchema, id, "job id", "id") });
    return record && toJobView(record);
  }

  /** Jobs newest first, filtered, a page at a time. */
  async listJobs(params: ListJobsParams = {}): Promise<{ items: JobView[]; nextCursor: string | null }> {
    const p = parseInput(listParamsSchema, params, "list parameters", "params");
    const filter: JobListFilter = { owner: p.owner, queue: p.queue, status: p.status, type: p.type };
    const page = await (await this.backend()).jobList({ cursor: p.cursor ?? null, filter, limit: p.limit ?? 50 });
    return { items: page.items.map((r) => toJobView(r)), nextCursor: page.nextCursor };
  }

  /**
   * Cancels a job. A scheduled or queued job is cancelled at once; a running
   * one gets `cancelRequested`, its signal aborts, and it ends `cancelled`.
   * Throws `OFFLOAD_ERR_INVALID_STATE` for a finished job.
   */
  async cancel(id: string): Promise<JobView> {
    const result = await (await this.backend()).jobCancel({ id: parseInput(idSchema, id, "job id", "id") });
    if (!result) throw new OffloadError("OFFLOAD_ERR_JOB_NOT_FOUND", `No job has id ${id}`);
    const { job } = result;
    if (result.outcome === "finished") {
      throw new OffloadError("OFFLOAD_ERR_INVALID_STATE", `Job ${id} is already ${job.status}: only scheduled, queued or running jobs can be cancelled`, {
        details: { status: job.status },
      });
    }
    if (result.outcome === "cancelled") this.events.emit("job:cancelled", { attempt: job.attempt, id: job.id, queue: job.queue, type: job.type });
    else this.worker?.cancelLocal(job.id);
    return toJobView(job);
  }

  /** Runs a failed or cancelled job again, with a fresh set of attempts. */
  async retry(id: string): Promise<JobView> {
    const backend = await this.backend();
    const record = await backend.jobRetry({ id: parseInput(idSchema, id, "job id", "id") });
    if (!record) throw new OffloadError("OFFLOAD_ERR_JOB_NOT_FOUND", `No job has id ${id}`);
    backend.notifier.notifyJobsReady([record.queue]);
    return toJobView(record);
  }

  /**
   * Runs a scheduled job now: its delay (or retry backoff) is skipped and
   * the next claim takes it. Throws `OFFLOAD_ERR_JOB_NOT_FOUND` for unknown
   * ids and `OFFLOAD_ERR_INVALID_STATE` for jobs that are not scheduled.
   */
  async runNow(id: string): Promise<JobView> {
    const backend = await this.backend();
    const record = await backend.jobRunNow({ id: parseInput(idSchema, id, "job id", "id") });
    if (!record) throw new OffloadError("OFFLOAD_ERR_JOB_NOT_FOUND", `No job has id ${id}`);
    backend.notifier.notifyJobsReady([record.queue]);
    return toJobView(record);
  }

  /** Deletes a finished job. Throws for unknown ids and for jobs not finished. */
  async deleteJob(id: string): Promise<void> {
    const deleted = await (await this.backend()).jobDelete({ id: parseInput(idSchema, id, "job id", "id") });
    if (!deleted) throw new OffloadError("OFFLOAD_ERR_JOB_NOT_FOUND", `No job has id ${id}`);
  }

  /**
   * Opens the database and applies pending migrations (every other method
   * does this on first use). Returns the versions this instance applied and
   * the schema version.
   */
  async migrate(): Promise<MigrationStatus> {
    await this.backend();
    return this.migration!;
  }

  /** Queues the running worker serves, with its slots per queue; empty when not started. */
  get workerQueues(): ReadonlyMap<string, number> {
    return new Map([...(this.worker?.queues ?? [])].map(([queue, slot]) => [queue, slot.limit]));
  }

  /** Slots of the running worker per queue: `limit`, and `used` by handlers not yet returned. Empty when not started. */
  get workerSlots(): ReadonlyMap<string, { limit: number; used: number }> {
    return new Map([...(this.worker?.queues ?? [])].map(([queue, slot]) => [queue, { limit: slot.limit, used: slot.used }]));
  }

  /** Job counts by queue and state. */
  async queueCounts() {
    return (await this.backend()).queueCounts();
  }

  /**
   * Pauses a queue for every worker process sharing the database: within a
   * claim of the pause, none takes a job of it. Running jobs run on; new jobs
   * are still accepted. Works for any queue name, with or without jobs.
   */
  async pauseQueue(queue: string): Promise<QueueState> {
    return (await this.backend()).queuePause({ queue: parseInput(nameSchema, queue, "queue name", "queue") });
  }

  /** Lets workers claim from a paused queue again. */
  async resumeQueue(queue: string): Promise<QueueState> {
    const backend = await this.backend();
    const state = await backend.queueResume({ queue: parseInput(nameSchema, queue, "queue name", "queue") });
    backend.notifier.notifyJobsReady([state.queue]);
    return state;
  }

  /**
   * Per queue: counts by state, whether it is paused, jobs completed and
   * failed in the last minute and hour, and how long the oldest ready job has
   * waited. Queues of defined types are listed even without jobs.
   */
  async queueStats(): Promise<QueueSummary[]> {
    const stats = await (await this.backend()).queueStats();
    return summarizeQueues(stats, [...this.types.values()].map((t) => t.options.queue), Date.now());
  }

  /**
   * Jobs ended (completed, failed) per queue and minute over the last
   * `minutes` minutes (1-60, default 60), with their average
   * enqueue-to-start wait: the dashboard's throughput chart.
   */
  async queueThroughput(options: { minutes?: number } = {}): Promise<QueueThroughputHistory> {
    const { minutes = 60 } = parseInput(throughputOptionsSchema, options, "queueThroughput options", "options");
    return throughputHistory(await (await this.backend()).queueThroughput({ minutes }));
  }

  /**
   * Worker processes alive (their row refreshed in the last 15 s), on any
   * host, with the jobs each runs (at most 1,000 jobs listed in all).
   */
  async workers(): Promise<WorkerView[]> {
    const list = await (await this.backend()).workerList({ runningLimit: 1_000, withinMs: PRESENCE_ALIVE_MS });
    return list.map(workerView);
  }

  /**
   * Enqueues a job at most once per idempotency key (the HTTP API's
   * `Idempotency-Key`). The first call stores the job; a later call with the
   * same key and the same type, payload and options returns that job with
   * `replayed: true` and stores nothing; the same key with anything else is
   * `OFFLOAD_ERR_IDEMPOTENCY_CONFLICT`. Keys are kept in the database for
   * `ttl` (default 24 h), per `scope`; a key whose job was deleted is forgotten.
   */
  async enqueueIdempotent(type: string, payload: unknown, options: EnqueueOptions | undefined, idempotency: IdempotencyOptions): Promise<EnqueuedJob & { replayed: boolean }> {
    const definition = this.definition(type);
    const { parsed, tx } = parseEnqueueOptions(options);
    if (tx !== undefined) {
      throw validationError("OFFLOAD_ERR_INVALID_INPUT", "enqueue options", [{ message: "an idempotent enqueue runs in its own transaction: tx is not supported here", path: "options.tx" }]);
    }
    const key = parseInput(idempotencyOptionsSchema, idempotency, "idempotency options", "idempotency");
    const [insert] = await this.buildInserts(definition, [payload], parsed, "payload");
    const backend = await this.backend();
    const result = await backend.jobInsertIdempotent({
      idempotency: {
        fingerprint: requestFingerprint({ options: options ?? {}, payload, type: definition.name }),
        key: key.key,
        scope: key.scope ?? "",
        ttlMs: key.ttl ?? DEFAULT_IDEMPOTENCY_TTL_MS,
      },
      job: insert!,
    });
    if (result.outcome === "conflict") {
      throw new OffloadError(
        "OFFLOAD_ERR_IDEMPOTENCY_CONFLICT",
        `Idempotency key ${JSON.stringify(key.key)} was already used for another request (job ${result.jobId}): send the same request to get that job, or use a new key`,
        { details: { jobId: result.jobId } },
      );
    }
    const view = { ...toJobView(result.job), deduplicated: result.deduplicated, replayed: result.outcome === "replayed" };
    if (result.outcome === "stored") this.announce(backend, definition, [{ deduplicated: result.deduplicated, job: result.job }]);
    return view;
  }

  /** Starts a worker in this process for the defined job types. */
  async start(options: WorkerOptions = {}): Promise<void> {
    const resolved = resolveWorkerOptions(options);
    if (this.closing) throw new OffloadError("OFFLOAD_ERR_CLOSED", "This Offload instance has been closed");
    if (this.worker || this.starting) throw new OffloadError("OFFLOAD_ERR_WORKER_STATE", "The worker is already started");
    if (this.types.size === 0) throw new OffloadError("OFFLOAD_ERR_WORKER_STATE", "No job types are defined: define them before start()");
    if (resolved.concurrency instanceof Map) {
      // A worker serving a queue none of its types use would claim jobs it has no handler for.
      const served = new Set([...this.types.values()].map((t) => t.options.queue));
      const stray = [...resolved.concurrency.keys()].filter((queue) => !served.has(queue));
      if (stray.length > 0) {
        throw validationError(
          "OFFLOAD_ERR_INVALID_INPUT",
          "worker options",
          stray.map((queue) => ({
            message: `no defined job type uses queue "${queue}" (queues of the defined types: ${[...served].sort().join(", ")})`,
            path: `options.concurrency.${queue}`,
          })),
        );
      }
    }
    // Set before the first await, so a second start() or a stop() that arrives meanwhile sees it.
    this.starting = (async () => {
      const backend = await this.backend();
      const worker = new Worker(backend, this.types, this.events, this.logger, resolved);
      // Made this process's worker only once ready: an enqueue here may hand its job to the worker at once.
      await worker.warmUp();
      this.worker = worker;
      worker.start();
    })();
    try {
      await this.starting;
    } finally {
      this.starting = null;
    }
  }

  /**
   * Stops the worker: no new claims; running jobs get `grace` (default 30 s)
   * to finish, then their signals abort and they go back to `queued` without
   * spending an attempt.
   */
  async stop(options: { grace?: number | string } = {}): Promise<void> {
    const { grace } = parseInput(stopOptionsSchema, options === undefined ? {} : options, "stop options", "options");
    // A start() still opening the database finishes first, so its worker is the one stopped.
    await this.starting?.catch(() => undefined);
    const worker = this.worker;
    if (!worker) return;
    await worker.stop(grace ?? 30_000);
    if (this.worker === worker) this.worker = null;
  }

  /** Stops the worker (with `grace`) and closes the database. */
  async close(options: { grace?: number | string } = {}): Promise<void> {
    parseInput(stopOptionsSchema, options === undefined ? {} : options, "close options", "options");
    this.closing = true;
    await this.stop(options);
    if (this.closed) return;
    this.closed = true;
    const backend = await this.backendPromise?.catch(() => null);
    await backend?.close();
  }

  /** The running worker's id, or null. */
  get workerId(): string | null {
    return this.worker?.id ?? null;
  }

  on<E extends OffloadEventName>(event: E, listener: (payload: OffloadEvents[E]) => void): this {
    this.events.on(event, listener);
    return this;
  }

  off<E extends OffloadEventName>(event: E, listener: (payload: OffloadEvents[E]) => void): this {
    this.events.off(event, listener);
    return this;
  }
}

function itemPath(path: "payload" | "payloads", i: number): string {
  return path === "payloads" ? `payloads[${i}]` : "payload";
}

function checkPayloadList(payloads: unknown): void {
  if (!Array.isArray(payloads)) {
    throw validationError("OFFLOAD_ERR_INVALID_INPUT", "enqueueMany arguments", [{ message: "expected an array of payloads", path: "payloads" }]);
  }
}

/**
 * The rows to store, or the payloads' issues. What was validated is what the
 * worker will see: the payload after a trip through JSON (a Date becomes a
 * string, a Map becomes {}), so a schema that cannot accept the stored form
 * is refused now, not at the first attempt. `raw` is the validation of the
 * payload as given, for the failures: it tells when only the JSON form is
 * refused. The caller's payload is stored, not the validator's output: the
 * handler's validation turns it into the output type, so transforms apply
 * exactly once.
 */
function insertsFrom(
  definition: JobTypeDefinition,
  jsons: readonly string[],
  checks: readonly PayloadCheck[],
  raw: readonly (PayloadCheck | null)[],
  options: ParsedEnqueueOptions,
  path: "payload" | "payloads",
): JobInsert[] {
  const issues: ValidationIssue[] = [];
  checks.forEach((check, i) => {
    if (!("issues" in check)) return;
    const lostInJson = raw[i] !== null && !("issues" in raw[i]!);
    const hint = lostInJson ? " (the payload is stored as JSON, and this value does not survive the trip)" : "";
    for (const issue of check.issues) issues.push({ message: issue.message + hint, path: itemPath(path, i) + issue.path.slice("payload".length) });
  });
  if (issues.length > 0) throw validationError("OFFLOAD_ERR_INVALID_PAYLOAD", `payload of job type "${definition.name}"`, issues.slice(0, 20));
  return jsons.map((json) => buildInsert(definition, json, options));
}

/** A database URL without its password, for messages. */
function redactUrl(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, "//$1:***@");
}

/**
 * Creates an Offload instance. The database opens on first use.
 *
 * ```ts
 * const offload = createOffload({ database: "sqlite:./data/offload.db" });
 * ```
 */
export function createOffload(options: OffloadOptions = {}): Offload {
  return new Offload(options);
}
