import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { OffloadError } from "../../errors.js";
import { isFinished } from "../../job/states.js";
import type { JobView } from "../../job/view.js";
import { ownerOf, type Principal } from "../auth.js";
import { authenticate, presentJob, principalOf, showsStacks, type HttpContext } from "../context.js";
import type { HubEvent } from "../event-hub.js";
import { errorBody } from "../http-errors.js";
import { eventsQuerySchema, jobParamsSchema, noQuerySchema, parseRequest } from "../request-schemas.js";
import { SseStream } from "../sse.js";
import { visibleJob } from "./jobs.js";

/** Opens a stream for `principal`, refusing past `maxStreams` open streams of one principal (429). */
function openStream(ctx: HttpContext, principal: Principal, request: FastifyRequest, reply: FastifyReply): SseStream {
  if (ctx.closing) throw new OffloadError("OFFLOAD_ERR_NOT_READY", "The server is shutting down");
  let open = ctx.streams.get(principal.key);
  if ((open?.size ?? 0) >= ctx.options.maxStreams) {
    throw new OffloadError("OFFLOAD_ERR_RATE_LIMITED", `Too many open event streams for this token (at most ${ctx.options.maxStreams}); close one first`, {
      details: { retryAfterSeconds: 1 },
    });
  }
  const stream = new SseStream(request, reply);
  if (!open) {
    open = new Set();
    ctx.streams.set(principal.key, open);
  }
  open.add(stream);
  stream.onClose(() => {
    open.delete(stream);
    if (open.size === 0 && ctx.streams.get(principal.key) === open) ctx.streams.delete(principal.key);
  });
  return stream;
}

/**
 * One job's stream. Progress reported by a worker in this process is sent
 * the moment the handler reports it (the in-process event carries it);
 * state changes re-read the job and send it whole. Changes made by workers
 * in other processes are found by re-reading the job every `streamPollMs`
 * while the stream is open. Ends after the event that shows the job finished.
 */
class JobStream {
  private lastState = "";
  private lastProgress = "";
  /** The attempt whose progress arrives through this process's events: the database's copy of it lags behind and is not sent. */
  private localAttempt: number | null = null;
  private refreshQueued = false;
  private refreshing: Promise<void> = Promise.resolve();
  private readonly timer: NodeJS.Timeout;
  private readonly unwatch: () => void;

  constructor(
    private readonly ctx: HttpContext,
    private readonly stream: SseStream,
    private readonly id: string,
    private readonly showStacks: boolean,
  ) {
    this.unwatch = ctx.hub.watchJob(id, (event) => this.onEvent(event));
    this.timer = setInterval(() => this.refresh(), ctx.options.streamPollMs);
    this.timer.unref();
    stream.onClose(() => {
      clearInterval(this.timer);
      this.unwatch();
    });
  }

  /** Sends the job as read before the stream opened, then reads it again: a change between the two is not lost. */
  start(job: JobView): void {
    this.sendJob(job);
    if (!this.stream.isClosed) this.refresh();
  }

  private onEvent(event: HubEvent): void {
    if (this.stream.isClosed) return;
    if (event.name === "job:progress") {
      this.localAttempt = event.payload.attempt;
      const key = JSON.stringify(event.payload.progress);
      if (key === this.lastProgress) return;
      this.lastProgress = key;
      this.stream.sendLatest("progress", "progress", { attempt: event.payload.attempt, id: this.id, progress: event.payload.progress });
      return;
    }
    if (event.name === "job:started") this.localAttempt = event.payload.attempt;
    this.refresh();
  }

  /** Re-reads the job, one read at a time; calls while one is waiting to start fold into it. */
  private refresh(): void {
    if (this.refreshQueued || this.stream.isClosed) return;
    this.refreshQueued = true;
    this.refreshing = this.refreshing.then(async () => {
      this.refreshQueued = false;
      if (this.stream.isClosed) return;
      try {
        const job = await this.ctx.offload.getJob(this.id);
        if (this.stream.isClosed) return;
        if (!job) {
          // Not "error": EventSource gives that name to its own connection errors.
          this.stream.send("deleted", errorBody("OFFLOAD_ERR_JOB_NOT_FOUND", `Job ${this.id} was deleted`));
          this.stream.close();
          return;
        }
        this.sendJob(job);
      } catch {
        // The database is unreachable for now: the next poll tries again.
      }
    });
  }

  private sendJob(job: JobView): void {
    const state = JSON.stringify([job.status, job.attempt, job.cancelRequested]);
    const progress = JSON.stringify(job.progress);
    if (state !== this.lastState) {
      this.lastState = state;
      this.lastProgress = progress;
      this.stream.send("job", presentJob(job, this.showStacks));
    } else if (progress !== this.lastProgress && this.localAttempt !== job.attempt) {
      this.lastProgress = progress;
      this.stream.sendLatest("progress", "progress", { attempt: job.attempt, id: job.id, progress: job.progress });
    }
    if (isFinished(job.status)) this.stream.close();
  }
}

/** An event of `/api/events`, with handlers' stacks dropped like everywhere else. */
function presentEvent(event: HubEvent, exposeStacks: boolean): unknown {
  if (exposeStacks) return event.payload;
  switch (event.name) {
    case "job:enqueued":
      return { ...event.payload, job: presentJob(event.payload.job, false) };
    case "job:failed":
    case "job:retrying":
      return { ...event.payload, error: { ...event.payload.error, stack: null } };
    default:
      return event.payload;
  }
}

/** `GET /api/jobs/:id/events` and `GET /api/events?queue=`. */
export function registerEventRoutes(app: FastifyInstance, ctx: HttpContext): void {
  // No HEAD twins: a HEAD of a stream would hold its connection open with nothing to say.
  app.get("/api/jobs/:id/events", { exposeHeadRoute: false, onRequest: authenticate(ctx, "read") }, async (request, reply) => {
    const { id } = parseRequest(jobParamsSchema, request.params, "path");
    parseRequest(noQuerySchema, request.query, "query");
    const principal = principalOf(request);
    const job = await visibleJob(ctx, principal, id);
    const stream = openStream(ctx, principal, request, reply);
    new JobStream(ctx, stream, id, showsStacks(ctx, principal)).start(job);
  });

  app.get("/api/events", { exposeHeadRoute: false, onRequest: authenticate(ctx, "read") }, async (request, reply) => {
    const { queue } = parseRequest(eventsQuerySchema, request.query, "query");
    const principal = principalOf(request);
    const owner = ownerOf(principal);
    const stream = openStream(ctx, principal, request, reply);
    const showStacks = showsStacks(ctx, principal);
    // Owner tokens see only their jobs' events; the owner lookups are chained so events keep their order.
    let chain: Promise<void> = Promise.resolve();
    const unwatch = ctx.hub.watchAll((event) => {
      if (queue !== undefined && event.payload.queue !== queue) return;
      const send = () => {
        const data = presentEvent(event, showStacks);
        if (event.name === "job:progress") stream.sendLatest(`progress ${event.payload.id}`, event.name, data);
        else stream.send(event.name, data);
      };
      if (owner === null) {
        send();
        return;
      }
      chain = chain.then(async () => {
        const jobOwner = await ctx.hub.ownerOf(event.payload.id).catch(() => undefined);
        if (jobOwner === owner) send();
      });
    });
    stream.onClose(unwatch);
  });
}
