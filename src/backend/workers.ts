import type { WorkerStatus } from "./types.js";

/** A row of an engine's workers table (epoch ms as numbers or, from PostgreSQL's bigint, strings). */
export interface WorkerRow {
  host: string;
  id: string;
  last_seen_at: number | string;
  pid: number;
  /** JSON text (SQLite) or parsed jsonb (PostgreSQL). */
  queues: string | { concurrency: number; queue: string }[];
  started_at: number | string;
}

/** A running job's row, as the workers view needs it. */
export interface RunningRow {
  attempt: number;
  id: string;
  queue: string;
  started_at: number | string | null;
  type: string;
  worker_id: string | null;
}

/** Joins workers with the running jobs that carry their ids; engines share it so the shape cannot drift apart. */
export function workerStatuses(workers: readonly WorkerRow[], running: readonly RunningRow[]): WorkerStatus[] {
  const byId = new Map<string, WorkerStatus>();
  const list = workers.map((w): WorkerStatus => {
    const status: WorkerStatus = {
      host: w.host,
      id: w.id,
      lastSeenAt: Number(w.last_seen_at),
      pid: w.pid,
      queues: typeof w.queues === "string" ? (JSON.parse(w.queues) as WorkerStatus["queues"]) : w.queues,
      running: [],
      startedAt: Number(w.started_at),
    };
    byId.set(w.id, status);
    return status;
  });
  for (const job of running) {
    const worker = job.worker_id === null ? undefined : byId.get(job.worker_id);
    worker?.running.push({ attempt: job.attempt, id: job.id, queue: job.queue, startedAt: Number(job.started_at), type: job.type });
  }
  return list;
}
