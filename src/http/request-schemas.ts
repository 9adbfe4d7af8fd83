import { z } from "zod";
import { OffloadError, validationError, type ValidationIssue } from "../errors.js";
import { JOB_STATES } from "../job/states.js";
import { nameSchema, parseInput, tokenStringSchema } from "../job/validate.js";

/**
 * What the routes accept, checked before anything reaches the library. Only
 * the shape is checked here (known fields, names, ids); the values of enqueue
 * options and payloads are validated by the library itself, so the rules
 * live in one place.
 */

/** A job id: a UUID (Offload's are UUIDv7). */
export const jobIdSchema = z.string().regex(/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/, "expected a job id (a UUID)");

export const jobParamsSchema = z.object({ id: jobIdSchema }).strict();

export const queueParamsSchema = z.object({ name: nameSchema }).strict();

/** `limit` as a query string: clamped into 1..500 rather than refused, as the API promises. */
const limitSchema = z
  .string()
  .regex(/^-?\d{1,12}$/, "expected a whole number")
  .transform((text) => Math.min(500, Math.max(1, Number(text))));

export const listQuerySchema = z
  .object({
    cursor: z.string().min(1).max(200).optional(),
    limit: limitSchema.optional(),
    owner: tokenStringSchema.optional(),
    queue: nameSchema.optional(),
    status: z.enum(JOB_STATES).optional(),
    type: nameSchema.optional(),
  })
  .strict();

export const throughputQuerySchema = z
  .object({
    minutes: z
      .string()
      .regex(/^\d{1,2}$/, "expected a whole number of minutes from 1 to 60")
      .transform(Number)
      .refine((n) => n >= 1 && n <= 60, "expected a whole number of minutes from 1 to 60")
      .optional(),
  })
  .strict();

export const eventsQuerySchema = z.object({ queue: nameSchema.optional() }).strict();

/** No query parameters at all. */
export const noQuerySchema = z.object({}).strict();

/** Bodies of actions that take none: nothing, or an empty object. */
export const emptyBodySchema = z.union([z.undefined(), z.object({}).strict()]);

/**
 * `POST /api/jobs`. The option fields are those of the library's
 * `EnqueueOptions`, whose own validation checks their values.
 */
export const createJobBodySchema = z
  .object({
    attempts: z.unknown().optional(),
    delay: z.unknown().optional(),
    owner: z.unknown().optional(),
    payload: z.unknown().refine((v) => v !== undefined, "required: the job's payload, {} when the type takes none"),
    priority: z.unknown().optional(),
    queue: nameSchema.optional(),
    runAt: z.unknown().optional(),
    timeout: z.unknown().optional(),
    type: nameSchema,
    uniqueKey: z.unknown().optional(),
  })
  .strict();

export const idempotencyKeySchema = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[\x20-\x7e]+$/, "expected 1-200 printable ASCII characters");

/** Parses one part of a request (`body`, `query`, `params`, a header) or throws naming each bad field. */
export function parseRequest<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  return parseInput(schema, value, what);
}

/**
 * Renames the fields of a library validation error to the request's: the
 * library says `options.priority`, the request's field is `priority`.
 */
export function asRequestError(error: unknown): unknown {
  if (!(error instanceof OffloadError) || !error.details?.issues) return error;
  if (error.code !== "OFFLOAD_ERR_INVALID_INPUT" && error.code !== "OFFLOAD_ERR_INVALID_PAYLOAD") return error;
  const issues = error.details.issues.map((issue: ValidationIssue) => ({ ...issue, path: issue.path.replace(/^options\.?/, "") }));
  if (issues.every((issue, i) => issue.path === error.details!.issues![i]!.path)) return error;
  const renamed = validationError(error.code, "request body", issues);
  return new OffloadError(error.code, renamed.message, { details: { ...error.details, issues } });
}
