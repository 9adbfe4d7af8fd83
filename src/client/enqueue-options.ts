import { v7 as uuidv7 } from "uuid";
import { z } from "zod";
import type { JobInsert } from "../backend/types.js";
import { validationError } from "../errors.js";
import type { JobTypeDefinition } from "../job/definition.js";
import type { Duration } from "../job/duration.js";
import { attemptsSchema, durationSchema, parseInput, prioritySchema, timerDurationSchema, tokenStringSchema } from "../job/validate.js";

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
  /**
   * Enqueue inside the application's own transaction: the job exists if and
   * only if it commits, and no worker sees it before. PostgreSQL: a `pg`
   * client (`pg.Client`, or `await pool.connect()`) after `BEGIN`. SQLite: the
   * application's better-sqlite3 database with a transaction open, connected
   * to the same file; inside `db.transaction(() => ...)`, which cannot span an
   * `await`, use `enqueueSync`.
   */
  tx?: object;
}

/** Options of `enqueueSync`: `tx` is required. */
export type SyncEnqueueOptions = EnqueueOptions & { tx: object };

const MAX_RUN_AT = Date.UTC(9999, 11, 31);

/** ISO 8601 date-time with an explicit zone: a time without one would silently depend on the host's time zone. */
const ISO_DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2})$/;

/** True when the calendar date exists (Date.parse turns 2030-02-31 into March 3rd). */
function isRealDate(year: number, month: number, day: number): boolean {
  const date = new Date(Date.UTC(year, month - 1, day));
  return date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
}

const runAtSchema = z
  .union([z.date(), z.string(), z.number()])
  .transform((value, ctx) => {
    const ms = value instanceof Date ? value.getTime() : typeof value === "number" ? value : Date.parse(value);
    if (typeof value === "string") {
      const match = ISO_DATE_TIME.exec(value);
      if (!match || !isRealDate(Number(match[1]), Number(match[2]), Number(match[3]))) {
        ctx.addIssue({
          code: "custom",
          message: `expected an ISO 8601 date-time with a zone, such as "2030-01-31T09:00:00Z" or "2030-01-31T10:00:00+01:00", got ${JSON.stringify(value)}`,
        });
        return z.NEVER;
      }
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
    timeout: timerDurationSchema.nullable().optional(),
    uniqueKey: tokenStringSchema.optional(),
  })
  .strict()
  .refine((o) => o.delay === undefined || o.runAt === undefined, { message: "give either delay or runAt, not both", path: ["runAt"] });

export type ParsedEnqueueOptions = z.output<typeof enqueueOptionsSchema>;

/** Validates the options; `tx` passes through untouched (the engine checks it is a connection it can use). */
export function parseEnqueueOptions(options: unknown): { parsed: ParsedEnqueueOptions; tx: object | undefined } {
  if (typeof options === "object" && options !== null && !Array.isArray(options) && "tx" in options) {
    const { tx, ...rest } = options as { tx: unknown };
    if (typeof tx !== "object" || tx === null) {
      throw validationError("OFFLOAD_ERR_INVALID_INPUT", "enqueue options", [
        { message: "expected the application's database connection inside a transaction (a pg client, or a better-sqlite3 database)", path: "options.tx" },
      ]);
    }
    return { parsed: parseInput(enqueueOptionsSchema, rest, "enqueue options", "options"), tx };
  }
  // No options, the common call: the schema's answer for none, worked out once. Measured in the
  // latency benchmark (one enqueue every 20 ms, code never optimised): 0.125 -> 0.085 ms a call.
  if (options === undefined || options === null) {
    noOptions ??= Object.freeze(parseInput(enqueueOptionsSchema, {}, "enqueue options", "options"));
    return { parsed: noOptions, tx: undefined };
  }
  return { parsed: parseInput(enqueueOptionsSchema, options, "enqueue options", "options"), tx: undefined };
}

let noOptions: ParsedEnqueueOptions | undefined;

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
