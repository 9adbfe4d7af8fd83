/**
 * What the figures were measured on: the machine, its load, the servers and
 * their settings that shape the figures, and every package version.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { cpus, loadavg, totalmem, release, type } from "node:os";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { PG_ADMIN_URL, REDIS_URL, redactUrl, withPgAdmin, withRedis } from "./storage.js";

const benchDir = fileURLToPath(new URL("../", import.meta.url));
const repoRoot = fileURLToPath(new URL("../../", import.meta.url));

export interface Environment {
  cpu: string;
  date: string;
  loadBefore: string;
  memory: string;
  node: string;
  offload: string;
  os: string;
  packages: { name: string; version: string; where: string }[];
  postgres: { settings: string; version: string } | null;
  redis: { persistence: string; version: string } | null;
  sqlite: string;
}

export function loadAverage(): string {
  return loadavg()
    .map((l) => l.toFixed(2))
    .join(" / ");
}

function osName(): string {
  try {
    const pretty = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(readFileSync("/etc/os-release", "utf8"))?.[1];
    return `${pretty ?? type()} (kernel ${release()})`;
  } catch {
    return `${type()} ${release()}`;
  }
}

function versionOf(name: string, from: string): string {
  try {
    const require = createRequire(from);
    // Some packages do not export package.json: read it beside the resolved entry's package root.
    const file = require.resolve.paths(name)?.map((p) => `${p}/${name}/package.json`).find((p) => {
      try {
        readFileSync(p);
        return true;
      } catch {
        return false;
      }
    });
    if (!file) return "?";
    return (JSON.parse(readFileSync(file, "utf8")) as { version: string }).version;
  } catch {
    return "?";
  }
}

function sqliteVersion(): string {
  try {
    const require = createRequire(`${repoRoot}package.json`);
    const Database = require("better-sqlite3") as new (file: string) => { close(): void; prepare(sql: string): { get(): unknown } };
    const db = new Database(":memory:");
    const { v } = db.prepare("SELECT sqlite_version() AS v").get() as { v: string };
    db.close();
    return `SQLite ${v} (better-sqlite3 ${versionOf("better-sqlite3", `${repoRoot}package.json`)})`;
  } catch (error) {
    return `SQLite version unknown (${(error as Error).message})`;
  }
}

function offloadState(): string {
  try {
    const git = (...args: string[]) => execFileSync("git", args, { cwd: repoRoot, encoding: "utf8" });
    const head = git("rev-parse", "--short", "HEAD").trim();
    // Porcelain lines are "XY path": no trim of the whole output, whose first X may be a space.
    const dirty = git("status", "--porcelain", "--", "src")
      .split("\n")
      .filter(Boolean)
      .map((l) => l.slice(3));
    return `working tree at ${head}${dirty.length ? `, with uncommitted changes in ${dirty.join(", ")}` : ", src/ clean"}`;
  } catch {
    return "working tree (git state unknown)";
  }
}

async function postgresDescription(): Promise<Environment["postgres"]> {
  return withPgAdmin(async (client) => {
    const { rows } = await client.query<{ name: string; setting: string }>(
      `SELECT name, setting FROM pg_settings WHERE name IN
         ('server_version', 'synchronous_commit', 'fsync', 'wal_sync_method', 'shared_buffers', 'autovacuum', 'jit', 'max_connections', 'work_mem')`,
    );
    const get = (name: string) => rows.find((r) => r.name === name)?.setting ?? "?";
    const shared = Number(get("shared_buffers"));
    return {
      settings:
        `synchronous_commit=${get("synchronous_commit")}, fsync=${get("fsync")} (${get("wal_sync_method")}), shared_buffers=${Number.isFinite(shared) ? `${(shared * 8) / 1024} MB` : "?"}, ` +
        `work_mem=${get("work_mem")} kB, autovacuum=${get("autovacuum")}, jit=${get("jit")}, max_connections=${get("max_connections")}`,
      version: `PostgreSQL ${get("server_version")} at ${redactUrl(PG_ADMIN_URL)}, a database created per run`,
    };
  });
}

async function redisDescription(): Promise<Environment["redis"]> {
  return withRedis(async (redis) => {
    const info = await redis.info("server");
    const version = /redis_version:(\S+)/.exec(info)?.[1] ?? "?";
    return { persistence: await redisPersistence(), version: `Redis ${version} at ${REDIS_URL}, a key prefix per run` };
  });
}

export async function redisPersistence(): Promise<string> {
  return withRedis(async (redis) => {
    const get = async (key: string) => ((await redis.config("GET", key)) as string[])[1] ?? "?";
    const aof = await get("appendonly");
    const save = await get("save");
    return `appendonly=${aof}${aof === "yes" ? `, appendfsync=${await get("appendfsync")}` : ""}, save="${save}", maxmemory-policy=${await get("maxmemory-policy")}`;
  });
}

export async function describeEnvironment(needPg: boolean, needRedis: boolean): Promise<Environment> {
  const cpu = cpus();
  const packages = [
    ...["bullmq", "ioredis", "graphile-worker", "pg-boss", "pg", "esbuild", "tsx"].map((name) => ({ name, version: versionOf(name, `${benchDir}package.json`), where: "bench/" })),
    ...["better-sqlite3", "zod"].map((name) => ({ name, version: versionOf(name, `${repoRoot}package.json`), where: "root (Offload's)" })),
  ];
  return {
    cpu: `${cpu[0]?.model ?? "unknown CPU"}, ${cpu.length} cores`,
    date: new Date().toISOString(),
    loadBefore: loadAverage(),
    memory: `${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
    node: `Node ${process.version}`,
    offload: offloadState(),
    os: osName(),
    packages,
    postgres: needPg ? await postgresDescription() : null,
    redis: needRedis ? await redisDescription() : null,
    sqlite: sqliteVersion(),
  };
}

function p50(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

/**
 * The floors of the moment, at the latency scenario's cadence (one call every
 * 20 ms): PostgreSQL's one-row INSERT with its commit (WAL flush included) and
 * `SELECT 1`; Redis's SET. No queue can enqueue faster than these on this
 * machine now; on a shared machine they move, so they are read at the start
 * and at the end of the run.
 */
export async function floors(needPg: boolean, needRedis: boolean, n = 100): Promise<string> {
  const parts: string[] = [];
  if (needPg) {
    parts.push(
      await withPgAdmin(async (client) => {
        const table = `bench_floor_${process.pid}`;
        await client.query(`CREATE TABLE IF NOT EXISTS ${table} (id bigserial PRIMARY KEY, payload jsonb)`);
        try {
          const insert: number[] = [];
          const select: number[] = [];
          for (let i = 0; i < n; i++) {
            await sleep(20);
            let t = performance.now();
            await client.query({ name: "floor_insert", text: `INSERT INTO ${table} (payload) VALUES ($1)`, values: [{ i }] });
            insert.push(performance.now() - t);
            t = performance.now();
            await client.query({ name: "floor_select", text: "SELECT 1" });
            select.push(performance.now() - t);
          }
          return `PostgreSQL one-row INSERT + commit p50 ${p50(insert).toFixed(2)} ms, SELECT 1 p50 ${p50(select).toFixed(2)} ms`;
        } finally {
          await client.query(`DROP TABLE IF EXISTS ${table}`);
        }
      }),
    );
  }
  if (needRedis) {
    parts.push(
      await withRedis(async (redis) => {
        const set: number[] = [];
        const key = `offload-bench-floor-${process.pid}`;
        for (let i = 0; i < n; i++) {
          await sleep(20);
          const t = performance.now();
          await redis.set(key, String(i));
          set.push(performance.now() - t);
        }
        await redis.del(key);
        return `Redis SET p50 ${p50(set).toFixed(2)} ms`;
      }),
    );
  }
  return parts.join("; ");
}
