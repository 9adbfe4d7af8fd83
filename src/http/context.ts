import type { FastifyReply, FastifyRequest } from "fastify";
import type { Offload } from "../client/offload.js";
import { OffloadError } from "../errors.js";
import type { JobView } from "../job/view.js";
import { allows, type Access, type Principal, type TokenTable } from "./auth.js";
import type { EventHub } from "./event-hub.js";
import type { RateLimiter } from "./rate-limit.js";
import type { SseStream } from "./sse.js";

/** The plugin's options after validation and defaults. */
export interface ResolvedHttpOptions {
  bodyLimit: number;
  /** Who sees handlers' stack traces: everyone, admin and read-only tokens, or no one. */
  exposeErrorStacks: boolean | "operators";
  maxDepth: number;
  maxStreams: number;
  metrics: boolean;
  payloadLimit: number;
  streamPollMs: number;
}

/** What every route of one plugin registration shares. */
export interface HttpContext {
  /** Set once the server starts closing: requests get 503, streams end. */
  closing: boolean;
  /** Failed authentications per client address. */
  readonly failedAuth: RateLimiter;
  readonly hub: EventHub;
  readonly offload: Offload;
  readonly options: ResolvedHttpOptions;
  /** Requests per principal, or null for no limit. */
  readonly rateLimiter: RateLimiter | null;
  /** Open event streams, ended when the server closes; counted per principal. */
  readonly streams: Map<string, Set<SseStream>>;
  /** Null when no tokens are configured: every caller is admin. */
  readonly tokens: TokenTable | null;
}

const principals = new WeakMap<FastifyRequest, Principal>();

/** The caller of a request that passed authentication. */
export function principalOf(request: FastifyRequest): Principal {
  const principal = principals.get(request);
  if (!principal) throw new OffloadError("OFFLOAD_ERR_INTERNAL", "route without authentication");
  return principal;
}

/**
 * The onRequest hook of a route with access class `access`: reads the bearer
 * token (401 without a valid one, 429 after many failures from one address),
 * checks the role (403), and applies the rate limit (429).
 */
export function authenticate(ctx: HttpContext, access: Access) {
  return async (request: FastifyRequest, _reply: FastifyReply): Promise<void> => {
    let principal: Principal;
    if (ctx.tokens === null) {
      principal = { key: `address:${request.ip}`, role: { kind: "admin" }, scope: "local" };
    } else {
      const header = request.headers.authorization;
      const match = typeof header === "string" ? /^Bearer +([^\s]+) *$/i.exec(header) : null;
      const found = match ? ctx.tokens.find(match[1]!) : null;
      if (!found) {
        if (access === "public") return;
        const wait = ctx.failedAuth.take(request.ip);
        if (wait > 0) {
          throw new OffloadError("OFFLOAD_ERR_RATE_LIMITED", `Too many requests with a missing or unknown token from this address; retry in ${wait} s`, {
            details: { retryAfterSeconds: wait },
          });
        }
        throw new OffloadError(
          "OFFLOAD_ERR_UNAUTHORIZED",
          match ? "Unknown bearer token" : "Missing bearer token: send the header Authorization: Bearer <token>",
        );
      }
      principal = found;
    }
    principals.set(request, principal);
    if (!allows(principal.role, access)) {
      throw new OffloadError("OFFLOAD_ERR_FORBIDDEN", forbiddenMessage(principal, access), { details: { role: principal.role.kind } });
    }
    if (ctx.rateLimiter && access !== "public") {
      const wait = ctx.rateLimiter.take(principal.key);
      if (wait > 0) {
        throw new OffloadError("OFFLOAD_ERR_RATE_LIMITED", `Rate limit reached for this token; retry in ${wait} s`, { details: { retryAfterSeconds: wait } });
      }
    }
  };
}

function forbiddenMessage(principal: Principal, access: Access): string {
  const role = principal.role.kind === "owner" ? `owner:${principal.role.owner}` : principal.role.kind;
  switch (access) {
    case "jobs-write":
      return `This token (${role}) cannot change jobs`;
    case "operator-read":
      return `This token (${role}) cannot read figures across owners (queues, metrics)`;
    default:
      return `This token (${role}) cannot do this: an admin token is needed`;
  }
}

/**
 * Whether this caller sees handlers' stack traces. They name the server's
 * files: by default operators (admin and read-only tokens, who debug the
 * handlers) see them and owner tokens, the apps' end users, do not.
 */
export function showsStacks(ctx: HttpContext, principal: Principal): boolean {
  const setting = ctx.options.exposeErrorStacks;
  return setting === "operators" ? principal.role.kind !== "owner" : setting;
}

/** A job as the API shows it: handlers' stack traces are dropped unless `exposeStacks`. */
export function presentJob<T extends JobView>(job: T, exposeStacks: boolean): T {
  if (exposeStacks) return job;
  return {
    ...job,
    error: job.error && { ...job.error, stack: null },
    errors: job.errors.map((e) => ({ ...e, stack: null })),
  };
}

/** The job's own 404, the same whether the job does not exist or belongs to another owner. */
export function jobNotFound(id: string): OffloadError {
  return new OffloadError("OFFLOAD_ERR_JOB_NOT_FOUND", `No job has id ${id}`);
}
