/**
 * The one interface every system under comparison implements (Offload on
 * SQLite and on PostgreSQL, BullMQ, graphile-worker, pg-boss), and the
 * storage a run hands it. Scenarios (scenarios.ts, worker-process.ts) only
 * talk to this interface, so every system is measured by the same code.
 */

/** Systems in the order the tables print them: Offload first, then the peers. */
export const SYSTEMS = ["offload-sqlite", "offload-postgres", "bullmq", "graphile-worker", "pg-boss"] as const;
export type SystemName = (typeof SYSTEMS)[number];

export function isSystem(value: string): value is SystemName {
  return (SYSTEMS as readonly string[]).includes(value);
}

export const PEERS: readonly SystemName[] = ["bullmq", "graphile-worker", "pg-boss"];

/**
 * A job's payload. `i` numbers the jobs of a run from 0 (how exactly-once is
 * checked); `t` is the enqueue moment in ms on the machine's monotonic clock
 * (latency runs); `ms` makes the handler sleep that long (crash runs).
 */
export interface BenchPayload {
  i: number;
  ms?: number;
  t?: number;
}

export type BenchHandler = (payload: BenchPayload) => Promise<void>;

/** Fresh storage of one run, made and removed by the runner (storage.ts), so it is removed even when the run is killed. */
export interface StorageContext {
  /** PostgreSQL systems: a database created for this run. */
  pgUrl: string | null;
  /** BullMQ: the Redis server, its database number and a key prefix unique to this run. */
  redis: { db: number; host: string; port: number; prefix: string } | null;
  /** Offload on SQLite: a file in a temp directory of this run. */
  sqliteFile: string | null;
}

export interface StartWorkerOptions {
  /** Jobs running at once in this process. */
  concurrency: number;
  /** Called once per attempt, with the payload as enqueued. */
  handler: BenchHandler;
}

/**
 * One system, opened on one run's storage. Methods are called in the order
 * set-up, (enqueue or preload), start worker, stop worker, teardown; one
 * instance may both enqueue and work (latency in one process).
 */
export interface Adapter {
  /** Enqueues jobs in one call of the system's bulk API (one transaction or one round trip where it offers one). */
  enqueueBulk(payloads: readonly BenchPayload[]): Promise<void>;
  /** Enqueues one job and resolves when the system says it is stored. */
  enqueueOne(payload: BenchPayload): Promise<void>;
  /**
   * Stores `ready` jobs to run now and `scheduled` jobs to run in a year, by
   * the system's fastest bulk path, numbered from `from`. Not timed by the
   * scenarios (the runner reports how long it took).
   */
  preload(from: number, ready: number, scheduled: number): Promise<void>;
  /** Connects and creates or migrates what the system needs (schema, queue); never starts a worker. */
  setup(): Promise<void>;
  /** Starts this process's worker. */
  startWorker(options: StartWorkerOptions): Promise<void>;
  /** Stops the worker gracefully (running handlers finish). */
  stopWorker(): Promise<void>;
  readonly system: SystemName;
  /** Closes every connection; the storage itself is the runner's to remove. */
  teardown(): Promise<void>;
  /** Jobs stored and not finished (waiting, running or retrying), excluding those scheduled in the future. */
  unfinished(): Promise<number>;
}

/** How a system is configured in every run: shown in the console and in docs/benchmarks.md. */
export interface SystemDescription {
  /** What "finished" means in its storage, and what it keeps. */
  persistence: string;
  /** The worker and client settings, one per line, with why. */
  settings: readonly string[];
  system: SystemName;
  title: string;
}

/** A year: how far in the future the backlog scenario schedules its scheduled jobs. */
export const SCHEDULED_DELAY_MS = 365 * 24 * 3_600_000;

/** Size of one call of the bulk path when preloading (the processing scenarios' pre-enqueue and the backlog). */
export const PRELOAD_BATCH = 1_000;

/**
 * Bulk calls of a preload in flight at once: a system whose bulk path waits
 * on a round trip and a commit (PostgreSQL, Redis) stores a large backlog
 * about twice as fast with several calls at once (a synchronous one, SQLite,
 * simply runs them one after another).
 */
export const PRELOAD_IN_FLIGHT = 4;

/**
 * Stores `ready` jobs then `scheduled` jobs numbered from `from`, in calls of
 * PRELOAD_BATCH through `store`, PRELOAD_IN_FLIGHT calls at a time.
 */
export async function preloadInBatches(
  from: number,
  ready: number,
  scheduled: number,
  store: (payloads: BenchPayload[], scheduled: boolean) => Promise<void>,
): Promise<void> {
  const batches: { count: number; from: number; scheduled: boolean }[] = [];
  for (let done = 0; done < ready; done += PRELOAD_BATCH) batches.push({ count: Math.min(PRELOAD_BATCH, ready - done), from: from + done, scheduled: false });
  for (let done = 0; done < scheduled; done += PRELOAD_BATCH) batches.push({ count: Math.min(PRELOAD_BATCH, scheduled - done), from: from + ready + done, scheduled: true });
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < batches.length) {
      const batch = batches[next++]!;
      await store(numbered(batch.from, batch.count), batch.scheduled);
    }
  };
  await Promise.all(Array.from({ length: Math.min(PRELOAD_IN_FLIGHT, batches.length) }, lane));
}

/** Payloads `{ i }` numbered from `from`. */
export function numbered(from: number, count: number): BenchPayload[] {
  return Array.from({ length: count }, (_, k) => ({ i: from + k }));
}
