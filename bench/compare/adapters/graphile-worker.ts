/**
 * graphile-worker with the settings of its performance page: a local queue
 * (jobs fetched and locked in batches) and batched completion and failure.
 */
import { Logger, makeWorkerUtils, run, type Runner, type WorkerUtils } from "graphile-worker";
import { SCHEDULED_DELAY_MS, preloadInBatches, type Adapter, type BenchPayload, type StartWorkerOptions, type StorageContext, type SystemDescription } from "../adapter.js";

const TASK = "bench";

/** Its performance page's configuration (localQueue 500, completeJobBatchDelay 0, failJobBatchDelay 0). */
const LOCAL_QUEUE_SIZE = 500;
const COMPLETE_JOB_BATCH_DELAY_MS = 0;
const FAIL_JOB_BATCH_DELAY_MS = 0;

/** Its documented pool size: "10 or concurrentJobs + 2, whichever is larger". */
function maxPoolSize(concurrency: number): number {
  return Math.max(10, concurrency + 2);
}

const silent = new Logger(() => () => undefined);

export function describeGraphileWorker(): SystemDescription {
  return {
    persistence:
      "every job is a row; a completed job is deleted at once (nothing is kept); enqueues and completions are committed transactions (fsync); a job locked by a worker that died stays locked until the lock expires (4 hours)",
    settings: [
      `preset.worker: { concurrentJobs: N, maxPoolSize: max(10, N + 2), localQueue: { size: ${LOCAL_QUEUE_SIZE} }, completeJobBatchDelay: ${COMPLETE_JOB_BATCH_DELAY_MS}, failJobBatchDelay: ${FAIL_JOB_BATCH_DELAY_MS} } (its performance page's batching settings; its pool-size advice)`,
      "pollInterval 2 s (default; new jobs wake workers through LISTEN/NOTIFY), prepared statements on (default), logger silenced (the default logs a line per job), noHandleSignals, no crontab",
      "enqueue one: workerUtils.addJob(task, payload); bulk: workerUtils.addJobs(batch) (one statement); preload: the same, 4 calls in flight; scheduled: addJobs with runAt = now + 1 year",
    ],
    system: "graphile-worker",
    title: "graphile-worker",
  };
}

export class GraphileWorkerAdapter implements Adapter {
  readonly system = "graphile-worker" as const;
  private readonly connectionString: string;
  private utils: WorkerUtils | null = null;
  private runner: Runner | null = null;

  constructor(storage: StorageContext) {
    if (!storage.pgUrl) throw new Error("graphile-worker: the run's storage has no PostgreSQL database");
    this.connectionString = storage.pgUrl;
  }

  private get workerUtils(): WorkerUtils {
    if (!this.utils) throw new Error("graphile-worker: setup() first");
    return this.utils;
  }

  async setup(): Promise<void> {
    this.utils = await makeWorkerUtils({ connectionString: this.connectionString, logger: silent });
    await this.utils.migrate();
  }

  async enqueueOne(payload: BenchPayload): Promise<void> {
    await this.workerUtils.addJob(TASK, payload);
  }

  async enqueueBulk(payloads: readonly BenchPayload[]): Promise<void> {
    await this.workerUtils.addJobs(payloads.map((payload) => ({ identifier: TASK, payload })));
  }

  async preload(from: number, ready: number, scheduled: number): Promise<void> {
    await preloadInBatches(from, ready, scheduled, async (payloads, later) => {
      const runAt = later ? new Date(Date.now() + SCHEDULED_DELAY_MS) : undefined;
      await this.workerUtils.addJobs(payloads.map((payload) => ({ identifier: TASK, payload, ...(runAt ? { runAt } : {}) })));
    });
  }

  async startWorker({ concurrency, handler }: StartWorkerOptions): Promise<void> {
    this.runner = await run({
      crontab: "",
      logger: silent,
      noHandleSignals: true,
      preset: {
        worker: {
          completeJobBatchDelay: COMPLETE_JOB_BATCH_DELAY_MS,
          concurrentJobs: concurrency,
          connectionString: this.connectionString,
          failJobBatchDelay: FAIL_JOB_BATCH_DELAY_MS,
          localQueue: { size: LOCAL_QUEUE_SIZE },
          maxPoolSize: maxPoolSize(concurrency),
        },
      },
      taskList: { [TASK]: async (payload) => handler(payload as BenchPayload) },
    });
  }

  async stopWorker(): Promise<void> {
    await this.runner?.stop();
    this.runner = null;
  }

  async unfinished(): Promise<number> {
    // Completing a job deletes it: what is left and due is unfinished (no job fails in these scenarios).
    const { rows } = await this.workerUtils.withPgClient((client) =>
      client.query<{ n: string }>("SELECT count(*) AS n FROM graphile_worker._private_jobs WHERE run_at <= now()"),
    );
    return Number(rows[0]?.n ?? 0);
  }

  async teardown(): Promise<void> {
    await this.stopWorker();
    await this.utils?.release();
    this.utils = null;
  }
}
