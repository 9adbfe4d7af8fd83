/**
 * Offload: durable background jobs for TypeScript.
 *
 * Everything public is exported from here; nothing else is part of the API.
 */
export { createOffload, Offload } from "./client/offload.js";
export type { JobType, ListJobsParams, OffloadOptions } from "./client/offload.js";
export type { EnqueueOptions, SyncEnqueueOptions } from "./client/enqueue-options.js";
export type { PostgresOptions } from "./backends/open-backend.js";
export { ERROR_CODES, OffloadError, PermanentError } from "./errors.js";
export type { ErrorCode, ValidationIssue } from "./errors.js";
export type { Backoff } from "./job/backoff.js";
export type { JobContext, JobHandler, JobTypeOptions } from "./job/definition.js";
export type { Duration } from "./job/duration.js";
export type { JobProgress, ProgressUpdate } from "./job/progress.js";
export { FINISHED_STATES, JOB_STATES } from "./job/states.js";
export type { JobState } from "./job/states.js";
export type { EnqueuedJob, JobErrorView, JobView } from "./job/view.js";
export type { OffloadEventName, OffloadEvents } from "./observability/events.js";
export type { WorkerOptions } from "./worker/worker-options.js";
export type { MigrationStatus } from "./backend/types.js";
export type { IdempotencyOptions, QueueSummary, QueueThroughputHistory, QueueThroughputView, WorkerView } from "./client/queue-controls.js";
