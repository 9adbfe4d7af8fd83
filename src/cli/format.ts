import { resolve } from "node:path";
import type { JobProgress, JobView } from "../index.js";

/** ANSI styles for terminals; plain text when colour is off. */
export type Style = "bold" | "dim" | "green" | "red" | "yellow" | "cyan";

const ANSI: Record<Style, [string, string]> = {
  bold: ["\x1b[1m", "\x1b[22m"],
  cyan: ["\x1b[36m", "\x1b[39m"],
  dim: ["\x1b[2m", "\x1b[22m"],
  green: ["\x1b[32m", "\x1b[39m"],
  red: ["\x1b[31m", "\x1b[39m"],
  yellow: ["\x1b[33m", "\x1b[39m"],
};

/** A painter that applies a style, or returns the text unchanged when colour is off. */
export type Paint = (style: Style, text: string) => string;

export function painter(enabled: boolean): Paint {
  return enabled ? (style, text) => ANSI[style][0] + text + ANSI[style][1] : (_style, text) => text;
}

/** Colour on a terminal unless `NO_COLOR` is set (https://no-color.org); `FORCE_COLOR` forces it. */
export function colorWanted(stream: NodeJS.WriteStream): boolean {
  if (process.env.FORCE_COLOR && process.env.FORCE_COLOR !== "0") return true;
  if (process.env.NO_COLOR) return false;
  return stream.isTTY === true && process.env.TERM !== "dumb";
}

const pad2 = (n: number) => String(n).padStart(2, "0");

/** `14:02:03`, local time. */
export function clock(ms: number): string {
  const d = new Date(ms);
  return `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
}

/** `2026-11-22 14:02:03`, local time; `—` for null. */
export function localDateTime(iso: string | null): string {
  if (iso === null) return "—";
  const d = new Date(iso);
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${clock(d.getTime())}`;
}

/**
 * `0192…a1b2`: ids are UUIDv7, whose first characters are a timestamp shared
 * by jobs enqueued together, so the tail is kept to tell them apart.
 */
export function shortId(id: string): string {
  return id.length <= 10 ? id : `${id.slice(0, 4)}…${id.slice(-4)}`;
}

/** `▮▮▮▮▮▯▯▯▯▯`: ten cells, one per 10 %. */
export function progressBar(percent: number, cells = 10): string {
  const filled = Math.max(0, Math.min(cells, Math.floor((percent / 100) * cells)));
  return "▮".repeat(filled) + "▯".repeat(cells - filled);
}

/** `▮▮▮▮▮▯▯▯▯▯ 52%  26/50  transcribing 0:15 / 0:30`; empty when nothing was reported. */
export function describeProgress(progress: JobProgress): string {
  const parts: string[] = [];
  if (progress.percent !== null) parts.push(`${progressBar(progress.percent)} ${formatPercent(progress.percent)}`);
  if (progress.total !== null || progress.processed !== null) {
    const counts = `${progress.processed ?? 0}/${progress.total ?? "?"}`;
    parts.push(progress.failed ? `${counts} (${progress.failed} failed)` : counts);
  } else if (progress.failed) {
    parts.push(`${progress.failed} failed`);
  }
  if (progress.message) parts.push(progress.message);
  return parts.join("  ");
}

export function formatPercent(percent: number): string {
  return `${Number.isInteger(percent) ? percent : percent.toFixed(percent < 10 ? 1 : 0)}%`;
}

/** Compact JSON, cut at `max` characters with an ellipsis. */
export function compactJson(value: unknown, max = 160): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? "null";
  } catch {
    text = String(value);
  }
  return truncate(text, max);
}

export function truncate(text: string, max: number): string {
  const oneLine = text.replace(/\s*\n\s*/g, " ");
  return oneLine.length <= max ? oneLine : `${oneLine.slice(0, Math.max(0, max - 1))}…`;
}

/** `timeout: Attempt 1 timed out after 2000ms`; the generic code `error` is left out. */
export function describeError(error: { code: string; message: string }): string {
  return error.code === "error" ? error.message : `${error.code}: ${error.message}`;
}

/** A plain-text table: header row, columns padded to their widest cell, two spaces apart. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  return [line(header), ...rows.map(line)].join("\n");
}

/** The last column of `offload jobs list`: what a person wants to know about a job in its state. */
export function jobDetail(job: JobView): string {
  switch (job.status) {
    case "scheduled":
      return `runs at ${localDateTime(job.runAt)}${job.error ? `; last: ${describeError(job.error)}` : ""}`;
    case "running":
      return (job.cancelRequested ? "cancel requested; " : "") + (job.progress.message ?? "");
    case "failed":
      return job.error ? describeError(job.error) : "";
    case "completed":
      return compactJson(job.result, 60);
    default:
      return job.error && job.status === "queued" ? `last: ${describeError(job.error)}` : "";
  }
}

/** `sqlite:./data/offload.db (/home/me/app/data/offload.db)`: the URL, and the file it names. */
export function describeDatabase(url: string): string {
  if (!url.startsWith("sqlite:")) return url;
  let path = url.slice("sqlite:".length);
  if (path.startsWith("//")) path = path.slice(2);
  path = path.split("?")[0] ?? path;
  return path === ":memory:" ? url : `${url} (${resolve(path)})`;
}
