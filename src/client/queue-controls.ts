import { createHash } from "node:crypto";
import { z } from "zod";
import type { QueueStats, QueueThroughput, QueueThroughputSeries, WorkerStatus } from "../backend/types.js";
import { JOB_STATES, type JobState } from "../job/states.js";
import { durationSchema, MAX_TIMER_MS, tokenStringSchema } from "../job/validate.js";
import type { QueueSummary, QueueThroughputHistory, QueueThroughputView, WorkerView } from "./queue-views.js";

export type { QueueSummary, QueueThroughputHistory, QueueThroughputView, WorkerView } from "./queue-views.js";

function throughput(t: QueueThroughput): QueueThroughputView {
  return { completed: t.completed, failed: t.failed, processed: t.completed + t.failed };
}

function averageWait(t: QueueThroughput): number | null {
  const n = t.completed + t.failed;
  return n === 0 ? null : Math.round((t.waitMs / n) * 10) / 10;
}

export function throughputHistory(series: QueueThroughputSeries): QueueThroughputHistory {
  return {
    bucketSeconds: 60,
    buckets: series.buckets.map((ms) => new Date(ms).toISOString()),
    items: series.queues.map((q) => ({
      completed: q.completed,
      failed: q.failed,
      latencyMs: q.waitMs.map((wait, i) => averageWait({ completed: q.completed[i]!, failed: q.failed[i]!, waitMs: wait })),
      queue: q.queue,
    })),
  };
}

export function workerView(status: WorkerStatus): WorkerView {
  return {
    host: status.host,
    id: status.id,
    lastSeenAt: new Date(status.lastSeenAt).toISOString(),
    pid: status.pid,
    queues: status.queues,
    running: status.running.map((r) => ({ ...r, startedAt: new Date(r.startedAt).toISOString() })),
    startedAt: new Date(status.startedAt).toISOString(),
  };
}

const ZERO: QueueThroughput = { completed: 0, failed: 0, waitMs: 0 };

/**
 * The engine's statistics as the public API shows them, plus a zero entry for
 * each queue of a defined job type that has no jobs yet, so a new
 * deployment lists its queues before the first enqueue.
 */
export function summarizeQueues(stats: readonly QueueStats[], definedQueues: Iterable<string>, now: number): QueueSummary[] {
  const byName = new Map<string, QueueSummary>();
  for (const s of stats) {
    byName.set(s.queue, {
      counts: Object.fromEntries(JOB_STATES.map((state) => [state, s.counts[state]])) as Record<JobState, number>,
      lastHour: throughput(s.lastHour),
      lastMinute: throughput(s.lastMinute),
      latencyMs: { lastHour: averageWait(s.lastHour), lastMinute: averageWait(s.lastMinute) },
      oldestQueuedAgeMs: s.oldestQueuedAt === null ? null : Math.max(0, now - s.oldestQueuedAt),
      paused: s.paused,
      queue: s.queue,
    });
  }
  for (const queue of definedQueues) {
    if (byName.has(queue)) continue;
    byName.set(queue, {
      counts: Object.fromEntries(JOB_STATES.map((state) => [state, 0])) as Record<JobState, number>,
      lastHour: throughput(ZERO),
      lastMinute: throughput(ZERO),
      latencyMs: { lastHour: null, lastMinute: null },
      oldestQueuedAgeMs: null,
      paused: false,
      queue,
    });
  }
  return [...byName.values()].sort((a, b) => a.queue.localeCompare(b.queue));
}

/** How long an idempotency key is remembered by default: 24 hours, as common HTTP APIs do. */
export const DEFAULT_IDEMPOTENCY_TTL_MS = 24 * 3_600_000;

/** Options of {@link Offload.enqueueIdempotent}. */
export interface IdempotencyOptions {
  /** The key: 1-200 characters, no control characters. */
  key: string;
  /** Keys of different scopes never meet, e.g. one per user or API token. Default `""`. */
  scope?: string;
  /** How long the key is remembered. Default `"24h"`. */
  ttl?: number | string;
}

export const idempotencyOptionsSchema = z
  .object({
    key: tokenStringSchema,
    scope: z.string().max(300).optional(),
    ttl: durationSchema.refine((ms) => ms >= 1 && ms <= MAX_TIMER_MS, `must be from 1ms to ${MAX_TIMER_MS}ms (about 24.8 days)`).optional(),
  })
  .strict();

/** JSON with object keys sorted at every level, so `{a, b}` and `{b, a}` are one request. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v === null || typeof v !== "object" || Array.isArray(v)) return v;
    return Object.fromEntries(Object.keys(v).sort().map((k) => [k, (v as Record<string, unknown>)[k]]));
  });
}

/** SHA-256 of the request's canonical JSON: what "the same request" means for an idempotency key. */
export function requestFingerprint(request: { options: unknown; payload: unknown; type: string }): string {
  return createHash("sha256").update(canonicalJson(request)).digest("hex");
}
