/**
 * Offload's HTTP API (`offload/http`): the Fastify plugin for an
 * application's own server, and a ready server as `offload start` runs it.
 * Kept apart from the package's main entry so that applications that never
 * serve HTTP do not load Fastify.
 */
export { offloadHttp } from "./plugin.js";
export type { OffloadHttpOptions } from "./plugin.js";
export { createServer, isLoopback, serverSettingsFromEnv } from "./server.js";
export type { OffloadServer, ServerOptions } from "./server.js";
export { parseTokenEntries, tokensFromEnv } from "./auth.js";
export type { Role, TokenEntry } from "./auth.js";
export type { RateLimitOptions } from "./rate-limit.js";
