import type Database from "better-sqlite3";
import { QueueStatsCollector } from "../../backend/queue-stats.js";
import type { QueueStats } from "../../backend/types.js";
import type { SQL } from "./statements.js";

type Statements = { [K in keyof typeof SQL]: Database.Statement };

/** Width of one window of offload_queue_stats. "The last minute" may reach up to this much further back. */
export const STATS_BUCKET_MS = 10_000;
const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;

/** Jobs that ended completed or failed in one transaction, per queue. */
export class EndedJobs {
  private readonly byQueue = new Map<string, { completed: number; deleted: number; failed: number; waitMs: number }>();

  /**
   * A job of `queue` ended so, its last attempt having waited `waitMs` from
   * its runAt to its start; `deleted`: a completed job deleted at once, so
   * not counted in the queue's stored total.
   */
  add(queue: string, outcome: "completed" | "failed", waitMs: number, deleted = false): void {
    let entry = this.byQueue.get(queue);
    if (!entry) {
      entry = { completed: 0, deleted: 0, failed: 0, waitMs: 0 };
      this.byQueue.set(queue, entry);
    }
    entry[outcome]++;
    if (deleted) entry.deleted++;
    entry.waitMs += waitMs;
  }

  get size(): number {
    return this.byQueue.size;
  }

  entries(): IterableIterator<[string, { completed: number; deleted: number; failed: number; waitMs: number }]> {
    return this.byQueue.entries();
  }
}

/**
 * Writes the windows and totals of offload_queue_stats and
 * offload_queue_totals inside the caller's transaction: one upsert per queue
 * that had endings, so a batch of 100 completions costs two statements.
 * Windows older than an hour are dropped when a new window opens, at most
 * once per 10 s per process.
 */
export class QueueCounters {
  private lastBucket = Number.NaN;

  constructor(private readonly stmt: () => Statements) {}

  record(ended: EndedJobs, now: number): void {
    if (ended.size === 0) return;
    const stmt = this.stmt();
    const bucket = now - (now % STATS_BUCKET_MS);
    if (bucket !== this.lastBucket) {
      this.lastBucket = bucket;
      stmt.queueStatsPrune.run({ before: bucket - HOUR_MS - STATS_BUCKET_MS });
    }
    for (const [queue, { completed, deleted, failed, waitMs }] of ended.entries()) {
      stmt.queueStatsBump.run({ bucket, completed, failed, queue, waitMs });
      if (completed > deleted) stmt.queueTotalsAdd.run({ delta: completed - deleted, queue });
    }
  }

  /** Completed jobs left the table (deleted or pruned). */
  removeCompleted(queue: string, count: number): void {
    if (count > 0) this.stmt().queueTotalsAdd.run({ delta: -count, queue });
  }
}

/**
 * Reads every queue's statistics from the indexes of unfinished, failed and
 * cancelled jobs and from the counter tables: no statement reads completed
 * rows, so the cost follows the number of unfinished jobs, not the size of
 * the table.
 */
export function readQueueStats(stmt: Statements, now: number): QueueStats[] {
  const stats = new QueueStatsCollector();
  const entry = (queue: string): QueueStats => stats.entry(queue);

  for (const row of stmt.statsQueued.all() as { n: number; oldest: number; queue: string }[]) stats.addReady(row.queue, row.n, row.oldest);
  for (const row of stmt.statsScheduled.all({ now }) as { due: number; n: number; oldest: number; queue: string }[]) {
    // Due but not yet promoted by a claim: to anyone looking, queued.
    if (row.due) stats.addReady(row.queue, row.n, row.oldest);
    else entry(row.queue).counts.scheduled += row.n;
  }
  for (const row of stmt.statsRunning.all() as { n: number; queue: string }[]) entry(row.queue).counts.running += row.n;
  for (const row of stmt.statsFailedCancelled.all() as { n: number; queue: string; status: "cancelled" | "failed" }[]) {
    entry(row.queue).counts[row.status] += row.n;
  }
  for (const row of stmt.queueTotals.all() as { completed: number; queue: string }[]) entry(row.queue).counts.completed += row.completed;
  const windows = stmt.queueStatsWindows.all({ hour: now - HOUR_MS - STATS_BUCKET_MS, minute: now - MINUTE_MS - STATS_BUCKET_MS }) as {
    completed_hour: number;
    completed_minute: number;
    failed_hour: number;
    failed_minute: number;
    queue: string;
    wait_hour: number;
    wait_minute: number;
  }[];
  for (const row of windows) {
    if (row.completed_hour === 0 && row.failed_hour === 0) continue;
    const queue = entry(row.queue);
    queue.lastMinute = { completed: row.completed_minute, failed: row.failed_minute, waitMs: row.wait_minute };
    queue.lastHour = { completed: row.completed_hour, failed: row.failed_hour, waitMs: row.wait_hour };
  }
  for (const row of stmt.queuesPaused.all() as { paused_at: number; queue: string }[]) entry(row.queue).paused = true;
  return stats.list();
}
