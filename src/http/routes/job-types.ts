import type { StandardSchemaV1 } from "@standard-schema/spec";
import type { FastifyInstance } from "fastify";
import type { JobTypeDefinition } from "../../job/definition.js";
import { authenticate, type HttpContext } from "../context.js";
import { noQuerySchema, parseRequest } from "../request-schemas.js";

/**
 * The payload's JSON Schema (draft 2020-12, what OpenAPI 3.1 uses), when the
 * validator implements Standard JSON Schema (zod 4 does, for schemas without
 * transforms or custom checks it cannot express); else null.
 */
export function payloadJsonSchema(schema: StandardSchemaV1): Record<string, unknown> | null {
  const converter = (schema["~standard"] as { jsonSchema?: { input?: (options: { target: string }) => Record<string, unknown> } }).jsonSchema;
  if (typeof converter?.input !== "function") return null;
  try {
    const json = converter.input({ target: "draft-2020-12" });
    return json !== null && typeof json === "object" ? json : null;
  } catch {
    return null;
  }
}

function describeType(definition: JobTypeDefinition) {
  const { attempts, backoff, priority, queue, timeoutMs } = definition.options;
  return {
    attempts,
    backoff: typeof backoff === "function" ? { type: "custom" } : backoff,
    name: definition.name,
    payloadSchema: payloadJsonSchema(definition.schema),
    priority,
    queue,
    timeoutMs,
  };
}

/** `GET /api/job-types`: the types this server can enqueue, with their options and payload schemas. */
export function registerJobTypeRoutes(app: FastifyInstance, ctx: HttpContext): void {
  app.get("/api/job-types", { onRequest: authenticate(ctx, "read") }, async (request) => {
    parseRequest(noQuerySchema, request.query, "query");
    const items = [...ctx.offload.jobTypes.values()].sort((a, b) => a.name.localeCompare(b.name)).map(describeType);
    return { items };
  });
}
