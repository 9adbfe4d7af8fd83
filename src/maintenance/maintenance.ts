import type { Backend } from "../backend/backend.js";
import type { JobRecord } from "../backend/types.js";
import { toJobErrorView } from "../job/view.js";
import type { Logger } from "../observability/logger.js";
import type { OffloadEventBus } from "../observability/events.js";
import type { ResolvedWorkerOptions } from "../worker/worker-options.js";

/** Rows handled per rescue or prune statement, so one pass never holds the writer lock for long. */
const BATCH = 1_000;

/**
 * Periodic upkeep run by every worker process: the rescuer returns jobs whose
 * lease expired to their queue, the pruner deletes old finished jobs. Both
 * are idempotent single statements, so several processes running them at
 * once is safe; the cost is a few cheap index probes per interval.
 */
export class Maintenance {
  private sweepTimer: NodeJS.Timeout | null = null;
  private pruneTimer: NodeJS.Timeout | null = null;
  private running: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly backend: Backend,
    private readonly events: OffloadEventBus,
    private readonly logger: Logger,
    private readonly options: Pick<ResolvedWorkerOptions, "pruneAges" | "pruneIntervalMs" | "sweepIntervalMs">,
  ) {}

  start(): void {
    this.sweepTimer = setInterval(() => this.serially(() => this.rescue()), this.options.sweepIntervalMs);
    // The first prune runs soon after start, at a random offset so processes started together spread out.
    const firstPrune = Math.round(Math.random() * Math.min(5_000, this.options.pruneIntervalMs));
    this.pruneTimer = setTimeout(() => {
      this.serially(() => this.prune());
      this.pruneTimer = setInterval(() => this.serially(() => this.prune()), this.options.pruneIntervalMs);
    }, firstPrune);
  }

  async stop(): Promise<void> {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    if (this.pruneTimer) clearTimeout(this.pruneTimer);
    this.sweepTimer = this.pruneTimer = null;
    await this.running;
  }

  private serially(task: () => Promise<void>): void {
    this.running = this.running.then(task).catch((error: unknown) => this.logger.warn({ err: error }, "maintenance task failed; will retry"));
  }

  /** Returns expired leases to their queue; exposed for tests and `offload` commands. */
  async rescue(now?: number): Promise<void> {
    for (;;) {
      const { cancelled, failed, requeued } = await this.backend.jobRescueExpired({ limit: BATCH, ...(now === undefined ? {} : { now }) });
      for (const job of requeued) this.logger.warn(describe(job), "lease expired; job returned to its queue");
      // Wake workers at once: the SQLite notifier does not see its own process's writes.
      if (requeued.length > 0) this.backend.notifier.notifyJobsReady([...new Set(requeued.map((j) => j.queue))]);
      for (const job of failed) {
        this.logger.warn(describe(job), "lease expired on the last attempt; job failed");
        if (job.error) this.events.emit("job:failed", { attempt: job.attempt, error: toJobErrorView(job.error), id: job.id, queue: job.queue, type: job.type });
      }
      for (const job of cancelled) this.events.emit("job:cancelled", { attempt: job.attempt, id: job.id, queue: job.queue, type: job.type });
      if (cancelled.length + failed.length + requeued.length < BATCH) return;
    }
  }

  async prune(now?: number): Promise<void> {
    let total = 0;
    for (;;) {
      const deleted = await this.backend.jobPrune({ ages: this.options.pruneAges, limit: BATCH, ...(now === undefined ? {} : { now }) });
      total += deleted;
      if (deleted < BATCH) break;
    }
    if (total > 0) this.logger.info({ deleted: total }, "pruned finished jobs");
  }
}

function describe(job: JobRecord) {
  return { attempt: job.attempt, jobId: job.id, maxAttempts: job.maxAttempts, queue: job.queue, type: job.type };
}
