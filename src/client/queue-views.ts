import type { JobState } from "../job/states.js";

/**
 * The queue and worker figures as the public API shows them (the library's
 * queueStats, queueThroughput and workers, and the HTTP API's routes). Types
 * only, with no runtime imports: the dashboard's browser code reads them too.
 */

/** Jobs of a queue that ended in a window of time. */
export interface QueueThroughputView {
  completed: number;
  failed: number;
  /** `completed` + `failed`: jobs that reached a final outcome (a retried attempt is not one). */
  processed: number;
}

/** One queue as {@link Offload.queueStats} and `GET /api/queues` show it. */
export interface QueueSummary {
  /** Jobs by state; a scheduled job whose time has come counts as queued. */
  counts: Record<JobState, number>;
  /** Jobs that ended in the last hour (counted in 10 s windows, so up to 10 s more). */
  lastHour: QueueThroughputView;
  /** Jobs that ended in the last minute (counted in 10 s windows, so up to 10 s more). */
  lastMinute: QueueThroughputView;
  /**
   * Average enqueue-to-start wait, in milliseconds, of the jobs that ended in
   * the last minute and hour (each job's last attempt: from the time it was
   * due to its start); null when none ended.
   */
  latencyMs: { lastHour: number | null; lastMinute: number | null };
  /** Milliseconds the longest-waiting ready job has waited since it became due; null when none waits. */
  oldestQueuedAgeMs: number | null;
  /** True while paused: jobs are accepted, no worker claims them. */
  paused: boolean;
  /** The queue's name. */
  queue: string;
}

/** Jobs ended per queue and minute, as {@link Offload.queueThroughput} and `GET /api/queues/throughput` show them. */
export interface QueueThroughputHistory {
  /** Width of a bucket: 60. */
  bucketSeconds: number;
  /** Start of each minute, ISO 8601, oldest first; every series below has one entry per bucket. */
  buckets: string[];
  items: {
    completed: number[];
    failed: number[];
    /** Average enqueue-to-start wait of the jobs that ended in the minute, in ms; null when none ended. */
    latencyMs: (number | null)[];
    queue: string;
  }[];
}

/** A worker process seen recently, as {@link Offload.workers} and `GET /api/workers` show it. */
export interface WorkerView {
  host: string;
  id: string;
  /** When it last refreshed its row (every 5 s while it runs), ISO 8601. */
  lastSeenAt: string;
  pid: number;
  queues: { concurrency: number; queue: string }[];
  /** Jobs running under its id, longest running first. */
  running: { attempt: number; id: string; queue: string; startedAt: string; type: string }[];
  startedAt: string;
}
