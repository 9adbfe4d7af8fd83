import { z } from "zod";
import { durationSchema } from "./validate.js";

/**
 * How long to wait before the next attempt. Either a policy object or a function
 * `(attempt, error) => ms`, where `attempt` is the attempt that just failed (1-based).
 */
export type Backoff =
  | {
      /** Base delay. Default `"1s"`. */
      delay?: number | string;
      /** Apply "equal jitter": wait a random time between half and all of the delay. Default `true`. */
      jitter?: boolean;
      /** Upper bound of the delay. Default `"1h"`. */
      max?: number | string;
      /** `exponential`: delay × 2^(attempt−1); `fixed`: delay each time. */
      type: "exponential" | "fixed";
    }
  | ((attempt: number, error: unknown) => number);

export const backoffPolicySchema = z
  .object({
    delay: durationSchema.optional(),
    jitter: z.boolean().optional(),
    max: durationSchema.optional(),
    type: z.enum(["exponential", "fixed"]),
  })
  .strict();

/** A backoff with durations already parsed to milliseconds. */
export type ResolvedBackoff =
  | { delayMs: number; jitter: boolean; maxMs: number; type: "exponential" | "fixed" }
  | ((attempt: number, error: unknown) => number);

/** Default: exponential from 1 s, capped at 1 h, with jitter. Attempt 5 waits 8-16 s. */
export const DEFAULT_BACKOFF: ResolvedBackoff = { delayMs: 1_000, jitter: true, maxMs: 3_600_000, type: "exponential" };

export function resolveBackoff(parsed: z.output<typeof backoffPolicySchema>): ResolvedBackoff {
  return {
    delayMs: parsed.delay ?? 1_000,
    jitter: parsed.jitter ?? true,
    maxMs: parsed.max ?? 3_600_000,
    type: parsed.type,
  };
}

/**
 * Milliseconds to wait after `attempt` failed. A user function that throws or
 * returns something other than a non-negative finite number falls back to the
 * default policy, so a buggy backoff never loses a job.
 */
export function backoffDelay(backoff: ResolvedBackoff, attempt: number, error: unknown, random: () => number = Math.random): number {
  if (typeof backoff === "function") {
    try {
      const ms = backoff(attempt, error);
      if (typeof ms === "number" && Number.isFinite(ms) && ms >= 0) return Math.round(ms);
    } catch {
      // fall through to the default policy
    }
    return backoffDelay(DEFAULT_BACKOFF, attempt, error, random);
  }
  const base = backoff.type === "fixed" ? backoff.delayMs : backoff.delayMs * 2 ** Math.min(attempt - 1, 52);
  const capped = Math.min(base, backoff.maxMs);
  return Math.round(backoff.jitter ? capped / 2 + random() * (capped / 2) : capped);
}
