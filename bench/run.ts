/**
 * Prints Offload's throughput and latency figures for no-op jobs:
 *
 *   npm run bench -- <sqlite|postgres> [--runs N] [--only <scenario>[,<scenario>]] [--count events|poll|both] [--cpu-prof]
 *
 * Every run is a fresh child process (bench/scenario.ts) on its own fresh
 * database: a temp SQLite file, or a PostgreSQL schema of its own (on the
 * server of OFFLOAD_BENCH_PG_URL, else OFFLOAD_TEST_PG_URL, else the local
 * postgres://postgres@127.0.0.1:5432/test), removed or dropped afterwards. The
 * runs of all scenarios are interleaved so that a slow patch of the machine
 * does not land on one scenario only. The median of the runs is reported,
 * with each run. On PostgreSQL each run also reports the server's CPU time
 * (its backends for the run's connections), beside the Node process's.
 */
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import pg from "pg";
import { summariseProfile, type CpuProfile } from "./profile-summary.js";
import { SCENARIOS, isScenario, median, type CompletionCount, type ScenarioName, type ScenarioResult } from "./stats.js";

const repoRoot = fileURLToPath(new URL("..", import.meta.url));
const scenarioScript = fileURLToPath(new URL("./scenario.ts", import.meta.url));
/** A child that runs longer than this is killed and its run reported as failed. */
const RUN_TIMEOUT_MS = 120_000;

const USAGE = `usage: npm run bench -- <sqlite|postgres> [options]

  --runs N                 runs per scenario, each in a fresh process (default 3)
  --only <name>[,<name>]   only these scenarios: ${SCENARIOS.join(", ")}
  --count events|poll|both how processing runs detect the last completion (default both):
                           events = a job:completed listener; poll = the handler counts,
                           then queueCounts() is polled until every outcome is written
  --batch-stats            count the worker's claim and ack calls (and time them) in processing runs
                           (wraps them: for insight, the figures are slightly slowed)
  --pg-options="<opts>"    postgres: server options for the runs' connections, e.g. "-c plan_cache_mode=force_generic_plan"
                           (passed as the URL's options parameter, as libpq's PGOPTIONS): to try a setting without editing src/
  --cpu-prof               also write a V8 CPU profile of each measured window and
                           summarise it (the profiler slows the runs: figures are inflated)
`;

/** One row of the results table: a scenario with fixed arguments. */
interface Plan {
  args: string[];
  /** The bare-SQL figure of /work/shared/LIMITS.md this row compares to, for context. */
  ceiling: string;
  key: string;
  label: string;
  scenario: ScenarioName;
  /** Target from the issues for the row's headline figure (jobs/s, or p50 ms), or null when they set none. */
  target: { met: (figure: number) => boolean; text: string } | null;
}

type EngineName = "postgres" | "sqlite";

/** What differs between engines: sizes, the processing rows, the LIMITS.md ceilings, the targets. */
interface EngineBench {
  /** Ceilings of LIMITS.md for the engine's rows. */
  ceilings: { bulk: string; latency: string; one: string };
  jobs: { bulk: number; bulkBatch: number; latency: number; latencyIntervalMs: number; latencyWarmup: number; one: number; oneWarmup: number };
  /** Processing rows: scenario, concurrency, jobs per run, ceiling. */
  processing: readonly (readonly [ScenarioName, number, number, string])[];
  targets: { latencyP50Ms: number; processing: number; source: string };
}

const ENGINES: Record<EngineName, EngineBench> = {
  sqlite: {
    ceilings: { bulk: "~276,000 rows/s (1,000/txn)", latency: "14 µs (SQLite small write txn p50)", one: "39,027 rows/s (1 row/txn)" },
    jobs: { bulk: 20_000, bulkBatch: 1_000, latency: 300, latencyIntervalMs: 20, latencyWarmup: 20, one: 5_000, oneWarmup: 200 },
    processing: [
      ["process-c10", 10, 20_000, "73,290 (B=10)"],
      ["process-c50", 50, 20_000, "73,290 (B=10) .. 155,548 (B=100)"],
    ],
    targets: { latencyP50Ms: 2, processing: 25_000, source: "issue 2" },
  },
  // Processing runs are longer than on SQLite (issue 2's note: runs under a second are noisy); the
  // concurrency-10 row and single enqueues are fewer jobs, not shorter runs: each waits for a commit
  // per few jobs, and runs at a tenth of the speed of the others or less (a full run stays near 4 minutes).
  postgres: {
    ceilings: {
      bulk: "~105,000-109,000 rows/s (unnest, 1,000/stmt)",
      latency: "RTT 0.10-0.12 ms, NOTIFY 0.15 ms (p50)",
      one: "3,548 rows/s (1-row autocommit INSERT)",
    },
    jobs: { bulk: 50_000, bulkBatch: 1_000, latency: 300, latencyIntervalMs: 20, latencyWarmup: 20, one: 3_000, oneWarmup: 200 },
    processing: [
      ["process-c10", 10, 5_000, "10,065 (B=10, 1 conn); 13,978 (2 claimers)"],
      ["process-c50", 50, 50_000, "10,065 (B=10) .. 44,666 (B=100)"],
      ["process-c200", 200, 50_000, "44,666 (B=100) .. 59,528 (B=1000)"],
    ],
    targets: { latencyP50Ms: 5, processing: 15_000, source: "issue 3" },
  },
};

function plans(engine: EngineBench, only: readonly ScenarioName[], counts: readonly CompletionCount[], batchStats: boolean): Plan[] {
  const JOBS = engine.jobs;
  const all: Plan[] = [];
  const want = (s: ScenarioName) => only.length === 0 || only.includes(s);
  if (want("enqueue-one")) {
    all.push({
      args: ["--jobs", String(JOBS.one), "--warmup", String(JOBS.oneWarmup)],
      ceiling: engine.ceilings.one,
      key: "enqueue-one",
      label: `enqueue one at a time (${JOBS.one.toLocaleString("en")})`,
      scenario: "enqueue-one",
      target: null,
    });
  }
  if (want("enqueue-bulk")) {
    all.push({
      args: ["--jobs", String(JOBS.bulk), "--batch", String(JOBS.bulkBatch), "--warmup", String(JOBS.bulkBatch)],
      ceiling: engine.ceilings.bulk,
      key: "enqueue-bulk",
      label: `enqueueMany, batches of ${JOBS.bulkBatch.toLocaleString("en")} (${JOBS.bulk.toLocaleString("en")})`,
      scenario: "enqueue-bulk",
      target: null,
    });
  }
  const { processing: minRate } = engine.targets;
  for (const [scenario, concurrency, jobs, ceiling] of engine.processing) {
    if (!want(scenario)) continue;
    for (const count of counts) {
      all.push({
        args: ["--jobs", String(jobs), "--concurrency", String(concurrency), "--count", count, ...(batchStats ? ["--batch-stats"] : [])],
        ceiling,
        key: `${scenario}:${count}`,
        label: `process ${jobs.toLocaleString("en")}, concurrency ${concurrency} [${count === "events" ? "job:completed listener" : "count poll"}]`,
        scenario,
        target: { met: (jobsPerSec) => jobsPerSec >= minRate, text: `>= ${minRate.toLocaleString("en")} jobs/s` },
      });
    }
  }
  if (want("latency")) {
    const { latencyP50Ms } = engine.targets;
    all.push({
      args: ["--jobs", String(JOBS.latency), "--interval-ms", String(JOBS.latencyIntervalMs), "--warmup", String(JOBS.latencyWarmup)],
      ceiling: engine.ceilings.latency,
      key: "latency",
      label: `enqueue-to-start latency, idle worker (${JOBS.latency})`,
      scenario: "latency",
      target: { met: (p50) => p50 < latencyP50Ms, text: `p50 < ${latencyP50Ms} ms` },
    });
  }
  return all;
}

/** The PostgreSQL server runs go to: a database where the bench may create and drop schemas. */
const PG_URL = process.env.OFFLOAD_BENCH_PG_URL ?? process.env.OFFLOAD_TEST_PG_URL ?? "postgres://postgres@127.0.0.1:5432/test";

async function withPg<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ application_name: "offload_bench_runner", connectionString: PG_URL });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** A fresh database for one run, and how to remove it. */
async function freshDatabase(engine: EngineName, pgOptions: string | undefined): Promise<{ cleanup: () => Promise<void>; database: string }> {
  if (engine === "sqlite") {
    const dir = mkdtempSync(join(tmpdir(), "offload-bench-"));
    return { cleanup: async () => rmSync(dir, { force: true, recursive: true }), database: `sqlite:${join(dir, "bench.db")}` };
  }
  // A schema of its own (Offload's first migration creates it); its name is also the run's
  // application_name, by which the scenario finds the server processes of its connections.
  const schema = `offload_bench_${randomBytes(6).toString("hex")}`;
  const url = new URL(PG_URL);
  url.searchParams.set("schema", schema);
  url.searchParams.set("application_name", schema);
  if (pgOptions) url.searchParams.set("options", pgOptions);
  return {
    cleanup: () => withPg(async (client) => void (await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`))),
    database: url.toString(),
  };
}

interface RunOutcome {
  error?: string;
  profile?: string;
  result?: ScenarioResult;
}

async function runOnce(plan: Plan, engine: EngineName, pgOptions: string | undefined, profileFile: string | null): Promise<RunOutcome> {
  const { cleanup, database } = await freshDatabase(engine, pgOptions);
  const args = ["--expose-gc", "--import", "tsx", scenarioScript, plan.scenario, engine, "--database", database, ...plan.args];
  if (profileFile) args.push("--profile", profileFile);
  const outcome = await new Promise<RunOutcome>((resolve) => {
    const child = spawn(process.execPath, args, { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), RUN_TIMEOUT_MS);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      const last = stdout.trim().split("\n").pop() ?? "";
      if (code === 0 && last.startsWith("{")) {
        try {
          resolve({ profile: profileFile ?? undefined, result: JSON.parse(last) as ScenarioResult });
          return;
        } catch {
          // reported below
        }
      }
      const why = signal ? `killed by ${signal}${signal === "SIGKILL" ? ` (timeout ${RUN_TIMEOUT_MS} ms?)` : ""}` : `exit code ${code}`;
      resolve({ error: `${why}\n${stderr.trim().split("\n").slice(-8).join("\n")}` });
    });
  });
  try {
    await cleanup();
  } catch (error) {
    process.stderr.write(`could not remove the run's database: ${(error as Error).message}\n`);
  }
  return outcome;
}

function fmtInt(n: number): string {
  return Math.round(n).toLocaleString("en");
}

function pct(part: number, whole: number): string {
  return `${Math.round((100 * part) / whole)}%`;
}

function fmtMs(n: number): string {
  return `${n.toFixed(2)} ms`;
}

function sqliteVersions(): string {
  try {
    const require = createRequire(import.meta.url);
    const Database = require("better-sqlite3") as typeof import("better-sqlite3");
    const db = new Database(":memory:");
    const { v } = db.prepare("select sqlite_version() as v").get() as { v: string };
    db.close();
    const pkg = JSON.parse(readFileSync(require.resolve("better-sqlite3/package.json"), "utf8")) as { version: string };
    return `SQLite ${v} (better-sqlite3 ${pkg.version})`;
  } catch (error) {
    return `SQLite version unknown (${(error as Error).message})`;
  }
}

/** The server's version and the settings that shape the figures; throws when it cannot be reached. */
async function postgresDescription(): Promise<{ settings: string; version: string }> {
  return withPg(async (client) => {
    const { rows } = await client.query<{ name: string; setting: string; unit: string | null }>(
      `SELECT name, setting, unit FROM pg_settings WHERE name IN
         ('server_version', 'synchronous_commit', 'fsync', 'shared_buffers', 'autovacuum', 'jit', 'max_connections', 'wal_sync_method')`,
    );
    const get = (name: string) => rows.find((r) => r.name === name);
    const buffers = get("shared_buffers");
    const shared = buffers ? `${(Number(buffers.setting) * 8) / 1024} MB` : "?";
    return {
      settings: `synchronous_commit=${get("synchronous_commit")?.setting}, fsync=${get("fsync")?.setting} (${get("wal_sync_method")?.setting}), shared_buffers=${shared}, autovacuum=${get("autovacuum")?.setting}, jit=${get("jit")?.setting}`,
      version: `PostgreSQL ${get("server_version")?.setting ?? "?"} (pg ${pgVersion()}) at ${PG_URL.replace(/\/\/([^:@/]*):[^@/]*@/, "//$1:***@")}`,
    };
  });
}

/**
 * The floors of the moment: p50 of a `SELECT 1` round trip and of a one-row
 * autocommit INSERT (round trip + commit, WAL flush included) into a temp
 * table, over `n` tries each. LIMITS.md measured 0.10-0.12 ms and 0.24 ms; on
 * a shared machine the disk's flush time varies a lot, and every claim cycle
 * and every single enqueue waits for one flush.
 */
async function postgresFloors(n = 200): Promise<string> {
  return withPg(async (client) => {
    const p50 = async (sql: string, values: unknown[] = []): Promise<number> => {
      const times: number[] = [];
      for (let i = 0; i < n; i++) {
        const t0 = performance.now();
        await client.query({ name: sql.slice(0, 20), text: sql, values });
        times.push(performance.now() - t0);
      }
      return median(times);
    };
    // A regular table in a schema of its own: a temp table's commit would not flush WAL.
    const schema = `offload_bench_floor_${randomBytes(4).toString("hex")}`;
    await client.query(`CREATE SCHEMA "${schema}"`);
    try {
      await client.query(`CREATE TABLE "${schema}".t (id serial PRIMARY KEY, v int)`);
      const rtt = await p50("SELECT 1");
      const commit = await p50(`INSERT INTO "${schema}".t (v) VALUES ($1)`, [1]);
      return `SELECT 1 round trip p50 ${fmtMs(rtt)}, one-row autocommit INSERT p50 ${fmtMs(commit)} (LIMITS.md: 0.10-0.12 ms and 0.24 ms)`;
    } finally {
      await client.query(`DROP SCHEMA "${schema}" CASCADE`);
    }
  });
}

function pgVersion(): string {
  try {
    const require = createRequire(import.meta.url);
    return (JSON.parse(readFileSync(require.resolve("pg/package.json"), "utf8")) as { version: string }).version;
  } catch {
    return "?";
  }
}

function codeState(): string {
  try {
    const head = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: repoRoot, encoding: "utf8" }).trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "--", "src"], { cwd: repoRoot, encoding: "utf8" })
      .split("\n")
      .filter(Boolean)
      .map((l) => l.slice(3));
    return `HEAD ${head}${dirty.length ? `, with uncommitted changes in ${dirty.join(", ")}` : ", src/ clean"}`;
  } catch {
    return "not a git checkout";
  }
}

/** Medians over runs of Node's and, on PostgreSQL, the server's CPU per job, with their shares of the window. */
function cpuSplit(results: readonly ScenarioResult[]): string {
  const withCpu = results.filter((r) => r.process && r.jobs > 0);
  if (withCpu.length === 0) return "?";
  const node = median(withCpu.map((r) => (1000 * r.process!.cpuMs) / r.jobs));
  const nodeShare = median(withCpu.map((r) => r.process!.cpuMs / r.elapsedMs));
  const withServer = withCpu.filter((r) => r.server);
  if (withServer.length === 0) return `${fmtInt(node)} µs`;
  const server = median(withServer.map((r) => (1000 * r.server!.backendCpuMs) / r.jobs));
  const serverShare = median(withServer.map((r) => r.server!.backendCpuMs / r.elapsedMs));
  return `${fmtInt(node)} + ${fmtInt(server)} µs (${pct(nodeShare, 1)} + ${pct(serverShare, 1)})`;
}

/** Medians over runs of the kernel's share of Node's and, on PostgreSQL, of the backends' CPU time. */
function kernelSplit(results: readonly ScenarioResult[]): string {
  const node = results.filter((r) => r.process && r.process.cpuMs > 0).map((r) => r.process!.sysMs / r.process!.cpuMs);
  if (node.length === 0) return "?";
  const server = results.filter((r) => r.server && r.server.backendCpuMs > 0).map((r) => r.server!.backendSysMs / r.server!.backendCpuMs);
  return server.length ? `${pct(median(node), 1)} / ${pct(median(server), 1)}` : pct(median(node), 1);
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? "").length)));
  const line = (r: string[]) => r.map((cell, c) => cell.padEnd(widths[c]!)).join("  ").trimEnd();
  return [line(rows[0]!), widths.map((w) => "-".repeat(w)).join("  "), ...rows.slice(1).map(line)].join("\n");
}

async function main(): Promise<void> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      "batch-stats": { type: "boolean", default: false },
      count: { type: "string", default: "both" },
      "cpu-prof": { type: "boolean", default: false },
      help: { type: "boolean", default: false },
      only: { type: "string", multiple: true },
      "pg-options": { type: "string" },
      runs: { type: "string", default: "3" },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  const engine = positionals[0];
  if ((engine !== "sqlite" && engine !== "postgres") || positionals.length > 1) {
    process.stderr.write(USAGE);
    process.exitCode = 2;
    return;
  }
  const bench = ENGINES[engine];
  if (values["pg-options"] !== undefined && engine !== "postgres") throw new Error("--pg-options is for postgres runs only");
  const runs = Number(values.runs);
  if (!Number.isSafeInteger(runs) || runs < 1) throw new Error(`--runs must be a positive integer, got ${values.runs}`);
  const only = (values.only ?? []).flatMap((o) => o.split(",")).map((o) => o.trim()).filter(Boolean);
  for (const o of only) if (!isScenario(o)) throw new Error(`unknown scenario ${JSON.stringify(o)}: expected one of ${SCENARIOS.join(", ")}`);
  const counts: CompletionCount[] = values.count === "both" ? ["events", "poll"] : values.count === "events" || values.count === "poll" ? [values.count] : [];
  if (counts.length === 0) throw new Error(`--count must be events, poll or both, got ${values.count}`);
  let postgres: { settings: string; version: string } | null = null;
  if (engine === "postgres") {
    try {
      postgres = await postgresDescription();
    } catch (error) {
      throw new Error(`PostgreSQL at ${PG_URL} cannot be reached (set OFFLOAD_BENCH_PG_URL to another server): ${(error as Error).message}`);
    }
  }
  const profileDir = values["cpu-prof"] ? mkdtempSync(join(tmpdir(), "offload-bench-profiles-")) : null;
  if (profileDir) mkdirSync(profileDir, { recursive: true });

  const todo = plans(bench, only as ScenarioName[], counts, values["batch-stats"]);
  const JOBS = bench.jobs;
  const processingSizes = [...new Set(bench.processing.map(([, , jobs]) => fmtInt(jobs)))].join(" or ");
  const cpu = cpus();
  const out = process.stdout;
  out.write(`Offload bench, engine ${engine}, ${new Date().toISOString()}\n`);
  out.write(`machine  ${cpu[0]?.model ?? "unknown CPU"}, ${cpu.length} cores, Node ${process.version}, ${postgres ? postgres.version : sqliteVersions()}\n`);
  if (postgres) {
    out.write(`         server settings: ${postgres.settings}\n`);
    out.write(`         floors now: ${await postgresFloors()}\n`);
  }
  out.write(`         load average at start ${loadavg().map((l) => l.toFixed(2)).join(" ")}\n`);
  out.write(`code     ${codeState()}\n`);
  out.write(`targets  ${bench.targets.source}: processing >= ${fmtInt(bench.targets.processing)} jobs/s, latency p50 < ${bench.targets.latencyP50Ms} ms\n`);
  if (engine === "sqlite") {
    out.write(`settings ${runs} run(s) per row, each a fresh \`node --expose-gc --import tsx bench/scenario.ts\` process on a fresh temp database\n`);
    out.write(`         file (removed afterwards); runs of all rows interleaved; the median is reported, then each run.\n`);
    out.write(`         database: sqlite:<tmp>/bench.db with Offload's defaults (WAL, synchronous=NORMAL, busy_timeout 5 s); logger: false.\n`);
  } else {
    out.write(`settings ${runs} run(s) per row, each a fresh \`node --expose-gc --import tsx bench/scenario.ts\` process on a fresh schema\n`);
    out.write(`         (offload_bench_<random>, created by Offload's migration, dropped afterwards); runs of all rows interleaved; the median\n`);
    out.write(`         is reported, then each run. database: ${PG_URL}?schema=<fresh> with Offload's defaults (pool of 10, LISTEN/NOTIFY); logger: false.\n`);
    if (values["pg-options"]) out.write(`         --pg-options: every connection of the runs starts with server options ${JSON.stringify(values["pg-options"])}.\n`);
  }
  out.write(`         job: no-op async handler, payload { i } checked by zod z.object({ i: z.number().int() }) at enqueue and at run.\n`);
  out.write(`         enqueue one: ${fmtInt(JOBS.one)} x await type.enqueue(p), after ${JOBS.oneWarmup} untimed warm-up enqueues.\n`);
  out.write(`         enqueue bulk: ${fmtInt(JOBS.bulk)} jobs by await type.enqueueMany(batch of ${fmtInt(JOBS.bulkBatch)}), after one untimed warm-up batch; arrays built before the clock.\n`);
  out.write(`         process: ${processingSizes} jobs enqueued first (untimed, enqueueMany of 1,000), gc() twice, then the clock runs from offload.start({ concurrency:\n`);
  out.write(`         { default: N } }) (default worker options: poll 1 s, heartbeat 3 s, lease 10 s) until the last completion is known,\n`);
  out.write(`         by a job:completed listener [events], or by the handler's own counter then polling queueCounts() until all are written [count poll].\n`);
  out.write(`         latency: worker started (concurrency 10) and idle; ${JOBS.latencyWarmup} untimed warm-up jobs, gc(), 250 ms idle, then ${JOBS.latency} jobs\n`);
  out.write(`         enqueued ${JOBS.latencyIntervalMs} ms apart (fixed cadence); latency = performance.now() in the handler's first line minus\n`);
  out.write(`         performance.now() taken just before enqueue() is called (carried in the payload); same process.\n`);
  if (engine === "postgres") {
    out.write(`         CPU: Node = the scenario process, all threads (process.cpuUsage()); PG = the server backends of the run's own connections\n`);
    out.write(`         (found by application_name in pg_stat_activity; /proc/<pid>/schedstat), over the measured window.\n`);
  }
  if (values["batch-stats"]) out.write(`         --batch-stats: jobClaim, jobAckAndClaim and jobAckMany are wrapped to count calls; figures are slightly slowed by it.\n`);
  if (profileDir) out.write(`         --cpu-prof: V8 CPU profiles of each measured window in ${profileDir} (100 µs sampling); figures below are slowed by it.\n`);
  out.write("\n");

  const outcomes = new Map<string, RunOutcome[]>(todo.map((p) => [p.key, []]));
  const totalRuns = todo.length * runs;
  let n = 0;
  const started = Date.now();
  for (let run = 1; run <= runs; run++) {
    for (const plan of todo) {
      n++;
      const profileFile = profileDir ? join(profileDir, `${plan.key.replace(":", "-")}-run${run}.cpuprofile`) : null;
      const outcome = await runOnce(plan, engine, values["pg-options"], profileFile);
      outcomes.get(plan.key)!.push(outcome);
      const r = outcome.result;
      const split =
        r?.process && r.server
          ? `; CPU/job Node ${fmtInt((1000 * r.process.cpuMs) / r.jobs)} µs (kernel ${fmtInt((1000 * r.process.sysMs) / r.jobs)}), ` +
            `PG ${fmtInt((1000 * r.server.backendCpuMs) / r.jobs)} µs (kernel ${fmtInt((1000 * r.server.backendSysMs) / r.jobs)})`
          : "";
      const shown = !r ? `FAILED: ${outcome.error?.split("\n")[0]}` : `${r.latency ? `p50 ${fmtMs(r.latency.p50)}` : `${fmtInt(r.jobsPerSec ?? NaN)} jobs/s`}${split}; load ${loadavg()[0]!.toFixed(2)}`;
      process.stderr.write(`[${n}/${totalRuns}] ${plan.label}, run ${run}: ${shown}\n`);
      if (outcome.error) process.stderr.write(`${outcome.error}\n`);
    }
  }

  const cpuHeader = engine === "postgres" ? "CPU per job: Node + PG (share of wall)" : "CPU per job: Node";
  const kernelHeader = engine === "postgres" ? "of it in kernel: Node / PG" : "of it in kernel";
  const rows: string[][] = [["scenario", "median", "target", "", "runs", "on CPU / waited for CPU, per run", "jobs per CPU-s", cpuHeader, kernelHeader, "bare-SQL ceiling (LIMITS.md)"]];
  let failed = false;
  const notes = new Set<string>();
  for (const plan of todo) {
    const results = outcomes.get(plan.key)!.flatMap((o) => (o.result ? [o.result] : []));
    const failures = outcomes.get(plan.key)!.length - results.length;
    if (failures > 0) failed = true;
    for (const r of results) for (const note of r.notes) notes.add(`${plan.label}: ${note}`);
    const failedText = failures > 0 ? ` (${failures} failed)` : "";
    const cpu = results.map((r) => (r.mainThread ? `${pct(r.mainThread.cpuMs, r.elapsedMs)}/${pct(r.mainThread.runQueueMs, r.elapsedMs)}` : "?")).join("  ");
    const split = cpuSplit(results);
    const kernel = kernelSplit(results);
    if (plan.scenario === "latency") {
      for (const p of ["p50", "p95", "p99"] as const) {
        const values = results.map((r) => r.latency![p]);
        const med = median(values);
        const target = p === "p50" ? plan.target : null;
        rows.push([
          `${plan.label} ${p}`,
          fmtMs(med),
          target?.text ?? "-",
          target && results.length ? (target.met(med) ? "met" : "NOT met") : "",
          values.map(fmtMs).join(" / ") + failedText,
          p === "p50" ? cpu : "",
          "",
          p === "p50" ? split : "",
          p === "p50" ? kernel : "",
          p === "p50" ? plan.ceiling : "",
        ]);
      }
      const maxes = results.map((r) => r.latency!.max);
      rows.push([`${plan.label} max`, fmtMs(median(maxes)), "-", "", maxes.map(fmtMs).join(" / ") + failedText, "", "", "", "", ""]);
    } else {
      const values = results.map((r) => r.jobsPerSec!);
      const med = median(values);
      const cpuRates = results.flatMap((r) => (r.mainThread && r.mainThread.cpuMs > 0 ? [(r.jobs * 1000) / r.mainThread.cpuMs] : []));
      const perCpu = cpuRates.length ? fmtInt(median(cpuRates)) : "?";
      rows.push([
        plan.label,
        results.length ? `${fmtInt(med)} jobs/s` : "n/a",
        plan.target?.text ?? "- (none set)",
        plan.target && results.length ? (plan.target.met(med) ? "met" : "NOT met") : "",
        values.map(fmtInt).join(" / ") + failedText,
        cpu,
        perCpu,
        split,
        kernel,
        plan.ceiling,
      ]);
    }
  }
  out.write(`${table(rows)}\n`);
  out.write(`"on CPU / waited for CPU": the scenario's main thread during the measured window, as a share of it (/proc/thread-self/schedstat);\n`);
  out.write(`a large wait means other processes held the CPUs and that run's figure is low for reasons outside Offload.\n`);
  out.write(`"jobs per CPU-s": median of jobs / main-thread CPU time, a figure less sensitive to other load (not a target: idle time and GC threads are not in it).\n`);
  if (engine === "postgres") {
    out.write(`"CPU per job": medians of the Node process's CPU (all threads) and of the server backends' CPU for the run's connections, per job,\n`);
    out.write(`and each as a share of the wall-clock window (with 2 cores, the two shares can add up to 200 %). "of it in kernel": system time\n`);
    out.write(`(sockets, wake-ups; on the server also WAL flushes: a committing backend runs fdatasync itself), from process.cpuUsage() and /proc/<pid>/stat.\n`);
    const others = todo.flatMap((plan) => outcomes.get(plan.key)!.flatMap((o) => (o.result?.server ? [(100 * o.result.server.otherCpuMs) / o.result.elapsedMs] : [])));
    if (others.length) {
      out.write(`Other postgres processes (WAL writer, checkpointer, ..., and other clients' backends on this machine) ran ${median(others).toFixed(1)} % of a CPU\n`);
      out.write(`during the median window (max ${Math.max(...others).toFixed(1)} %).\n`);
    }
  } else {
    out.write(`"CPU per job": median of the Node process's CPU (all threads) per job; "of it in kernel": its system time (process.cpuUsage()).\n`);
  }
  for (const note of notes) out.write(`note: ${note}\n`);
  for (const plan of todo) {
    const runsStats = outcomes.get(plan.key)!.flatMap((o) => (o.result?.batches ? [o.result.batches] : []));
    if (runsStats.length === 0) continue;
    const per = runsStats.map(
      (b) =>
        `${fmtInt(b.claimCalls)} claims (${(b.claimed / Math.max(1, b.claimCalls - b.emptyClaims)).toFixed(1)} jobs per non-empty claim, ${fmtInt(b.emptyClaims)} empty, ` +
        `${(b.claimMs / Math.max(1, b.claimCalls)).toFixed(2)} ms each); acks: ${fmtInt(b.withClaimAcked)} with ${fmtInt(b.withClaimCalls)} claims ` +
        `(${(b.withClaimAcked / Math.max(1, b.withClaimCalls)).toFixed(1)} per claim), ${fmtInt(b.acked)} in ${fmtInt(b.ackCalls)} writes of their own` +
        (b.ackCalls ? ` (${(b.acked / b.ackCalls).toFixed(1)} per write, ${(b.ackMs / b.ackCalls).toFixed(2)} ms each)` : ""),
    );
    out.write(`batches, ${plan.label}:\n${per.map((p, i) => `  run ${i + 1}: ${p}`).join("\n")}\n`);
  }
  out.write(`\n${totalRuns} runs in ${((Date.now() - started) / 1000).toFixed(1)} s; load average at end ${loadavg().map((l) => l.toFixed(2)).join(" ")}\n`);
  if (engine === "postgres") out.write(`floors at end: ${await postgresFloors()}\n`);

  if (profileDir) {
    for (const plan of todo) {
      const first = outcomes.get(plan.key)!.find((o) => o.profile && o.result);
      if (!first?.profile) continue;
      out.write(`\nCPU profile, ${plan.label}, run 1 (${first.profile}):\n`);
      const profile = JSON.parse(readFileSync(first.profile, "utf8")) as CpuProfile;
      out.write(`${summariseProfile(profile, 12).map((l) => `  ${l}`).join("\n")}\n`);
    }
  }
  if (failed) process.exitCode = 1;
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
