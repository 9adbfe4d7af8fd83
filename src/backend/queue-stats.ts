import { JOB_STATES, type JobState } from "../job/states.js";
import type { QueueStats, QueueThroughputSeries } from "./types.js";

/** A count of zero for every state. */
export function zeroCounts(): Record<JobState, number> {
  return Object.fromEntries(JOB_STATES.map((state) => [state, 0])) as Record<JobState, number>;
}

/**
 * Assembles `queueStats` results from the rows an engine reads: an entry per
 * queue, made on first mention, listed sorted by name. Engines share it so
 * the shape and the rules (a due job counts as queued and ages from its
 * runAt) cannot drift apart.
 */
export class QueueStatsCollector {
  private readonly byQueue = new Map<string, QueueStats>();

  entry(queue: string): QueueStats {
    let stats = this.byQueue.get(queue);
    if (!stats) {
      stats = { counts: zeroCounts(), lastHour: { completed: 0, failed: 0, waitMs: 0 }, lastMinute: { completed: 0, failed: 0, waitMs: 0 }, oldestQueuedAt: null, paused: false, queue };
      this.byQueue.set(queue, stats);
    }
    return stats;
  }

  /** Ready jobs: queued ones, and scheduled ones already due (to anyone looking, queued); `oldest` is their earliest runAt. */
  addReady(queue: string, n: number, oldest: number): void {
    const stats = this.entry(queue);
    stats.counts.queued += n;
    stats.oldestQueuedAt = stats.oldestQueuedAt === null ? oldest : Math.min(stats.oldestQueuedAt, oldest);
  }

  list(): QueueStats[] {
    return [...this.byQueue.values()].sort((a, b) => a.queue.localeCompare(b.queue));
  }
}

/** One-minute buckets of the last `minutes` minutes before `now`: their starts, oldest first. */
export function minuteBuckets(now: number, minutes: number): number[] {
  const last = now - (now % 60_000);
  return Array.from({ length: minutes }, (_, i) => last - (minutes - 1 - i) * 60_000);
}

/**
 * Folds rows of (queue, 10 s window, completed, failed, wait) into the
 * minute buckets of {@link minuteBuckets}; windows before the first bucket
 * are dropped. Queues are sorted by name.
 */
export function foldThroughput(
  buckets: readonly number[],
  rows: Iterable<{ bucket: number; completed: number; failed: number; queue: string; waitMs: number }>,
): QueueThroughputSeries {
  const first = buckets[0] ?? 0;
  const byQueue = new Map<string, QueueThroughputSeries["queues"][number]>();
  for (const row of rows) {
    const index = Math.floor((row.bucket - first) / 60_000);
    if (index < 0 || index >= buckets.length) continue;
    let series = byQueue.get(row.queue);
    if (!series) {
      const zeros = () => buckets.map(() => 0);
      series = { completed: zeros(), failed: zeros(), queue: row.queue, waitMs: zeros() };
      byQueue.set(row.queue, series);
    }
    series.completed[index]! += row.completed;
    series.failed[index]! += row.failed;
    series.waitMs[index]! += row.waitMs;
  }
  return { buckets: [...buckets], queues: [...byQueue.values()].sort((a, b) => a.queue.localeCompare(b.queue)) };
}
