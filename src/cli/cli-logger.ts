import { pino, type Logger } from "pino";
import { clock } from "./format.js";

const LEVEL_NAMES: Record<number, string> = { 10: "trace", 20: "debug", 30: "info", 40: "warn", 50: "error", 60: "fatal" };
const SKIPPED_KEYS = new Set(["level", "time", "msg", "name", "pid", "hostname", "err"]);

/**
 * The CLI's logger. Offload's own log lines go to stderr, so stdout carries
 * only the CLI's output. In a terminal the event lines already tell what
 * happens, so the level defaults to `warn` (rescued leases, failed writes);
 * `OFFLOAD_LOG_LEVEL` changes it. Lines are readable text, or pino's JSON
 * with `OFFLOAD_LOG_FORMAT=json` for log collectors.
 */
export function createCliLogger(write: (text: string) => void = (text) => void process.stderr.write(text)): Logger {
  const level = process.env.OFFLOAD_LOG_LEVEL ?? "warn";
  if (process.env.OFFLOAD_LOG_FORMAT === "json") return pino({ base: { name: "offload" }, level }, pino.destination(2));
  return pino({ base: undefined, level }, { write: (json: string) => write(formatLogLine(json)) });
}

/** `14:02:03  warn   lease expired; job returned to its queue  jobId=0192… attempt=1` */
export function formatLogLine(json: string): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json.endsWith("\n") ? json : `${json}\n`;
  }
  const level = LEVEL_NAMES[Number(entry.level)] ?? String(entry.level);
  const fields = Object.entries(entry)
    .filter(([key]) => !SKIPPED_KEYS.has(key))
    .map(([key, value]) => `${key}=${typeof value === "string" ? value : JSON.stringify(value)}`);
  const err = entry.err as { message?: string } | undefined;
  if (err?.message) fields.push(`error=${JSON.stringify(err.message)}`);
  const time = typeof entry.time === "number" ? entry.time : Date.now();
  return `${clock(time)}  ${level.padEnd(5)}  ${String(entry.msg ?? "")}${fields.length ? `  ${fields.join(" ")}` : ""}\n`;
}
