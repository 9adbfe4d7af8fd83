import type { FastifyInstance, FastifyRequest } from "fastify";
import { OffloadError } from "../../errors.js";
import type { EnqueueOptions } from "../../client/enqueue-options.js";
import type { JobView } from "../../job/view.js";
import { canSee, ownerOf, type Principal } from "../auth.js";
import { authenticate, jobNotFound, presentJob, principalOf, showsStacks, type HttpContext } from "../context.js";
import {
  asRequestError,
  createJobBodySchema,
  emptyBodySchema,
  idempotencyKeySchema,
  jobParamsSchema,
  listQuerySchema,
  noQuerySchema,
  parseRequest,
} from "../request-schemas.js";

/** Reads a job the caller may see, or throws the job's 404 (also for another owner's job: its existence is not revealed). */
export async function visibleJob(ctx: HttpContext, principal: Principal, id: string): Promise<JobView> {
  const job = await ctx.offload.getJob(id);
  if (!job || !canSee(principal, job.owner)) throw jobNotFound(id);
  return job;
}

function jobId(request: FastifyRequest): string {
  return parseRequest(jobParamsSchema, request.params, "path").id;
}

/** Actions take no body; an empty JSON object is tolerated. */
function noInput(request: FastifyRequest): void {
  parseRequest(noQuerySchema, request.query, "query");
  parseRequest(emptyBodySchema, request.body, "request body");
}

/** The enqueue of `POST /api/jobs`: checks the caller's owner, the queue and the payload size, then enqueues through the library. */
async function createJob(ctx: HttpContext, request: FastifyRequest) {
  const principal = principalOf(request);
  parseRequest(noQuerySchema, request.query, "query");
  const { payload, queue, type, ...rest } = parseRequest(createJobBodySchema, request.body, "request body");
  const options = Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined)) as EnqueueOptions;
  const owner = ownerOf(principal);
  if (owner !== null) {
    if (options.owner !== undefined && options.owner !== owner) {
      throw new OffloadError("OFFLOAD_ERR_FORBIDDEN", `This token creates jobs only as owner ${JSON.stringify(owner)}: leave owner out, or set it to that`, {
        details: { owner },
      });
    }
    options.owner = owner;
  }
  const definition = ctx.offload.jobTypes.get(type);
  if (definition && queue !== undefined && queue !== definition.options.queue) {
    throw new OffloadError(
      "OFFLOAD_ERR_INVALID_INPUT",
      `Invalid request body: queue: job type "${type}" runs on queue "${definition.options.queue}"; a job cannot be moved to another queue at enqueue (leave queue out)`,
      { details: { issues: [{ message: `expected "${definition.options.queue}" or no queue`, path: "queue" }] } },
    );
  }
  const payloadBytes = Buffer.byteLength(JSON.stringify(payload) ?? "");
  if (payloadBytes > ctx.options.payloadLimit) {
    throw new OffloadError("OFFLOAD_ERR_PAYLOAD_TOO_LARGE", `The payload is ${payloadBytes} bytes as JSON; the limit per job is ${ctx.options.payloadLimit} bytes`, {
      details: { limit: ctx.options.payloadLimit, size: payloadBytes },
    });
  }
  const keyHeader = request.headers["idempotency-key"];
  try {
    if (keyHeader === undefined) return { job: await ctx.offload.enqueue(type, payload, options), replayed: false };
    const key = parseRequest(idempotencyKeySchema, keyHeader, "Idempotency-Key header");
    const job = await ctx.offload.enqueueIdempotent(type, payload, options, { key, scope: principal.scope });
    return { job, replayed: job.replayed };
  } catch (error) {
    // An idempotency conflict names the job its key gave: always the caller's own, since a key is
    // scoped to its owner and is not stored when a uniqueKey deduplicated onto another owner's job.
    throw asRequestError(error);
  }
}

/** `/api/jobs` and `/api/jobs/:id[/status|/cancel|/retry|/run-now]`. */
export function registerJobRoutes(app: FastifyInstance, ctx: HttpContext): void {
  const present = <T extends JobView>(job: T, request: FastifyRequest) => presentJob(job, showsStacks(ctx, principalOf(request)));

  app.post("/api/jobs", { onRequest: authenticate(ctx, "jobs-write") }, async (request, reply) => {
    const { job, replayed } = await createJob(ctx, request);
    const { replayed: _, ...view } = job as typeof job & { replayed?: boolean };
    // A job of another owner holding the uniqueKey must not be shown; saying the key is taken reveals no more than that.
    if (!canSee(principalOf(request), view.owner)) {
      throw new OffloadError("OFFLOAD_ERR_INVALID_STATE", "The uniqueKey is held by an unfinished job of this type that this token cannot see; use another key", {
        details: { field: "uniqueKey" },
      });
    }
    if (replayed) reply.header("idempotent-replayed", "true");
    reply.header("location", `${request.url.split("?")[0]}/${view.id}`);
    return reply.code(view.deduplicated ? 200 : 201).send(present(view, request));
  });

  app.get("/api/jobs", { onRequest: authenticate(ctx, "read") }, async (request) => {
    const principal = principalOf(request);
    const query = parseRequest(listQuerySchema, request.query, "query");
    const owner = ownerOf(principal);
    // An owner token lists its own jobs; asking for another owner's is an empty page, like any owner without jobs.
    if (owner !== null && query.owner !== undefined && query.owner !== owner) return { items: [], nextCursor: null };
    const page = await ctx.offload.listJobs({ ...query, ...(owner === null ? {} : { owner }) });
    return { items: page.items.map((job) => present(job, request)), nextCursor: page.nextCursor };
  });

  app.get("/api/jobs/:id", { onRequest: authenticate(ctx, "read") }, async (request) => {
    parseRequest(noQuerySchema, request.query, "query");
    return present(await visibleJob(ctx, principalOf(request), jobId(request)), request);
  });

  app.get("/api/jobs/:id/status", { onRequest: authenticate(ctx, "read") }, async (request) => {
    parseRequest(noQuerySchema, request.query, "query");
    const job = present(await visibleJob(ctx, principalOf(request), jobId(request)), request);
    return { attempt: job.attempt, error: job.error, id: job.id, maxAttempts: job.maxAttempts, progress: job.progress, status: job.status };
  });

  app.post("/api/jobs/:id/cancel", { onRequest: authenticate(ctx, "jobs-write") }, async (request) => {
    const id = jobId(request);
    noInput(request);
    await visibleJob(ctx, principalOf(request), id);
    return present(await ctx.offload.cancel(id), request);
  });

  app.post("/api/jobs/:id/retry", { onRequest: authenticate(ctx, "jobs-write") }, async (request) => {
    const id = jobId(request);
    noInput(request);
    await visibleJob(ctx, principalOf(request), id);
    return present(await ctx.offload.retry(id), request);
  });

  app.post("/api/jobs/:id/run-now", { onRequest: authenticate(ctx, "jobs-write") }, async (request) => {
    const id = jobId(request);
    noInput(request);
    await visibleJob(ctx, principalOf(request), id);
    return present(await ctx.offload.runNow(id), request);
  });

  app.delete("/api/jobs/:id", { onRequest: authenticate(ctx, "jobs-write") }, async (request, reply) => {
    const id = jobId(request);
    noInput(request);
    await visibleJob(ctx, principalOf(request), id);
    await ctx.offload.deleteJob(id);
    return reply.code(204).send();
  });
}
