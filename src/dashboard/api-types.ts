/**
 * The HTTP API's shapes as the dashboard reads them (docs/http-api.md). The
 * dashboard talks to the server only through the public API; the shapes are
 * the server's own view types, imported as types (nothing of the server's
 * code enters the bundle but the list of states), so a change on either side
 * that breaks the other fails the type check.
 */
import type { JobProgress } from "../job/progress.js";
import type { JobErrorView as ServerJobErrorView, JobView } from "../job/view.js";

export { JOB_STATES, isFinished, type JobState } from "../job/states.js";
export type { JobProgress };

/** One failed attempt. */
export type JobErrorView = ServerJobErrorView;

/** A job as `GET /api/jobs/:id` gives it. */
export type Job = JobView;

/** A page of `GET /api/jobs`, newest first. */
export interface JobPage {
  items: Job[];
  nextCursor: string | null;
}

export type {
  QueueSummary,
  QueueThroughputHistory as QueueThroughput,
  QueueThroughputView as Throughput,
  WorkerView,
} from "../client/queue-views.js";

/** An item of `GET /api/job-types` (the fields the dashboard reads). */
export interface JobType {
  attempts: number;
  name: string;
  queue: string;
}

/** The kind of token signed in. */
export type Role = "admin" | "owner" | "read-only";

/** `GET /api/session`: who the token is. */
export interface Session {
  owner: string | null;
  role: Role;
  tokensRequired: boolean;
}

/** An event of `GET /api/events`: the fields every payload has, and the ones the dashboard reads. */
export interface LifecycleEvent {
  name: "job:cancelled" | "job:completed" | "job:enqueued" | "job:failed" | "job:progress" | "job:retrying" | "job:started";
  payload: {
    attempt?: number;
    id: string;
    job?: Job;
    progress?: JobProgress;
    queue: string;
    type: string;
  };
}
