/**
 * BullMQ on Redis: Queue.add / addBulk, one Worker per process with
 * `concurrency`, completed jobs trimmed as BullMQ's auto-removal guide
 * advises for production.
 */
import { Queue, Worker } from "bullmq";
import { SCHEDULED_DELAY_MS, preloadInBatches, type Adapter, type BenchPayload, type StartWorkerOptions, type StorageContext, type SystemDescription } from "../adapter.js";

const QUEUE = "bench";
const JOB_NAME = "job";

/** BullMQ's guide ("Auto-removal of jobs"): keep a handful of completed jobs and more failed ones. */
const REMOVE_ON_COMPLETE = { count: 1_000 };
const REMOVE_ON_FAIL = { count: 5_000 };

export function describeBullmq(): SystemDescription {
  return {
    persistence:
      "jobs live in Redis (in memory); completed jobs are trimmed to the last 1,000. Durability is Redis's: see the Redis persistence line of the environment (BullMQ's production guide recommends AOF with fsync every second, so up to a second of acknowledged enqueues and completions can be lost on a crash of Redis or the machine)",
    settings: [
      `connection: ioredis to the local Redis, a database of the bench and a key prefix unique to each run (deleted afterwards); maxRetriesPerRequest: null (BullMQ's requirement for workers)`,
      "worker: new Worker(queue, processor, { concurrency: N, removeOnComplete: { count: 1000 }, removeOnFail: { count: 5000 } }) (the values of BullMQ's auto-removal guide); every other option at its default (lockDuration 30 s, stalledInterval 30 s, maxStalledCount 1, drainDelay 5 s)",
      "enqueue one: queue.add(name, payload); bulk: queue.addBulk(batch) (one MULTI); preload: the same, 4 calls in flight; scheduled: addBulk with opts.delay = 1 year",
      "no processor in a separate process (sandboxed processors cost an IPC round trip per job); handlers run in the worker's process like every other system's",
    ],
    system: "bullmq",
    title: "BullMQ (Redis)",
  };
}

export class BullmqAdapter implements Adapter {
  readonly system = "bullmq" as const;
  private readonly connection: { db: number; host: string; maxRetriesPerRequest: null; port: number };
  private readonly prefix: string;
  private readonly queue: Queue;
  private worker: Worker | null = null;

  constructor(storage: StorageContext) {
    if (!storage.redis) throw new Error("bullmq: the run's storage has no Redis prefix");
    this.connection = { db: storage.redis.db, host: storage.redis.host, maxRetriesPerRequest: null, port: storage.redis.port };
    this.prefix = storage.redis.prefix;
    this.queue = new Queue(QUEUE, { connection: this.connection, prefix: this.prefix });
  }

  async setup(): Promise<void> {
    await this.queue.waitUntilReady();
  }

  async enqueueOne(payload: BenchPayload): Promise<void> {
    await this.queue.add(JOB_NAME, payload);
  }

  async enqueueBulk(payloads: readonly BenchPayload[]): Promise<void> {
    await this.queue.addBulk(payloads.map((data) => ({ data, name: JOB_NAME })));
  }

  async preload(from: number, ready: number, scheduled: number): Promise<void> {
    await preloadInBatches(from, ready, scheduled, async (payloads, later) => {
      await this.queue.addBulk(payloads.map((data) => ({ data, name: JOB_NAME, opts: later ? { delay: SCHEDULED_DELAY_MS } : undefined })));
    });
  }

  async startWorker({ concurrency, handler }: StartWorkerOptions): Promise<void> {
    this.worker = new Worker(QUEUE, async (job) => handler(job.data as BenchPayload), {
      concurrency,
      connection: this.connection,
      prefix: this.prefix,
      removeOnComplete: REMOVE_ON_COMPLETE,
      removeOnFail: REMOVE_ON_FAIL,
    });
    this.worker.on("error", (error) => process.stderr.write(`bullmq worker error: ${error.message}\n`));
    await this.worker.waitUntilReady();
  }

  async stopWorker(): Promise<void> {
    await this.worker?.close();
    this.worker = null;
  }

  async unfinished(): Promise<number> {
    // Delayed jobs are the scheduled ones (a due one is promoted to wait by the worker).
    return this.queue.getJobCountByTypes("wait", "active", "prioritized", "waiting-children");
  }

  async teardown(): Promise<void> {
    await this.stopWorker();
    await this.queue.close();
  }
}
