import type { StandardSchemaV1 } from "@standard-schema/spec";
import { z } from "zod";
import { OffloadError, validationError, type ValidationIssue } from "../errors.js";
import { backoffPolicySchema, resolveBackoff, DEFAULT_BACKOFF, type Backoff, type ResolvedBackoff } from "./backoff.js";
import type { Duration } from "./duration.js";
import type { ProgressUpdate } from "./progress.js";
import { attemptsSchema, nameSchema, parseInput, prioritySchema, timerDurationSchema } from "./validate.js";

/** Options of a job type, given to `offload.define`. */
export interface JobTypeOptions<S extends StandardSchemaV1 = StandardSchemaV1> {
  /** Maximum attempts, the first included. Default 3. */
  attempts?: number;
  /** Wait between attempts. Default exponential from 1 s, capped at 1 h, with jitter. */
  backoff?: Backoff;
  /** Higher runs first. Default 0. */
  priority?: number;
  /** Queue the jobs go to. Default `"default"`. */
  queue?: string;
  /** Any Standard Schema validator (zod, valibot, arktype). Payloads are checked at enqueue and again before running. */
  schema: S;
  /** Per-attempt time limit; the signal aborts at the deadline. Default: none. */
  timeout?: Duration;
}

/** What a handler gets besides its payload. */
export interface JobContext {
  /** This attempt's number, from 1. */
  readonly attempt: number;
  readonly id: string;
  readonly maxAttempts: number;
  readonly owner: string | null;
  /**
   * Reports progress: any subset of percent (0-100), message, processed,
   * failed, total. Cheap to call often: writes are coalesced, and the last
   * value is stored before the job finishes. Throws on invalid values.
   */
  progress(update: ProgressUpdate): Promise<void>;
  readonly queue: string;
  /**
   * Aborted on cancel, timeout, lost lease and shutdown; `signal.reason` is an
   * Error whose `name` is `CancelledError`, `TimeoutError`, `LeaseLostError`
   * or `ShutdownError`. Pass it to fetch, child processes and streams.
   */
  readonly signal: AbortSignal;
  readonly type: string;
}

export type JobHandler<Payload, Result> = (payload: Payload, ctx: JobContext) => Promise<Result> | Result;

/** A job type's options with defaults applied and durations in milliseconds. */
export interface ResolvedJobTypeOptions {
  attempts: number;
  backoff: ResolvedBackoff;
  priority: number;
  queue: string;
  timeoutMs: number | null;
}

/** Everything the worker and the client need to know of a defined type. */
export interface JobTypeDefinition {
  handler: JobHandler<unknown, unknown>;
  name: string;
  options: ResolvedJobTypeOptions;
  schema: StandardSchemaV1;
}

const definitionOptionsSchema = z
  .object({
    attempts: attemptsSchema.optional(),
    backoff: z.union([z.function(), backoffPolicySchema]).optional(),
    priority: prioritySchema.optional(),
    queue: nameSchema.optional(),
    schema: z.custom<StandardSchemaV1>(isStandardSchema, "expected a Standard Schema validator (zod, valibot, arktype, ...)"),
    timeout: timerDurationSchema.optional(),
  })
  .strict();

function isStandardSchema(value: unknown): value is StandardSchemaV1 {
  const props = (value as StandardSchemaV1 | null)?.["~standard"];
  return typeof props === "object" && props !== null && props.version === 1 && typeof props.validate === "function";
}

export function resolveDefinition(name: unknown, options: unknown, handler: unknown): JobTypeDefinition {
  const typeName = parseInput(nameSchema, name, "job type name", "name");
  const parsed = parseInput(definitionOptionsSchema, options, `options of job type "${typeName}"`, "options");
  if (typeof handler !== "function") {
    throw validationError("OFFLOAD_ERR_INVALID_INPUT", `handler of job type "${typeName}"`, [
      { path: "handler", message: "expected a function (payload, ctx) => result" },
    ]);
  }
  return {
    handler: handler as JobHandler<unknown, unknown>,
    name: typeName,
    options: {
      attempts: parsed.attempts ?? 3,
      backoff:
        parsed.backoff === undefined
          ? DEFAULT_BACKOFF
          : typeof parsed.backoff === "function"
            ? (parsed.backoff as (attempt: number, error: unknown) => number)
            : resolveBackoff(parsed.backoff),
      priority: parsed.priority ?? 0,
      queue: parsed.queue ?? "default",
      timeoutMs: parsed.timeout ?? null,
    },
    schema: parsed.schema,
  };
}

/** A payload's validation: the parsed value (validators may transform it) or the issues, paths prefixed `payload`. */
export type PayloadCheck = { value: unknown } | { issues: ValidationIssue[] };

function toCheck(result: StandardSchemaV1.Result<unknown>): PayloadCheck {
  if (result.issues) {
    return {
      issues: result.issues.map((issue) => ({
        message: issue.message,
        path: ["payload", ...(issue.path ?? []).map((p) => String(typeof p === "object" ? p.key : p))].join("."),
      })),
    };
  }
  return { value: result.value };
}

/** Validates a payload with the type's Standard Schema, sync or async as the schema is. */
export async function validatePayload(schema: StandardSchemaV1, payload: unknown): Promise<PayloadCheck> {
  return toCheck(await schema["~standard"].validate(payload));
}

/**
 * Validates a payload synchronously, for `enqueueSync`; a schema whose
 * validation is asynchronous cannot be used there, and says so.
 */
export function validatePayloadSync(schema: StandardSchemaV1, payload: unknown, typeName: string): PayloadCheck {
  const result = schema["~standard"].validate(payload);
  if (result instanceof Promise) {
    result.catch(() => undefined);
    throw new OffloadError(
      "OFFLOAD_ERR_INVALID_INPUT",
      `Job type "${typeName}" validates its payload asynchronously, so it cannot be enqueued synchronously: use enqueue() (on PostgreSQL, or on SQLite inside BEGIN ... COMMIT)`,
    );
  }
  return toCheck(result);
}
