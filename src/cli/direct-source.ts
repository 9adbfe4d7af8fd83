import { setTimeout as sleep } from "node:timers/promises";
import { createOffload, FINISHED_STATES, OffloadError, type EnqueuedJob, type JobView, type Offload } from "../index.js";
import { createCliLogger } from "./cli-logger.js";
import { describeDatabase } from "./format.js";
import type { EnqueueRequest, JobListQuery, JobPage, JobSnapshot, JobsSource, QueuePauseState, QueueSummary } from "./source.js";

/**
 * How often `watch` reads the job from the database. Events are local to the
 * worker's process, so another process can only poll; the worker writes
 * progress at most every 100 ms (`progressInterval`), and a read of one row
 * costs microseconds on SQLite.
 */
const WATCH_POLL_MS = 200;

const FINISHED: ReadonlySet<string> = new Set(FINISHED_STATES);

/** The CLI's jobs, read and changed in the database through the `Offload` client. */
export class DirectSource implements JobsSource {
  private constructor(private readonly offload: Offload) {}

  /** Opens `database` (default: env `OFFLOAD_DATABASE`, else the default file) and lets `defineJobs` define job types on it. */
  static async open(database: string | undefined, defineJobs?: (offload: Offload) => Promise<void>): Promise<DirectSource> {
    const offload = createOffload({ logger: createCliLogger(), ...(database === undefined ? {} : { database }) });
    try {
      await defineJobs?.(offload);
    } catch (error) {
      await offload.close();
      throw error;
    }
    return new DirectSource(offload);
  }

  get description(): string {
    return describeDatabase(this.offload.database);
  }

  cancel(id: string): Promise<JobView> {
    return this.offload.cancel(id);
  }

  close(): Promise<void> {
    return this.offload.close();
  }

  enqueue({ payload, type, ...options }: EnqueueRequest): Promise<EnqueuedJob> {
    return this.offload.enqueue(type, payload, options);
  }

  async getJob(id: string): Promise<JobView> {
    const job = await this.offload.getJob(id);
    if (!job) throw new OffloadError("OFFLOAD_ERR_JOB_NOT_FOUND", `No job has id ${id}`);
    return job;
  }

  listJobs(query: JobListQuery): Promise<JobPage> {
    return this.offload.listJobs({ ...query, cursor: query.cursor ?? null });
  }

  async pauseQueue(name: string): Promise<QueuePauseState> {
    return pauseState(await this.offload.pauseQueue(name));
  }

  queues(): Promise<QueueSummary[]> {
    return this.offload.queueStats();
  }

  async resumeQueue(name: string): Promise<QueuePauseState> {
    return pauseState(await this.offload.resumeQueue(name));
  }

  retry(id: string): Promise<JobView> {
    return this.offload.retry(id);
  }

  async watch(id: string, onChange: (job: JobSnapshot) => void, signal: AbortSignal): Promise<JobView> {
    let last = "";
    for (;;) {
      signal.throwIfAborted();
      const job = await this.getJob(id);
      const key = JSON.stringify([job.status, job.attempt, job.progress]);
      if (key !== last) {
        last = key;
        onChange(job);
      }
      if (FINISHED.has(job.status)) return job;
      await sleep(WATCH_POLL_MS, undefined, { signal });
    }
  }
}

function pauseState(state: { paused: boolean; pausedAt: number | null; queue: string }): QueuePauseState {
  return { paused: state.paused, pausedAt: state.pausedAt === null ? null : new Date(state.pausedAt).toISOString(), queue: state.queue };
}
