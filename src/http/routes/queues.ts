import type { FastifyInstance } from "fastify";
import { authenticate, type HttpContext } from "../context.js";
import { emptyBodySchema, noQuerySchema, parseRequest, queueParamsSchema, throughputQuerySchema } from "../request-schemas.js";

/** `GET /api/queues`, `GET /api/queues/throughput`, `GET /api/workers`, `POST /api/queues/:name/pause` and `/resume`. */
export function registerQueueRoutes(app: FastifyInstance, ctx: HttpContext): void {
  app.get("/api/queues", { onRequest: authenticate(ctx, "operator-read") }, async (request) => {
    parseRequest(noQuerySchema, request.query, "query");
    return { items: await ctx.offload.queueStats() };
  });

  app.get("/api/queues/throughput", { onRequest: authenticate(ctx, "operator-read") }, async (request) => {
    const { minutes } = parseRequest(throughputQuerySchema, request.query, "query");
    return ctx.offload.queueThroughput(minutes === undefined ? {} : { minutes });
  });

  app.get("/api/workers", { onRequest: authenticate(ctx, "operator-read") }, async (request) => {
    parseRequest(noQuerySchema, request.query, "query");
    return { items: await ctx.offload.workers() };
  });

  for (const action of ["pause", "resume"] as const) {
    app.post(`/api/queues/:name/${action}`, { onRequest: authenticate(ctx, "admin") }, async (request) => {
      const { name } = parseRequest(queueParamsSchema, request.params, "path");
      parseRequest(noQuerySchema, request.query, "query");
      parseRequest(emptyBodySchema, request.body, "request body");
      const state = action === "pause" ? await ctx.offload.pauseQueue(name) : await ctx.offload.resumeQueue(name);
      return { paused: state.paused, pausedAt: state.pausedAt === null ? null : new Date(state.pausedAt).toISOString(), queue: state.queue };
    });
  }
}
