import { z } from "zod";
import { parseInput } from "./validate.js";

/** A job's progress as stored and shown. Every field is `null` until reported. */
export interface JobProgress {
  /** Items that failed so far. */
  failed: number | null;
  /** Free text for people, at most 1,000 characters. */
  message: string | null;
  /** 0 to 100. Derived as 100 × (processed + failed) / total when only counts are reported. */
  percent: number | null;
  /** Items done so far. */
  processed: number | null;
  /** Items expected in all. */
  total: number | null;
}

/** What a handler may report: any subset of {@link JobProgress}. */
export type ProgressUpdate = Partial<{ [K in keyof JobProgress]: NonNullable<JobProgress[K]> }>;

export const EMPTY_PROGRESS: Readonly<JobProgress> = Object.freeze({
  failed: null,
  message: null,
  percent: null,
  processed: null,
  total: null,
});

const count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

const progressUpdateSchema = z
  .object({
    failed: count.optional(),
    message: z.string().max(1_000).optional(),
    percent: z.number().min(0).max(100).optional(),
    processed: count.optional(),
    total: count.optional(),
  })
  .strict();

/** Validates a handler's progress report; throws `OFFLOAD_ERR_INVALID_INPUT` naming the field. */
export function parseProgressUpdate(update: unknown): ProgressUpdate {
  return parseInput(progressUpdateSchema, update, "progress", "progress");
}

/**
 * Merges a report into the current progress. Fields not reported keep their
 * value; `percent`, when not reported, is derived from the counts if `total` is
 * known and positive.
 */
export function mergeProgress(current: JobProgress, update: ProgressUpdate): JobProgress {
  const next: JobProgress = {
    failed: update.failed ?? current.failed,
    message: update.message ?? current.message,
    percent: update.percent ?? current.percent,
    processed: update.processed ?? current.processed,
    total: update.total ?? current.total,
  };
  const countsReported = update.processed !== undefined || update.failed !== undefined || update.total !== undefined;
  if (update.percent === undefined && countsReported && next.total !== null && next.total > 0) {
    const done = (next.processed ?? 0) + (next.failed ?? 0);
    next.percent = Math.min(100, Math.round((10_000 * done) / next.total) / 100);
  }
  return next;
}
