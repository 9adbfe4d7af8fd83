import type { FastifyInstance } from "fastify";
import { OffloadError } from "../../errors.js";
import { createMetrics } from "../../observability/metrics.js";
import { authenticate, principalOf, type HttpContext } from "../context.js";
import { buildOpenApiDocument } from "../openapi.js";
import { noQuerySchema, parseRequest } from "../request-schemas.js";

/** How long `/readyz` waits for the database before answering 503. */
const READY_TIMEOUT_MS = 2_000;

/** A job id no job has: reading it is a cheap round trip to the database. */
const PROBE_ID = "00000000-0000-7000-8000-000000000000";

async function databaseReachable(ctx: HttpContext): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), READY_TIMEOUT_MS);
  });
  try {
    return await Promise.race([ctx.offload.getJob(PROBE_ID).then(() => true), timeout]);
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

/** `/healthz`, `/readyz`, `/metrics`, `/api/openapi.json` and `/api/session`. */
export function registerSystemRoutes(app: FastifyInstance, ctx: HttpContext, version: string): void {
  app.get("/healthz", { onRequest: authenticate(ctx, "public") }, async (request) => {
    parseRequest(noQuerySchema, request.query, "query");
    return { status: "ok" };
  });

  app.get("/readyz", { onRequest: authenticate(ctx, "public") }, async (request) => {
    parseRequest(noQuerySchema, request.query, "query");
    if (ctx.closing) throw new OffloadError("OFFLOAD_ERR_NOT_READY", "The server is shutting down");
    if (!(await databaseReachable(ctx))) throw new OffloadError("OFFLOAD_ERR_NOT_READY", "The database cannot be reached");
    return { status: "ready" };
  });

  // Who the caller is, for clients that shape their views by role (the dashboard hides actions a token may not take).
  app.get("/api/session", { onRequest: authenticate(ctx, "read") }, async (request) => {
    parseRequest(noQuerySchema, request.query, "query");
    const { role } = principalOf(request);
    return { owner: role.kind === "owner" ? role.owner : null, role: role.kind, tokensRequired: ctx.tokens !== null };
  });

  const document = buildOpenApiDocument({ prefix: app.prefix, version });
  app.get("/api/openapi.json", { onRequest: authenticate(ctx, "public") }, async (request) => {
    parseRequest(noQuerySchema, request.query, "query");
    return document;
  });

  if (ctx.options.metrics) {
    const metrics = createMetrics(ctx.offload);
    app.addHook("onClose", async () => metrics.close());
    app.get("/metrics", { onRequest: authenticate(ctx, "operator-read") }, async (request, reply) => {
      parseRequest(noQuerySchema, request.query, "query");
      const text = await metrics.render();
      return reply.type(metrics.contentType).send(text);
    });
  }
}
