import { STATUS_CODES } from "node:http";
import type { Socket } from "node:net";
import Fastify, { LogController, type FastifyInstance, type FastifyReply } from "fastify";
import { z } from "zod";
import { OffloadError, type ErrorCode } from "../errors.js";
import { parseInput } from "../job/validate.js";
import { tokensFromEnv, type TokenEntry } from "./auth.js";
import { normaliseOrigin } from "./origin.js";
import { offloadDashboard } from "./dashboard.js";
import { errorBody, toHttpError } from "./http-errors.js";
import { offloadHttp, type OffloadHttpOptions } from "./plugin.js";

/** Options of {@link createServer}: the plugin's, and where to listen. */
export interface ServerOptions extends OffloadHttpOptions {
  /** Serve the web dashboard at `/` (its page needs no token; its data does). Default `true`. */
  dashboard?: boolean;
  /** Address to bind. Default `127.0.0.1`. Anything but a loopback address needs tokens. */
  host?: string;
  /** Port; 0 picks a free one. Default 3000. */
  port?: number;
}

/** A listening server. */
export interface OffloadServer {
  readonly app: FastifyInstance;
  /** Stops accepting connections, answers 503 to requests still arriving on open ones, ends event streams, waits for requests in flight. */
  close(): Promise<void>;
  readonly host: string;
  readonly port: number;
  /** `http://host:port`. */
  readonly url: string;
}

/** Whether `host` can be reached only from this machine. */
export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || host === "[::1]" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** Timeouts: a client gets this long to send its headers, its whole request, and between packets. */
const HEADERS_TIMEOUT_MS = 10_000;
const REQUEST_TIMEOUT_MS = 30_000;
const CONNECTION_TIMEOUT_MS = 60_000;
const KEEP_ALIVE_TIMEOUT_MS = 5_000;

/**
 * Answers what Node.js rejects before Fastify sees a request (malformed
 * HTTP, headers too large, a request not received in time) in the API's error
 * format, then closes the connection.
 */
function clientErrorHandler(error: NodeJS.ErrnoException, socket: Socket): void {
  if (error.code === "ECONNRESET" || !socket.writable) {
    socket.destroy();
    return;
  }
  const [status, code, message]: [number, ErrorCode, string] =
    error.code === "ERR_HTTP_REQUEST_TIMEOUT"
      ? [408, "OFFLOAD_ERR_REQUEST_TIMEOUT", `The request was not received within ${REQUEST_TIMEOUT_MS / 1_000} s`]
      : error.code === "HPE_HEADER_OVERFLOW"
        ? [431, "OFFLOAD_ERR_HEADERS_TOO_LARGE", "The request headers are too large"]
        : [400, "OFFLOAD_ERR_INVALID_INPUT", "Malformed HTTP request"];
  const body = JSON.stringify(errorBody(code, message));
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

const listenSchema = z
  .object({
    dashboard: z.boolean().optional(),
    host: z.string().min(1).max(255).optional(),
    port: z.number().int().min(0).max(65_535).optional(),
  })
  .passthrough();

/**
 * Creates a Fastify server with the API at its root, listens, and returns
 * it. With no tokens it binds to a loopback address only, and refuses any
 * other `host` with an `OFFLOAD_ERR_INVALID_INPUT` that says what to set.
 */
export async function createServer(options: ServerOptions): Promise<OffloadServer> {
  const { dashboard = true, host = "127.0.0.1", port = 3000, ...pluginOptions } = parseInput(listenSchema, options, "server options", "options") as unknown as ServerOptions;
  // As the plugin reads them: text of only commas and spaces is no tokens at all (every caller admin).
  const hasTokens =
    typeof pluginOptions.tokens === "string" ? pluginOptions.tokens.split(",").some((t) => t.trim() !== "") : (pluginOptions.tokens?.length ?? 0) > 0;
  if (!hasTokens && !isLoopback(host)) {
    throw new OffloadError(
      "OFFLOAD_ERR_INVALID_INPUT",
      `Refusing to listen on ${host} without tokens: anyone who can reach it could enqueue, cancel and delete jobs. Set OFFLOAD_TOKENS (e.g. k1=admin) or OFFLOAD_TOKENS_FILE, or listen on HOST=127.0.0.1`,
    );
  }
  const app = Fastify({
    bodyLimit: pluginOptions.bodyLimit ?? 1024 * 1024,
    clientErrorHandler,
    connectionTimeout: CONNECTION_TIMEOUT_MS,
    // Errors the router raises before any route or plugin runs (malformed URLs, overlong path parts).
    frameworkErrors: (error, _request, reply) => {
      const mapped = toHttpError(error, pluginOptions.bodyLimit ?? 1024 * 1024);
      void (reply as FastifyReply).code(mapped.status).headers(mapped.headers).send(mapped.body);
    },
    keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
    // Failures are logged by the plugin's error handler; a line per request would drown the worker's own.
    logController: new LogController({ disableRequestLogging: true }),
    loggerInstance: pluginOptions.offload.logger,
    requestTimeout: REQUEST_TIMEOUT_MS,
    // The plugin answers 503 itself while closing, in the API's error format.
    return503OnClosing: false,
  });
  app.server.headersTimeout = HEADERS_TIMEOUT_MS;
  await app.register(offloadHttp, pluginOptions);
  if (dashboard) await app.register(offloadDashboard);
  try {
    await app.listen({ host, port });
  } catch (error) {
    await app.close();
    const code = (error as NodeJS.ErrnoException).code;
    throw new OffloadError("OFFLOAD_ERR_INVALID_INPUT", `Cannot listen on ${host}:${port}: ${code === "EADDRINUSE" ? "the port is in use (set PORT)" : (error as Error).message}`, {
      cause: error,
    });
  }
  const address = app.server.address();
  const boundPort = typeof address === "object" && address ? address.port : port;
  const urlHost = host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
  return { app: app as unknown as FastifyInstance, close: () => app.close(), host, port: boundPort, url: `http://${urlHost}:${boundPort}` };
}

/**
 * Where `offload start` listens, with which tokens, and which other origins'
 * pages may send changes: from `PORT`, `HOST`, `OFFLOAD_TOKENS`,
 * `OFFLOAD_TOKENS_FILE` and `OFFLOAD_ALLOWED_ORIGINS` (comma-separated).
 */
export function serverSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): { allowedOrigins: string[]; host: string; port: number; tokens: TokenEntry[] } {
  const portText = env.PORT?.trim() || "3000";
  if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65_535) {
    throw new OffloadError("OFFLOAD_ERR_INVALID_INPUT", `PORT: expected a port number from 0 to 65535, got ${JSON.stringify(env.PORT)}`);
  }
  const host = env.HOST?.trim() || "127.0.0.1";
  const allowedOrigins = (env.OFFLOAD_ALLOWED_ORIGINS ?? "").split(",").map((text) => text.trim()).filter((text) => text !== "");
  for (const origin of allowedOrigins) {
    if (normaliseOrigin(origin) === null) {
      throw new OffloadError("OFFLOAD_ERR_INVALID_INPUT", `OFFLOAD_ALLOWED_ORIGINS: expected origins such as https://admin.example.com, got ${JSON.stringify(origin.slice(0, 200))}`);
    }
  }
  return { allowedOrigins, host, port: Number(portText), tokens: tokensFromEnv(env) };
}
