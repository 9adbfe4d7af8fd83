/**
 * What a system asked of its database server per job: on PostgreSQL the
 * run's own database's committed transactions and rows written
 * (pg_stat_database, which the run's database has to itself), on Redis the
 * commands processed. Read through a connection of the scenario process, so
 * the few queries it makes itself are counted too (a handful per run).
 */
import { Redis } from "ioredis";
import pg from "pg";
import type { StorageContext } from "./adapter.js";

export interface ServerCounters {
  close(): Promise<void>;
  /** Counter name -> value now. */
  read(): Promise<Record<string, number>>;
}

export async function openServerCounters(storage: StorageContext): Promise<ServerCounters | null> {
  if (storage.pgUrl) {
    const client = new pg.Client({ application_name: "offload_bench_counters", connectionString: storage.pgUrl });
    await client.connect();
    return {
      close: () => client.end(),
      read: async () => {
        // A fresh snapshot of the statistics (they are cached for the rest of a transaction otherwise).
        await client.query("SELECT pg_stat_clear_snapshot()");
        const { rows } = await client.query<{ commits: string; written: string }>(
          "SELECT xact_commit AS commits, tup_inserted + tup_updated + tup_deleted AS written FROM pg_stat_database WHERE datname = current_database()",
        );
        // HOT updates write no index entry; an update that changes an indexed column writes one in every index of the table.
        const tables = await client.query<{ hot: string | null; updated: string | null }>("SELECT sum(n_tup_upd) AS updated, sum(n_tup_hot_upd) AS hot FROM pg_stat_user_tables");
        return {
          commits: Number(rows[0]?.commits ?? NaN),
          hotUpdates: Number(tables.rows[0]?.hot ?? 0),
          rowsWritten: Number(rows[0]?.written ?? NaN),
          updates: Number(tables.rows[0]?.updated ?? 0),
        };
      },
    };
  }
  if (storage.redis) {
    const redis = new Redis({ db: storage.redis.db, host: storage.redis.host, port: storage.redis.port });
    return {
      close: async () => void redis.disconnect(),
      read: async () => ({ commands: Number(/total_commands_processed:(\d+)/.exec(await redis.info("stats"))?.[1] ?? NaN) }),
    };
  }
  return null;
}

/** Per-job differences of two readings (3 decimals), and jobs per committed transaction on PostgreSQL. */
export function perJob(before: Record<string, number>, after: Record<string, number>, jobs: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, value] of Object.entries(after)) {
    const delta = value - (before[key] ?? 0);
    out[`${key}PerJob`] = Math.round((1000 * delta) / jobs) / 1000;
    if (key === "commits" && delta > 0) out.jobsPerCommit = Math.round((10 * jobs) / delta) / 10;
  }
  const updates = (after.updates ?? 0) - (before.updates ?? 0);
  if (updates > 0) out.hotUpdatePercent = Math.round((100 * ((after.hotUpdates ?? 0) - (before.hotUpdates ?? 0))) / updates);
  delete out.hotUpdatesPerJob;
  return out;
}
