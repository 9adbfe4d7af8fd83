/**
 * What a log line needs of a driver error: pg-pool hangs the whole client
 * (its prepared statements included) on the error, kilobytes a line.
 */
export function briefError(error: unknown): { code?: unknown; message: string } {
  const e = error as { code?: unknown; message?: unknown };
  return { code: e?.code, message: typeof e?.message === "string" ? e.message : String(error) };
}
