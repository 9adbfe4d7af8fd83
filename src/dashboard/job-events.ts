/**
 * How the jobs list reads `/api/events`: which jobs match its filters, and
 * what a batch of events changed about the jobs it shows. No DOM: the Node
 * tests use it directly.
 */
import type { Job, JobState, LifecycleEvent } from "./api-types.js";

/** The jobs list's filters, as in its hash. Empty means any. */
export interface Filters {
  owner: string;
  queue: string;
  status: string;
  type: string;
}

/** Whether a job belongs on a list with these filters. */
export function matches(job: Job, filters: Filters): boolean {
  return (
    (!filters.status || job.status === filters.status) &&
    (!filters.queue || job.queue === filters.queue) &&
    (!filters.type || job.type === filters.type) &&
    (!filters.owner || job.owner === filters.owner)
  );
}

/** What events (or a poll) changed about one job shown. */
export interface RowChange {
  attempt?: number;
  progress?: Job["progress"];
  status?: JobState;
}

const STATUS_OF_EVENT: Partial<Record<LifecycleEvent["name"], JobState>> = {
  "job:cancelled": "cancelled",
  "job:completed": "completed",
  "job:failed": "failed",
  "job:retrying": "scheduled",
  "job:started": "running",
};

/**
 * Folds a batch of events into one change per job that `isShown`, and
 * collects the jobs enqueued: thousands of events become a few DOM writes.
 */
export function foldEvents(events: readonly LifecycleEvent[], isShown: (id: string) => boolean): { changes: Map<string, RowChange>; enqueued: Job[] } {
  const changes = new Map<string, RowChange>();
  const enqueued: Job[] = [];
  for (const event of events) {
    const { id } = event.payload;
    if (event.name === "job:enqueued") {
      if (event.payload.job) enqueued.push(event.payload.job);
      continue;
    }
    if (!isShown(id)) continue;
    const change = changes.get(id) ?? {};
    const status = STATUS_OF_EVENT[event.name];
    if (status) change.status = status;
    if (event.payload.attempt !== undefined) change.attempt = event.payload.attempt;
    if (event.name === "job:progress" && event.payload.progress) change.progress = event.payload.progress;
    changes.set(id, change);
  }
  return { changes, enqueued };
}
