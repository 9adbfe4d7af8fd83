/** A job's history as the job page shows it. No DOM: the Node tests use it directly. */
import type { Job } from "./api-types.js";
import { duration } from "./format.js";

/** One moment of a job's history. */
export interface TimelineEntry {
  at: string;
  detail?: string;
  kind: "cancelled" | "completed" | "created" | "failed" | "scheduled" | "started";
  label: string;
}

/**
 * The job's history as the API knows it: created, scheduled (when it was due
 * later than created), each failed attempt's end (and start, where the
 * server reports it), the current attempt's start, and its end.
 */
export function timeline(job: Job): TimelineEntry[] {
  const entries: TimelineEntry[] = [{ at: job.createdAt, kind: "created", label: "Created" }];
  if (Date.parse(job.runAt) - Date.parse(job.createdAt) > 1_000 && job.errors.length === 0) {
    entries.push({ at: job.runAt, kind: "scheduled", label: job.status === "scheduled" ? "Scheduled to run" : "Due" });
  }
  for (const error of job.errors) {
    if (error.startedAt) entries.push({ at: error.startedAt, kind: "started", label: `Attempt ${error.attempt} started` });
    entries.push({ at: error.at, detail: `${error.code}: ${error.message}`, kind: "failed", label: `Attempt ${error.attempt} failed` });
  }
  if (job.status === "scheduled" && job.errors.length > 0) entries.push({ at: job.runAt, kind: "scheduled", label: `Attempt ${job.attempt + 1} scheduled` });
  const lastFailed = job.errors.at(-1);
  // startedAt is the start of the latest attempt, whatever its outcome.
  if (job.startedAt && !job.errors.some((error) => error.attempt === job.attempt && error.startedAt)) {
    entries.push({ at: job.startedAt, kind: "started", label: `Attempt ${job.attempt} started` });
  }
  if (job.finishedAt && job.status === "completed") entries.push({ at: job.finishedAt, kind: "completed", label: `Completed${job.startedAt ? ` in ${duration(Date.parse(job.finishedAt) - Date.parse(job.startedAt))}` : ""}` });
  if (job.finishedAt && job.status === "cancelled") entries.push({ at: job.finishedAt, kind: "cancelled", label: "Cancelled" });
  // A job that failed for good ends with its last attempt's error; one failed otherwise (rescued, unknown type) gets its own entry.
  if (job.finishedAt && job.status === "failed" && lastFailed?.attempt !== job.attempt) entries.push({ at: job.finishedAt, kind: "failed", label: "Failed" });
  return entries.sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
}
