import { z } from "zod";
import type { PruneAges } from "../backend/types.js";
import { durationSchema, nameSchema, parseInput, timerDurationSchema } from "../job/validate.js";

/** Options of `offload.start()`. Durations accept milliseconds or strings such as `"3s"`. */
export interface WorkerOptions {
  /**
   * Slots per queue, e.g. `{ media: 2, default: 10 }`: only these queues are
   * worked. A number gives that many slots to every queue of the defined job
   * types. Default 10 per queue.
   */
  concurrency?: number | Record<string, number>;
  /** How often leases are renewed, one write per worker for all its jobs. Default `"3s"`, or a third of a shorter `leaseDuration`. */
  heartbeatInterval?: number | string;
  /** How long a claim holds a job without a heartbeat. Default `"10s"`. */
  leaseDuration?: number | string;
  /** How often to look for work when no wake-up came. Default `"1s"`. */
  pollInterval?: number | string;
  /** Longest delay before a progress report is written. Default `"100ms"`. */
  progressInterval?: number | string;
  /**
   * Age after which finished jobs are deleted, and how often to look.
   * Defaults: completed and cancelled `"7d"`, failed `"30d"`, every `"1m"`.
   * `completed: 0` keeps no completed job: the write that completes a job
   * deletes it (its result is not stored; `job:completed` events still carry
   * it), which makes each completion cheaper for the database.
   */
  prune?: { cancelled?: number | string; completed?: number | string; failed?: number | string; interval?: number | string };
  /** How often to return jobs whose lease expired to their queue. Default `"2s"`. */
  sweepInterval?: number | string;
}

export interface ResolvedWorkerOptions {
  concurrency: Map<string, number> | number;
  heartbeatIntervalMs: number;
  leaseMs: number;
  pollIntervalMs: number;
  progressIntervalMs: number;
  pruneAges: PruneAges;
  pruneIntervalMs: number;
  sweepIntervalMs: number;
}

const slots = z.number().int().min(1).max(10_000);

const workerOptionsSchema = z
  .object({
    concurrency: z
      .union([slots, z.record(nameSchema, slots).refine((queues) => Object.keys(queues).length > 0, "name at least one queue")])
      .optional(),
    heartbeatInterval: timerDurationSchema.optional(),
    leaseDuration: timerDurationSchema.optional(),
    pollInterval: timerDurationSchema.optional(),
    progressInterval: timerDurationSchema.optional(),
    prune: z
      .object({
        cancelled: durationSchema.optional(),
        completed: durationSchema.optional(),
        failed: durationSchema.optional(),
        interval: timerDurationSchema.optional(),
      })
      .strict()
      .optional(),
    sweepInterval: timerDurationSchema.optional(),
  })
  .strict()
  .refine((o) => o.heartbeatInterval === undefined || o.heartbeatInterval < (o.leaseDuration ?? 10_000), {
    message: "heartbeatInterval must be shorter than leaseDuration, or leases expire between heartbeats",
    path: ["heartbeatInterval"],
  });

/** Three heartbeats per lease: one lost or late write does not cost the lease. */
const HEARTBEATS_PER_LEASE = 3;

export function resolveWorkerOptions(options: unknown): ResolvedWorkerOptions {
  const o = parseInput(workerOptionsSchema, options ?? {}, "worker options", "options");
  return {
    concurrency: o.concurrency === undefined ? 10 : typeof o.concurrency === "number" ? o.concurrency : new Map(Object.entries(o.concurrency)),
    // The default heartbeat (3 s) shrinks with a short lease, so every lease sees several heartbeats.
    heartbeatIntervalMs: o.heartbeatInterval ?? Math.max(1, Math.min(3_000, Math.floor((o.leaseDuration ?? 10_000) / HEARTBEATS_PER_LEASE))),
    leaseMs: o.leaseDuration ?? 10_000,
    pollIntervalMs: o.pollInterval ?? 1_000,
    progressIntervalMs: o.progressInterval ?? 100,
    pruneAges: {
      cancelled: o.prune?.cancelled ?? 7 * 86_400_000,
      completed: o.prune?.completed ?? 7 * 86_400_000,
      failed: o.prune?.failed ?? 30 * 86_400_000,
    },
    pruneIntervalMs: o.prune?.interval ?? 60_000,
    sweepIntervalMs: o.sweepInterval ?? 2_000,
  };
}
