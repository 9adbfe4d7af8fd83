import { EMPTY_PROGRESS } from "../job/progress.js";
import type { JobRecord, JobInsert } from "./types.js";

/**
 * The record of a job just stored: everything comes from the insert but what
 * the engine decided (its clock gave createdAt and runAt, and so the status).
 * Engines build it rather than read the row back: no second parse of the
 * payload by the driver, no columns sent back that the caller sent.
 */
export function insertedRecord(job: JobInsert, decided: { createdAt: number; runAt: number; status: "queued" | "scheduled" }): JobRecord {
  return {
    attempt: 0,
    cancelRequested: false,
    createdAt: decided.createdAt,
    error: null,
    errors: [],
    finishedAt: null,
    id: job.id,
    leaseExpiresAt: null,
    maxAttempts: job.maxAttempts,
    owner: job.owner,
    payload: JSON.parse(job.payloadJson),
    priority: job.priority,
    progress: { ...EMPTY_PROGRESS },
    queue: job.queue,
    result: null,
    runAt: decided.runAt,
    startedAt: null,
    status: decided.status,
    timeoutMs: job.timeoutMs,
    type: job.type,
    uniqueKey: job.uniqueKey,
    updatedAt: decided.createdAt,
    workerId: null,
  };
}

/**
 * True for a job an enqueue may hand straight to a worker: due now (no run
 * time, no delay) and without a uniqueKey (whose holder lookup needs a
 * transaction).
 */
export function canHandOff(job: JobInsert): boolean {
  return job.uniqueKey === null && job.runAt === null && !((job.delayMs ?? 0) > 0);
}
