/** How figures, times and ids read on the page. */

const integer = new Intl.NumberFormat("en-US");

/** `12,345`. */
export function count(n: number): string {
  return integer.format(n);
}

/** `850 ms`, `12.3 s`, `4 min 05 s`, `2 h 10 min`, `3 d 4 h`. */
export function duration(ms: number): string {
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1_000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  const s = Math.round(ms / 1_000);
  if (s < 3_600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, "0")} s`;
  const m = Math.round(s / 60);
  if (m < 1_440) return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, "0")} min`;
  const h = Math.round(m / 60);
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

function pad(n: number): string {
  return String(n).padStart(2, "0");
}

/** Local time: `14:03:27`, or `2026-01-31 14:03` when not today. */
export function time(iso: string | null): string {
  if (iso === null) return "—";
  const d = new Date(iso);
  const now = new Date();
  const clock = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  if (d.toDateString() === now.toDateString()) return clock;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** Local date and time to the millisecond, for tooltips and the timeline. */
export function fullTime(iso: string): string {
  const d = new Date(iso);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, "0")}`;
}

/** `3 s ago`, `in 2 min`. */
export function relative(iso: string, now = Date.now()): string {
  const delta = Date.parse(iso) - now;
  const text = duration(Math.abs(delta)).replace(/\.\d+ s$/, " s");
  return delta > 0 ? `in ${text}` : `${text} ago`;
}

/** `01a2045c…6e90`: the start (creation time of a UUIDv7) and the end (its random part). */
export function shortId(id: string): string {
  return `${id.slice(0, 8)}…${id.slice(-4)}`;
}

/** A value as indented JSON; `undefined` reads as nothing at all. */
export function prettyJson(value: unknown): string {
  return value === undefined ? "" : JSON.stringify(value, null, 2);
}

/** The progress's percent within 0..100, or null when not reported. */
export function percentOf(progress: { percent: number | null }): number | null {
  return progress.percent === null ? null : Math.max(0, Math.min(100, progress.percent));
}

/** A full job id (a UUID), as the API accepts. */
export const JOB_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
