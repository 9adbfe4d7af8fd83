import type { Backend } from "../backend/backend.js";
import { OffloadError } from "../errors.js";

/** The database used when neither the `database` option nor `OFFLOAD_DATABASE` names one. */
export const DEFAULT_DATABASE = "sqlite:./data/offload.db";

/**
 * Opens the engine a database URL names. Engines are imported on demand, so
 * an application on SQLite never loads a PostgreSQL driver and vice versa.
 */
export async function openBackend(url: string): Promise<Backend> {
  if (url.startsWith("sqlite:")) {
    const { SqliteBackend, parseSqliteUrl } = await import("./sqlite/sqlite-backend.js");
    return new SqliteBackend(parseSqliteUrl(url));
  }
  if (/^postgres(ql)?:\/\//.test(url)) {
    throw new OffloadError("OFFLOAD_ERR_INVALID_INPUT", "The PostgreSQL engine is not part of this version of Offload yet; use a sqlite: URL");
  }
  throw new OffloadError(
    "OFFLOAD_ERR_INVALID_INPUT",
    `Unsupported database URL ${JSON.stringify(url.replace(/\/\/[^@/]*@/, "//***@"))}: expected sqlite:<path> (e.g. ${DEFAULT_DATABASE})`,
  );
}
