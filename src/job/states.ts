/**
 * The job state machine. This one list feeds the TypeScript union, the SQL
 * `CHECK` constraints of every engine and the HTTP API's enum.
 *
 * ```
 * enqueue ─┬─> scheduled ──(runAt due)──> queued ──(claim)──> running ─┬─> completed
 *          └─> queued                       ^                          ├─> failed      (last attempt, PermanentError)
 *                                           │                          ├─> cancelled   (cancel requested)
 *              (stop(): released, attempt refunded; lease expired) ────┤
 *              scheduled <──(thrown error, attempts left: backoff) ────┘
 * failed | cancelled ──(retry)──> queued
 * ```
 */
export const JOB_STATES = ["scheduled", "queued", "running", "completed", "failed", "cancelled"] as const;

export type JobState = (typeof JOB_STATES)[number];

/** States a job never leaves by itself; only `retry` (from failed or cancelled) moves it again. */
export const FINISHED_STATES = ["completed", "failed", "cancelled"] as const satisfies readonly JobState[];

export type FinishedState = (typeof FINISHED_STATES)[number];

/** States in which a job still holds its `uniqueKey`. */
export const UNFINISHED_STATES = ["scheduled", "queued", "running"] as const satisfies readonly JobState[];

/** Every move the engines may make, for documentation and for the model-based tests. */
export const TRANSITIONS: Readonly<Record<JobState, readonly JobState[]>> = {
  cancelled: ["queued"],
  completed: [],
  failed: ["queued"],
  queued: ["running", "cancelled"],
  running: ["completed", "failed", "cancelled", "scheduled", "queued"],
  scheduled: ["queued", "cancelled"],
};

/** States from which {@link TRANSITIONS} allows `retry`. */
export const RETRYABLE_STATES = ["failed", "cancelled"] as const satisfies readonly JobState[];

export function isFinished(state: JobState): state is FinishedState {
  return state === "completed" || state === "failed" || state === "cancelled";
}

/** SQL list literal of states, e.g. `'completed','failed','cancelled'`, for constraints and partial indexes. */
export function sqlStateList(states: readonly JobState[]): string {
  return states.map((s) => `'${s}'`).join(",");
}
