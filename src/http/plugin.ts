import { readFileSync } from "node:fs";
import type { FastifyInstance, FastifyPluginAsync } from "fastify";
import { z } from "zod";
import { Offload } from "../client/offload.js";
import { OffloadError } from "../errors.js";
import { durationSchema, parseInput } from "../job/validate.js";
import { parseTokenEntries, TokenTable, type TokenEntry } from "./auth.js";
import type { HttpContext, ResolvedHttpOptions } from "./context.js";
import { EventHub } from "./event-hub.js";
import { errorBody, toHttpError } from "./http-errors.js";
import { parseJsonBody } from "./json-body.js";
import { RateLimiter, type RateLimitOptions } from "./rate-limit.js";
import { registerEventRoutes } from "./routes/events.js";
import { registerJobTypeRoutes } from "./routes/job-types.js";
import { checkOrigin, normaliseOrigin } from "./origin.js";
import { registerJobRoutes } from "./routes/jobs.js";
import { registerQueueRoutes } from "./routes/queues.js";
import { registerSystemRoutes } from "./routes/system.js";

/** Options of {@link offloadHttp}. */
export interface OffloadHttpOptions {
  /**
   * Origins besides the server's own (`https://admin.example.com`) whose
   * pages may send changes (POST, DELETE): a browser's request from any other
   * origin is refused with 403. Needed when a proxy rewrites `Host`.
   */
  allowedOrigins?: readonly string[];
  /** Largest request body in bytes, also when sent chunked. Default 1 MiB. */
  bodyLimit?: number;
  /**
   * Who sees handlers' stack traces in job errors: `true` every caller, `false`
   * no one, `"operators"` (the default) admin and read-only tokens but not
   * owner tokens (stack traces name the server's files).
   */
  exposeErrorStacks?: boolean | "operators";
  /** Deepest nesting of objects and arrays in a JSON body. Default 32. */
  maxDepth?: number;
  /** Open event streams per token (or per address without tokens). Default 20. */
  maxStreams?: number;
  /** Serve `GET /metrics`. Default `true`. */
  metrics?: boolean;
  /** The Offload instance whose jobs the API serves. Required. */
  offload: Offload;
  /** Largest job payload, as JSON, in bytes. Default 256 KiB. */
  payloadLimit?: number;
  /** Requests per token (or address) as a token bucket. Default `{ burst: 200, perSecond: 100 }`; `false` for none. */
  rateLimit?: RateLimitOptions | false;
  /** How often an event stream re-reads its job, for changes made by other processes. Default `"1s"`. */
  streamPollInterval?: number | string;
  /**
   * Bearer tokens and their roles, as entries or as `OFFLOAD_TOKENS` text
   * (`k1=admin,k2=owner:user-42,k3=read-only`). None (the default): every
   * caller is admin, so serve such an API on a loopback address only.
   */
  tokens?: readonly TokenEntry[] | string;
}

const positiveInt = (max: number) => z.number().int().min(1).max(max);

const optionsSchema = z
  .object({
    bodyLimit: positiveInt(100 * 1024 * 1024).optional(),
    exposeErrorStacks: z.union([z.boolean(), z.literal("operators")]).optional(),
    maxDepth: positiveInt(1_000).optional(),
    maxStreams: positiveInt(100_000).optional(),
    metrics: z.boolean().optional(),
    offload: z.custom<Offload>((v) => v instanceof Offload, "expected an Offload instance (createOffload())"),
    payloadLimit: positiveInt(100 * 1024 * 1024).optional(),
    allowedOrigins: z
      .array(z.string().refine((text) => normaliseOrigin(text) !== null, "expected an origin such as https://admin.example.com (scheme, host and port only)"))
      .max(100)
      .optional(),
    rateLimit: z.union([z.literal(false), z.object({ burst: positiveInt(1_000_000), perSecond: z.number().positive().max(1_000_000) }).strict()]).optional(),
    streamPollInterval: durationSchema.refine((ms) => ms >= 10 && ms <= 3_600_000, "must be from 10ms to 1h").optional(),
    tokens: z
      .union([
        z.string(),
        z.array(
          z
            .object({
              role: z.union([
                z.object({ kind: z.literal("admin") }).strict(),
                z.object({ kind: z.literal("read-only") }).strict(),
                z.object({ kind: z.literal("owner"), owner: z.string() }).strict(),
              ]),
              token: z.string(),
            })
            .strict(),
        ),
      ])
      .optional(),
  })
  .strict();

/** Options Fastify itself adds to a plugin's options. */
const REGISTER_OPTIONS = new Set(["logLevel", "logSerializers", "prefix"]);

function packageVersion(): string {
  // src/http and dist/http both sit two levels below package.json.
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };
  return pkg.version;
}

function resolveTokens(tokens: readonly TokenEntry[] | string | undefined): TokenTable | null {
  if (tokens === undefined) return null;
  const entries =
    typeof tokens === "string"
      ? parseTokenEntries(tokens.split(",").filter((t) => t.trim() !== "").map((text, i) => ({ text: text.trim(), where: `tokens entry ${i + 1}` })))
      : parseTokenEntries(tokens.map((t, i) => ({ text: `${t.token}=${t.role.kind === "owner" ? `owner:${t.role.owner}` : t.role.kind}`, where: `tokens[${i}]` })));
  return entries.length === 0 ? null : new TokenTable(entries);
}

/**
 * Offload's HTTP API as a Fastify plugin, for the user's own server:
 *
 * ```ts
 * app.register(offloadHttp, { offload, tokens: process.env.OFFLOAD_TOKENS, prefix: "/jobs" });
 * ```
 *
 * The plugin is encapsulated: its JSON parser, error format, 404 handler and
 * authentication apply to its own routes only.
 */
export const offloadHttp: FastifyPluginAsync<OffloadHttpOptions> = async (app: FastifyInstance, rawOptions: OffloadHttpOptions) => {
  const given = Object.fromEntries(Object.entries(rawOptions ?? {}).filter(([key]) => !REGISTER_OPTIONS.has(key)));
  const parsed = parseInput(optionsSchema, given, "offloadHttp options", "options");
  const options: ResolvedHttpOptions = {
    bodyLimit: parsed.bodyLimit ?? 1024 * 1024,
    exposeErrorStacks: parsed.exposeErrorStacks ?? "operators",
    maxDepth: parsed.maxDepth ?? 32,
    maxStreams: parsed.maxStreams ?? 20,
    metrics: parsed.metrics ?? true,
    payloadLimit: parsed.payloadLimit ?? 256 * 1024,
    streamPollMs: parsed.streamPollInterval ?? 1_000,
  };
  const rateLimit = parsed.rateLimit === undefined ? { burst: 200, perSecond: 100 } : parsed.rateLimit;
  const allowedOrigins = new Set((parsed.allowedOrigins ?? []).map((text) => normaliseOrigin(text)!));
  const ctx: HttpContext = {
    closing: false,
    failedAuth: new RateLimiter({ burst: 30, perSecond: 1 }),
    hub: new EventHub(parsed.offload),
    offload: parsed.offload,
    options,
    rateLimiter: rateLimit === false ? null : new RateLimiter(rateLimit),
    streams: new Map(),
    tokens: resolveTokens(parsed.tokens as readonly TokenEntry[] | string | undefined),
  };

  app.removeAllContentTypeParsers();
  app.addContentTypeParser("application/json", { bodyLimit: options.bodyLimit, parseAs: "string" }, (request, body, done) => {
    const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(request.headers["content-type"] ?? "")?.[1]?.toLowerCase();
    if (charset !== undefined && charset !== "utf-8" && charset !== "utf8") {
      done(new OffloadError("OFFLOAD_ERR_UNSUPPORTED_MEDIA_TYPE", `Unsupported charset ${JSON.stringify(charset)}: send application/json in utf-8`), undefined);
      return;
    }
    try {
      done(null, parseJsonBody(body as string, { maxDepth: options.maxDepth }));
    } catch (error) {
      done(error as Error, undefined);
    }
  });

  app.setErrorHandler((error, request, reply) => {
    const mapped = toHttpError(error, options.bodyLimit);
    if (mapped.internal) request.log.error({ err: error, method: request.method, url: request.url }, "request failed");
    if (ctx.closing) reply.header("connection", "close");
    return reply.code(mapped.status).headers(mapped.headers).send(mapped.body);
  });

  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split("?")[0]!.slice(0, 200);
    return reply.code(404).send(errorBody("OFFLOAD_ERR_NOT_FOUND", `No route ${request.method} ${path}: see /api/openapi.json for the routes`));
  });

  app.addHook("onRequest", async (request, reply) => {
    if (ctx.closing) {
      reply.header("connection", "close");
      throw new OffloadError("OFFLOAD_ERR_NOT_READY", "The server is shutting down");
    }
    checkOrigin(request, allowedOrigins);
  });

  app.addHook("onSend", async (_request, reply, payload) => {
    if (!reply.hasHeader("cache-control")) reply.header("cache-control", "no-store");
    reply.header("x-content-type-options", "nosniff");
    return payload;
  });

  // Streams last as long as their jobs: the server would wait for them all. End them first.
  app.addHook("preClose", async () => {
    ctx.closing = true;
    for (const streams of ctx.streams.values()) for (const stream of [...streams]) stream.close();
    ctx.hub.close();
  });

  registerJobRoutes(app, ctx);
  registerEventRoutes(app, ctx);
  registerQueueRoutes(app, ctx);
  registerJobTypeRoutes(app, ctx);
  registerSystemRoutes(app, ctx, packageVersion());
};
