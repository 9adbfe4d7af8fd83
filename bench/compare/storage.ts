/**
 * The servers the comparison runs against (the local PostgreSQL and Redis,
 * started when they are not running) and the fresh storage of each run: a
 * temp directory for SQLite, a database created for the run on PostgreSQL,
 * a key prefix on Redis. The runner owns them, so they are removed even when
 * a run is killed by its timeout.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import pg from "pg";
import type { StorageContext, SystemName } from "./adapter.js";

/** Where databases are created and dropped: a superuser (or CREATEDB) connection. */
export const PG_ADMIN_URL = process.env.OFFLOAD_BENCH_PG_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
/** The Redis server and database BullMQ runs use (each run under its own key prefix). */
export const REDIS_URL = process.env.OFFLOAD_BENCH_REDIS_URL ?? "redis://127.0.0.1:6379/13";

export interface RedisTarget {
  db: number;
  host: string;
  port: number;
}

export function redisTarget(): RedisTarget {
  const url = new URL(REDIS_URL);
  return { db: Number(url.pathname.slice(1) || 0), host: url.hostname || "127.0.0.1", port: Number(url.port || 6379) };
}

export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, "//$1:***@");
}

export async function withPgAdmin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ application_name: "offload_bench_compare", connectionString: PG_ADMIN_URL });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export async function withRedis<T>(fn: (redis: Redis) => Promise<T>): Promise<T> {
  const { db, host, port } = redisTarget();
  const redis = new Redis({ db, host, lazyConnect: true, maxRetriesPerRequest: 1, port, retryStrategy: () => null });
  redis.on("error", () => undefined);
  await redis.connect();
  try {
    return await fn(redis);
  } finally {
    redis.disconnect();
  }
}

async function pgReachable(): Promise<boolean> {
  try {
    await withPgAdmin((c) => c.query("SELECT 1"));
    return true;
  } catch {
    return false;
  }
}

async function redisReachable(): Promise<boolean> {
  try {
    return (await withRedis((r) => r.ping())) === "PONG";
  } catch {
    return false;
  }
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await sleep(250);
  }
  throw new Error(`${what} did not become reachable within ${timeoutMs / 1000} s`);
}

/**
 * Starts the local servers when they do not answer, as a developer would:
 * `pg_ctlcluster <version> main start` for each installed cluster and
 * `redis-server --daemonize yes` (its files in a temp directory). Returns what it did.
 */
export async function ensureServers(needPg: boolean, needRedis: boolean): Promise<string[]> {
  const did: string[] = [];
  if (needPg && !(await pgReachable())) {
    let versions: string[] = [];
    try {
      versions = readdirSync("/etc/postgresql");
    } catch {
      throw new Error(`PostgreSQL at ${redactUrl(PG_ADMIN_URL)} does not answer and no local cluster is installed (/etc/postgresql): set OFFLOAD_BENCH_PG_URL`);
    }
    for (const version of versions) {
      try {
        execFileSync("pg_ctlcluster", ["--skip-systemctl-redirect", version, "main", "start"], { stdio: "pipe" });
        did.push(`started PostgreSQL ${version} (pg_ctlcluster ${version} main start)`);
      } catch (error) {
        did.push(`pg_ctlcluster ${version} main start failed: ${(error as Error).message.split("\n")[0]}`);
      }
    }
    await waitFor(`PostgreSQL at ${redactUrl(PG_ADMIN_URL)}`, pgReachable);
  }
  if (needRedis && !(await redisReachable())) {
    const dir = mkdtempSync(join(tmpdir(), "offload-bench-redis-"));
    const { port } = redisTarget();
    execFileSync("redis-server", ["--daemonize", "yes", "--port", String(port), "--dir", dir], { stdio: "pipe" });
    did.push(`started redis-server --daemonize yes --port ${port} (files in ${dir})`);
    await waitFor(`Redis at ${REDIS_URL}`, redisReachable);
  }
  return did;
}

/** One run's storage and how to remove it. */
export interface RunStorage {
  cleanup(): Promise<void>;
  context: StorageContext;
}

const POSTGRES_SYSTEMS: readonly SystemName[] = ["offload-postgres", "graphile-worker", "pg-boss"];

export function usesPostgres(system: SystemName): boolean {
  return POSTGRES_SYSTEMS.includes(system);
}

export async function freshStorage(system: SystemName): Promise<RunStorage> {
  const id = randomBytes(5).toString("hex");
  if (system === "offload-sqlite") {
    const dir = mkdtempSync(join(tmpdir(), "offload-bench-"));
    return {
      cleanup: async () => rmSync(dir, { force: true, recursive: true }),
      context: { pgUrl: null, redis: null, sqliteFile: join(dir, "bench.db") },
    };
  }
  if (usesPostgres(system)) {
    // A database of its own per run: no system sees another's tables, statistics or bloat.
    const database = `bench_${system.replace(/-/g, "_")}_${id}`;
    await withPgAdmin((c) => c.query(`CREATE DATABASE "${database}"`));
    const url = new URL(PG_ADMIN_URL);
    url.pathname = `/${database}`;
    return {
      cleanup: () => withPgAdmin(async (c) => void (await c.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`))),
      context: { pgUrl: url.toString(), redis: null, sqliteFile: null },
    };
  }
  const prefix = `offload-bench-${id}`;
  return {
    cleanup: () => withRedis((redis) => deleteKeys(redis, `${prefix}:*`)),
    context: { pgUrl: null, redis: { ...redisTarget(), prefix }, sqliteFile: null },
  };
}

/**
 * Deletes every key matching the pattern (SCAN + UNLINK, so a 1,000,000-job
 * queue goes in seconds), scanning again until a whole pass finds none.
 */
async function deleteKeys(redis: Redis, pattern: string): Promise<void> {
  for (let pass = 0; pass < 5; pass++) {
    let cursor = "0";
    let found = 0;
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", pattern, "COUNT", 10_000);
      cursor = next;
      found += keys.length;
      if (keys.length > 0) await redis.unlink(...keys);
    } while (cursor !== "0");
    if (found === 0) return;
  }
  throw new Error(`keys matching ${pattern} were still being created after 5 passes`);
}

/** Databases or keys a killed runner may have left behind, removed before a new comparison. */
export async function removeLeftovers(needPg: boolean, needRedis: boolean): Promise<number> {
  let removed = 0;
  if (needPg) {
    const { rows } = await withPgAdmin((c) => c.query<{ datname: string }>("SELECT datname FROM pg_database WHERE datname ~ '^bench_(offload_sqlite|offload_postgres|bullmq|graphile_worker|pg_boss)_[0-9a-f]{10}$'"));
    for (const { datname } of rows) {
      await withPgAdmin((c) => c.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`));
      removed++;
    }
  }
  if (needRedis) await withRedis((redis) => deleteKeys(redis, "offload-bench-*"));
  return removed;
}
