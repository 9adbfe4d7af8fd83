import type { Backend } from "../backend/backend.js";
import { OffloadError } from "../errors.js";
import type { Logger } from "../observability/logger.js";

/** The database used when neither the `database` option nor `OFFLOAD_DATABASE` names one. */
export const DEFAULT_DATABASE = "sqlite:./data/offload.db";

/** PostgreSQL settings of `createOffload({ postgres })`; URL parameters of the same names override none of them. */
export interface PostgresOptions {
  /** Milliseconds to wait for a connection. Default 2,000. */
  connectTimeoutMs?: number;
  /** Deadline of one enqueue, connection included: when the database is unreachable, enqueue fails this fast. Default 2,000. */
  enqueueTimeoutMs?: number;
  /** Connections in this process's pool; the LISTEN connection of a worker comes on top. Default 10. */
  poolSize?: number;
  /** Deadline of every other operation. Default 10,000. */
  queryTimeoutMs?: number;
  /** Schema of Offload's tables. Default `offload`. */
  schema?: string;
}

export interface OpenBackendOptions {
  logger?: Logger | null;
  postgres?: PostgresOptions;
}

const POSTGRES_URL = /^postgres(ql)?:\/\//;

/**
 * Opens the engine a database URL names. Engines are imported on demand, so
 * an application on SQLite never loads a PostgreSQL driver and vice versa.
 */
export async function openBackend(url: string, options: OpenBackendOptions = {}): Promise<Backend> {
  if (url.startsWith("sqlite:")) {
    const { SqliteBackend, parseSqliteUrl } = await import("./sqlite/sqlite-backend.js");
    return new SqliteBackend(parseSqliteUrl(url));
  }
  if (POSTGRES_URL.test(url)) {
    const { PostgresBackend, parsePostgresUrl } = await import("./postgres/postgres-backend.js");
    // Explicit options win over URL parameters.
    return new PostgresBackend({ ...parsePostgresUrl(url), ...options.postgres, logger: options.logger ?? null });
  }
  throw new OffloadError(
    "OFFLOAD_ERR_INVALID_INPUT",
    `Unsupported database URL ${JSON.stringify(url.replace(/\/\/[^@/]*@/, "//***@"))}: expected sqlite:<path> (e.g. ${DEFAULT_DATABASE}) or postgres://user@host:5432/database`,
  );
}

/**
 * The SQL that `migrate` applies to an empty database of this URL, for teams
 * that review schema changes (`offload migrate --print`). Opens no connection.
 */
export async function migrationScript(url: string, options: OpenBackendOptions = {}): Promise<string> {
  if (url.startsWith("sqlite:")) {
    const { sqliteMigrationScript } = await import("./sqlite/migrations.js");
    return sqliteMigrationScript();
  }
  if (POSTGRES_URL.test(url)) {
    const { PostgresBackend, parsePostgresUrl } = await import("./postgres/postgres-backend.js");
    const backend = new PostgresBackend({ ...parsePostgresUrl(url), ...options.postgres });
    try {
      return backend.migrationScript();
    } finally {
      await backend.close();
    }
  }
  return openBackend(url, options).then(() => ""); // throws the unsupported-URL error
}
