import { JOB_STATES, type JobState } from "../job/states.js";
import type { QueueStats } from "./types.js";

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
      stats = { counts: zeroCounts(), lastHour: { completed: 0, failed: 0 }, lastMinute: { completed: 0, failed: 0 }, oldestQueuedAt: null, paused: false, queue };
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
