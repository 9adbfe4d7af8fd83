import { pino, type Logger } from "pino";

export type { Logger } from "pino";

/**
 * Offload's default logger: JSON lines on stderr (stdout stays free for the
 * CLI's own output), level from `OFFLOAD_LOG_LEVEL` (default `info`).
 */
export function createDefaultLogger(): Logger {
  return pino({ base: { name: "offload" }, level: process.env.OFFLOAD_LOG_LEVEL ?? "info" }, pino.destination(2));
}

/** A logger that drops everything, for `logger: false`. */
export function createSilentLogger(): Logger {
  return pino({ enabled: false });
}
