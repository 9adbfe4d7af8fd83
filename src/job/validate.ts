import { z } from "zod";
import { parseDuration } from "./duration.js";
import { validationError, type ValidationIssue } from "../errors.js";

/** Names of job types and queues: letters, digits and `. _ : -`, 1 to 100 characters. */
export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$/;

export const nameSchema = z
  .string()
  .regex(NAME_PATTERN, "expected 1-100 characters of letters, digits and . _ : - starting with a letter or digit");

/** A {@link Duration} that parses to milliseconds. */
export const durationSchema = z.union([z.number(), z.string()]).transform((value, ctx) => {
  const parsed = parseDuration(value);
  if ("error" in parsed) {
    ctx.addIssue({ code: "custom", message: parsed.error });
    return z.NEVER;
  }
  return parsed.ms;
});

/** Node.js runs a timer longer than this after 1 ms instead, so durations that become timers stop here (about 24.8 days). */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** A {@link Duration} that becomes a timer: 1 ms to {@link MAX_TIMER_MS}. */
export const timerDurationSchema = durationSchema.refine((ms) => ms >= 1 && ms <= MAX_TIMER_MS, {
  message: `must be from 1ms to ${MAX_TIMER_MS}ms (about 24.8 days, the longest timer Node.js runs)`,
});

/** Priority: an integer from -1,000,000 to 1,000,000; higher runs first. */
export const prioritySchema = z.number().int().min(-1_000_000).max(1_000_000);

/** Attempts: 1 to 1,000. */
export const attemptsSchema = z.number().int().min(1).max(1_000);

/** Free-form identifier for owners and unique keys: 1-200 characters, no control characters. */
export const tokenStringSchema = z
  .string()
  .min(1)
  .max(200)
  // eslint-disable-next-line no-control-regex
  .regex(/^[^\u0000-\u001f\u007f]*$/, "must not contain control characters");

function zodIssues(error: z.ZodError, prefix: string): ValidationIssue[] {
  return error.issues.map((issue) => {
    const keys = issue.code === "unrecognized_keys" ? issue.keys : [];
    const path = [prefix, ...issue.path.map(String)].filter(Boolean).join(".");
    if (keys.length > 0) {
      return { path, message: `unknown field${keys.length > 1 ? "s" : ""} ${keys.map((k) => JSON.stringify(k)).join(", ")}` };
    }
    return { path, message: issue.message };
  });
}

/** Parses `value` with a zod schema or throws `OFFLOAD_ERR_INVALID_INPUT` naming every bad field. */
export function parseInput<S extends z.ZodType>(schema: S, value: unknown, what: string, prefix = ""): z.output<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw validationError("OFFLOAD_ERR_INVALID_INPUT", what, zodIssues(result.error, prefix));
  return result.data;
}
