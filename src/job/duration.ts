/** A duration in milliseconds, or a string such as `"250ms"`, `"30s"`, `"10m"`, `"2h"`, `"7d"`. */
export type Duration = number | string;

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const DURATION_PATTERN = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/;

/** Longest duration accepted anywhere: 365 days, far beyond any sane timeout or delay. */
export const MAX_DURATION_MS = 365 * UNIT_MS.d!;

/**
 * Parses a {@link Duration} to whole milliseconds, or returns an error message
 * saying what was expected. Numbers must be finite, non-negative integers.
 */
export function parseDuration(value: unknown): { ms: number } | { error: string } {
  let ms: number;
  if (typeof value === "number") {
    if (!Number.isInteger(value) || value < 0) return { error: `expected a non-negative integer of milliseconds, got ${value}` };
    ms = value;
  } else if (typeof value === "string") {
    const match = DURATION_PATTERN.exec(value.trim());
    if (!match) return { error: `expected a duration such as "500ms", "30s", "10m", "2h" or "7d", got ${JSON.stringify(value)}` };
    ms = Math.round(Number(match[1]) * UNIT_MS[match[2]!]!);
  } else {
    return { error: `expected milliseconds or a duration string, got ${typeof value}` };
  }
  if (ms > MAX_DURATION_MS) return { error: `must be at most 365 days` };
  return { ms };
}

/** Formats milliseconds for people: `850ms`, `12.5s`, `3m 20s`. */
export function formatDuration(ms: number): string {
  if (ms < 1_000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1_000).toFixed(ms < 10_000 ? 2 : 1)}s`;
  const minutes = Math.floor(ms / 60_000);
  const seconds = Math.round((ms % 60_000) / 1_000);
  return seconds ? `${minutes}m ${seconds}s` : `${minutes}m`;
}
