/**
 * pg-boss with its throughput settings: workers fetch `batchSize` jobs per
 * query and complete them in one statement, fetch again at once while
 * batches come back full (`burstWhenBatchFull`), and are woken by
 * LISTEN/NOTIFY (`useListenNotify` with a `notify` queue).
 */
import { PgBoss } from "pg-boss";
import { SCHEDULED_DELAY_MS, preloadInBatches, type Adapter, type BenchPayload, type StartWorkerOptions, type StorageContext, type SystemDescription } from "../adapter.js";

const QUEUE = "bench";

/**
 * N jobs at once as one polling loop fetching batches of N. Tried on this
 * machine against 2 and 5 loops of N/2 and N/5 (pg-boss's localConcurrency):
 * one loop was the fastest at N = 10 and 50 (about 1.4x the
 * two-loop figure; its fetch query costs the server more than the handlers
 * cost the worker, so more loops only add fetches).
 */
export function pgBossShape(concurrency: number): { batchSize: number; localConcurrency: number } {
  return { batchSize: concurrency, localConcurrency: 1 };
}

export function describePgBoss(): SystemDescription {
  return {
    persistence:
      "every job is a row, kept after completion (deleted after 7 days by default); enqueues and completions are committed transactions (fsync); a job whose worker died is retried once it expires (expireInSeconds, 15 minutes by default; heartbeats are off by default)",
    settings: [
      "new PgBoss({ connectionString, useListenNotify: true }) (pool of 10, schema pgboss); queue created with { notify: true } so enqueues wake workers at once",
      "worker: boss.work(queue, { batchSize: N, localConcurrency: 1, burstWhenBatchFull: true, pollingIntervalSeconds: 0.5 }, jobs => Promise.all(jobs.map(handler))): N jobs at once as one polling loop fetching N per query and completing the batch in one statement (2 or 5 loops of N/2, N/5 were slower here); the next fetch follows at once while batches come back full",
      "enqueue one: boss.send(queue, payload); bulk: boss.insert(queue, batch) (one statement); preload: the same, 4 calls in flight; scheduled: insert with startAfter = now + 1 year",
      "retention, expiry (15 min), retries (2) and maintenance at their defaults",
    ],
    system: "pg-boss",
    title: "pg-boss",
  };
}

export class PgBossAdapter implements Adapter {
  readonly system = "pg-boss" as const;
  private readonly boss: PgBoss;
  private working = false;

  constructor(storage: StorageContext) {
    if (!storage.pgUrl) throw new Error("pg-boss: the run's storage has no PostgreSQL database");
    this.boss = new PgBoss({ connectionString: storage.pgUrl, useListenNotify: true });
    this.boss.on("error", (error: Error) => process.stderr.write(`pg-boss error: ${error.message}\n`));
  }

  async setup(): Promise<void> {
    await this.boss.start();
    // Every process of a run calls this; the first creates the queue.
    if (!(await this.boss.getQueue(QUEUE))) await this.boss.createQueue(QUEUE, { notify: true }).catch(async (error: unknown) => {
      if (!(await this.boss.getQueue(QUEUE))) throw error;
    });
  }

  async enqueueOne(payload: BenchPayload): Promise<void> {
    const id = await this.boss.send(QUEUE, payload);
    if (!id) throw new Error("pg-boss: send() stored no job");
  }

  async enqueueBulk(payloads: readonly BenchPayload[]): Promise<void> {
    await this.boss.insert(QUEUE, payloads.map((data) => ({ data })));
  }

  async preload(from: number, ready: number, scheduled: number): Promise<void> {
    await preloadInBatches(from, ready, scheduled, async (payloads, later) => {
      const startAfter = later ? new Date(Date.now() + SCHEDULED_DELAY_MS) : undefined;
      await this.boss.insert(QUEUE, payloads.map((data) => ({ data, ...(startAfter ? { startAfter } : {}) })));
    });
  }

  async startWorker({ concurrency, handler }: StartWorkerOptions): Promise<void> {
    const { batchSize, localConcurrency } = pgBossShape(concurrency);
    await this.boss.work<BenchPayload>(
      QUEUE,
      { batchSize, burstWhenBatchFull: true, localConcurrency, pollingIntervalSeconds: 0.5 },
      async (jobs) => {
        await Promise.all(jobs.map((job) => handler(job.data)));
      },
    );
    this.working = true;
  }

  async stopWorker(): Promise<void> {
    if (!this.working) return;
    await this.boss.offWork(QUEUE, { wait: true });
    this.working = false;
  }

  async unfinished(): Promise<number> {
    const { rows } = await this.boss
      .getDb()
      .executeSql("SELECT count(*) AS n FROM pgboss.job WHERE name = $1 AND state IN ('created', 'retry', 'active') AND start_after <= now()", [QUEUE]);
    return Number((rows[0] as { n: string } | undefined)?.n ?? 0);
  }

  async teardown(): Promise<void> {
    await this.stopWorker();
    await this.boss.stop({ graceful: true, timeout: 10_000 });
  }
}
