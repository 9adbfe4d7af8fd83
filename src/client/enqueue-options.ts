import { v7 as uuidv7 } from "uuid";
import { z } from "zod";
import type { JobInsert } from "../backend/types.js";
import { OffloadError, validationError } from "../errors.js";
import type { JobTypeDefinition } from "../job/definition.js";
import type { Duration } from "../job/duration.js";
import { attemptsSchema, durationSchema, parseInput, prioritySchema, tokenStringSchema } from "../job/validate.js";

/** Per-job options of `enqueue` and `enqueueMany`; each overrides the job type's default. */
export interface EnqueueOptions {
  /** Maximum attempts for this job. */
  attempts?: number;
  /** Run no earlier than this long from now. Not with `runAt`. */
  delay?: Duration;
  /** Who the job belongs to, e.g. a user id; the HTTP API scopes tokens by it. */
  owner?: string;
  priority?: number;
  /** Run no earlier than this time: a Date, an ISO 8601 string or epoch milliseconds. Not with `delay`. */
  runAt?: Date | string | number;
  /** Per-attempt time limit for this job, or `null` for none. */
  timeout?: Duration | null;
  /** While an unfinished job of this type has this key, enqueue returns it instead of storing a new one. */
  uniqueKey?: string;
}

const MAX_RUN_AT = Date.UTC(9999, 11, 31);

const runAtSchema = z
  .union([z.date(), z.string(), z.number()])
  .transform((value, ctx) => {
    const ms = value instanceof Date ? value.getTime() : typeof value === "number" ? value : Date.parse(value);
    if (typeof value === "string" && !/^\d{4}-\d{2}-\d{2}T/.test(value)) {
      ctx.addIssue({ code: "custom", message: `expected an ISO 8601 date-time such as "2030-01-31T09:00:00Z", got ${JSON.stringify(value)}` });
      return z.NEVER;
    }
    if (!Number.isFinite(ms) || ms < 0 || ms > MAX_RUN_AT) {
      ctx.addIssue({ code: "custom", message: "expected a valid date between 1970 and 9999" });
      return z.NEVER;
    }
    return Math.round(ms);
  });

const enqueueOptionsSchema = z
  .object({
    attempts: attemptsSchema.optional(),
    delay: durationSchema.optional(),
    owner: tokenStringSchema.optional(),
    priority: prioritySchema.optional(),
    runAt: runAtSchema.optional(),
    timeout: durationSchema.nullable().optional(),
    uniqueKey: tokenStringSchema.optional(),
  })
  .strict()
  .refine((o) => o.delay === undefined || o.runAt === undefined, { message: "give either delay or runAt, not both", path: ["runAt"] });

export type ParsedEnqueueOptions = z.output<typeof enqueueOptionsSchema>;

export function parseEnqueueOptions(options: unknown): ParsedEnqueueOptions {
  return parseInput(enqueueOptionsSchema, options ?? {}, "enqueue options", "options");
}

/** Serialises a validated payload; the stored form is JSON, so it must survive JSON. */
export function payloadToJson(payload: unknown, path = "payload"): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(payload);
  } catch (error) {
    throw validationError("OFFLOAD_ERR_INVALID_PAYLOAD", "payload", [{ message: `must be JSON-serialisable: ${(error as Error).message}`, path }]);
  }
  if (text === undefined) {
    throw validationError("OFFLOAD_ERR_INVALID_PAYLOAD", "payload", [{ message: "must be a JSON value, got undefined or a function", path }]);
  }
  return text;
}

/** Builds the row to store from a type's defaults and the caller's options. */
export function buildInsert(definition: JobTypeDefinition, payloadJson: string, options: ParsedEnqueueOptions): JobInsert {
  if (options.timeout === 0) throw new OffloadError("OFFLOAD_ERR_INVALID_INPUT", "Invalid enqueue options: options.timeout: must be at least 1ms, or null for none");
  return {
    delayMs: options.delay ?? null,
    id: uuidv7(),
    maxAttempts: options.attempts ?? definition.options.attempts,
    owner: options.owner ?? null,
    payloadJson,
    priority: options.priority ?? definition.options.priority,
    queue: definition.options.queue,
    runAt: options.runAt ?? null,
    timeoutMs: options.timeout === undefined ? definition.options.timeoutMs : options.timeout,
    type: definition.name,
    uniqueKey: options.uniqueKey ?? null,
  };
}
