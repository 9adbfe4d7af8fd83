/**
 * Prints Offload's throughput and latency figures for no-op jobs:
 *
 *   npm run bench -- sqlite [--runs N] [--only <scenario>[,<scenario>]] [--count events|poll|both] [--cpu-prof]
 *
 * Every run is a fresh child process (bench/scenario.ts) on its own fresh
 * temp database file, removed afterwards; the runs of all scenarios are
 * interleaved so that a slow patch of the machine does not land on one
 * scenario only. The median of the runs is reported, with each run.
 */
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
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
  --batch-stats            count the worker's claim and ack calls in processing runs
                           (wraps them: for insight, the figures are slightly slowed)
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
  /** Target from issue 2 for the row's headline figure (jobs/s, or p50 ms), or null when the issue sets none. */
  target: { met: (figure: number) => boolean; text: string } | null;
}

const JOBS = { bulk: 20_000, bulkBatch: 1_000, latency: 300, latencyIntervalMs: 20, latencyWarmup: 20, one: 5_000, oneWarmup: 200, processing: 20_000 };

function plans(only: readonly ScenarioName[], counts: readonly CompletionCount[], batchStats: boolean): Plan[] {
  const all: Plan[] = [];
  const want = (s: ScenarioName) => only.length === 0 || only.includes(s);
  if (want("enqueue-one")) {
    all.push({
      args: ["--jobs", String(JOBS.one), "--warmup", String(JOBS.oneWarmup)],
      ceiling: "39,027 rows/s (1 row/txn)",
      key: "enqueue-one",
      label: `enqueue one at a time (${JOBS.one.toLocaleString("en")})`,
      scenario: "enqueue-one",
      target: null,
    });
  }
  if (want("enqueue-bulk")) {
    all.push({
      args: ["--jobs", String(JOBS.bulk), "--batch", String(JOBS.bulkBatch), "--warmup", String(JOBS.bulkBatch)],
      ceiling: "~276,000 rows/s (1,000/txn)",
      key: "enqueue-bulk",
      label: `enqueueMany, batches of ${JOBS.bulkBatch.toLocaleString("en")} (${JOBS.bulk.toLocaleString("en")})`,
      scenario: "enqueue-bulk",
      target: null,
    });
  }
  for (const [scenario, concurrency, ceiling] of [
    ["process-c10", 10, "73,290 (B=10)"],
    ["process-c50", 50, "73,290 (B=10) .. 155,548 (B=100)"],
  ] as const) {
    if (!want(scenario)) continue;
    for (const count of counts) {
      all.push({
        args: ["--jobs", String(JOBS.processing), "--concurrency", String(concurrency), "--count", count, ...(batchStats ? ["--batch-stats"] : [])],
        ceiling,
        key: `${scenario}:${count}`,
        label: `process, concurrency ${concurrency} [${count === "events" ? "job:completed listener" : "count poll"}]`,
        scenario,
        target: { met: (jobsPerSec) => jobsPerSec >= 25_000, text: ">= 25,000 jobs/s" },
      });
    }
  }
  if (want("latency")) {
    all.push({
      args: ["--jobs", String(JOBS.latency), "--interval-ms", String(JOBS.latencyIntervalMs), "--warmup", String(JOBS.latencyWarmup)],
      ceiling: "14 µs (SQLite small write txn p50)",
      key: "latency",
      label: `enqueue-to-start latency, idle worker (${JOBS.latency})`,
      scenario: "latency",
      target: { met: (p50) => p50 < 2, text: "p50 < 2 ms" },
    });
  }
  return all;
}

interface RunOutcome {
  error?: string;
  profile?: string;
  result?: ScenarioResult;
}

function runOnce(plan: Plan, engine: string, profileFile: string | null): Promise<RunOutcome> {
  const dir = mkdtempSync(join(tmpdir(), "offload-bench-"));
  const args = ["--expose-gc", "--import", "tsx", scenarioScript, plan.scenario, engine, "--db", join(dir, "bench.db"), ...plan.args];
  if (profileFile) args.push("--profile", profileFile);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), RUN_TIMEOUT_MS);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      rmSync(dir, { force: true, recursive: true });
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
      runs: { type: "string", default: "3" },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  const engine = positionals[0];
  if (engine === "postgres") {
    process.stdout.write("postgres: not available yet (the PostgreSQL engine is a later issue)\n");
    return;
  }
  if (engine !== "sqlite" || positionals.length > 1) {
    process.stderr.write(USAGE);
    process.exitCode = 2;
    return;
  }
  const runs = Number(values.runs);
  if (!Number.isSafeInteger(runs) || runs < 1) throw new Error(`--runs must be a positive integer, got ${values.runs}`);
  const only = (values.only ?? []).flatMap((o) => o.split(",")).map((o) => o.trim()).filter(Boolean);
  for (const o of only) if (!isScenario(o)) throw new Error(`unknown scenario ${JSON.stringify(o)}: expected one of ${SCENARIOS.join(", ")}`);
  const counts: CompletionCount[] = values.count === "both" ? ["events", "poll"] : values.count === "events" || values.count === "poll" ? [values.count] : [];
  if (counts.length === 0) throw new Error(`--count must be events, poll or both, got ${values.count}`);
  const profileDir = values["cpu-prof"] ? mkdtempSync(join(tmpdir(), "offload-bench-profiles-")) : null;
  if (profileDir) mkdirSync(profileDir, { recursive: true });

  const todo = plans(only as ScenarioName[], counts, values["batch-stats"]);
  const cpu = cpus();
  const out = process.stdout;
  out.write(`Offload bench, engine ${engine}, ${new Date().toISOString()}\n`);
  out.write(`machine  ${cpu[0]?.model ?? "unknown CPU"}, ${cpu.length} cores, Node ${process.version}, ${sqliteVersions()}\n`);
  out.write(`         load average at start ${loadavg().map((l) => l.toFixed(2)).join(" ")}\n`);
  out.write(`code     ${codeState()}\n`);
  out.write(`settings ${runs} run(s) per row, each a fresh \`node --expose-gc --import tsx bench/scenario.ts\` process on a fresh temp database\n`);
  out.write(`         file (removed afterwards); runs of all rows interleaved; the median is reported, then each run.\n`);
  out.write(`         database: sqlite:<tmp>/bench.db with Offload's defaults (WAL, synchronous=NORMAL, busy_timeout 5 s); logger: false.\n`);
  out.write(`         job: no-op async handler, payload { i } checked by zod z.object({ i: z.number().int() }) at enqueue and at run.\n`);
  out.write(`         enqueue one: ${fmtInt(JOBS.one)} x await type.enqueue(p), after ${JOBS.oneWarmup} untimed warm-up enqueues.\n`);
  out.write(`         enqueue bulk: ${fmtInt(JOBS.bulk)} jobs by await type.enqueueMany(batch of ${fmtInt(JOBS.bulkBatch)}), after one untimed warm-up batch; arrays built before the clock.\n`);
  out.write(`         process: ${fmtInt(JOBS.processing)} jobs enqueued first (untimed), gc() twice, then the clock runs from offload.start({ concurrency:\n`);
  out.write(`         { default: N } }) (default worker options: poll 1 s, heartbeat 3 s, lease 10 s) until the last completion is known,\n`);
  out.write(`         by a job:completed listener [events], or by the handler's own counter then polling queueCounts() until all are written [count poll].\n`);
  out.write(`         latency: worker started (concurrency 10) and idle; ${JOBS.latencyWarmup} untimed warm-up jobs, gc(), 250 ms idle, then ${JOBS.latency} jobs\n`);
  out.write(`         enqueued ${JOBS.latencyIntervalMs} ms apart (fixed cadence); latency = performance.now() in the handler's first line minus\n`);
  out.write(`         performance.now() taken just before enqueue() is called (carried in the payload); same process.\n`);
  if (values["batch-stats"]) out.write(`         --batch-stats: jobClaim and jobAckMany are wrapped to count calls; figures are slightly slowed by it.\n`);
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
      const outcome = await runOnce(plan, engine, profileFile);
      outcomes.get(plan.key)!.push(outcome);
      const r = outcome.result;
      const shown = !r ? `FAILED: ${outcome.error?.split("\n")[0]}` : r.latency ? `p50 ${fmtMs(r.latency.p50)}` : `${fmtInt(r.jobsPerSec ?? NaN)} jobs/s`;
      process.stderr.write(`[${n}/${totalRuns}] ${plan.label}, run ${run}: ${shown}\n`);
      if (outcome.error) process.stderr.write(`${outcome.error}\n`);
    }
  }

  const rows: string[][] = [["scenario", "median", "target", "", "runs", "on CPU / waited for CPU, per run", "jobs per CPU-s", "bare-SQL ceiling (LIMITS.md)"]];
  let failed = false;
  const notes = new Set<string>();
  for (const plan of todo) {
    const results = outcomes.get(plan.key)!.flatMap((o) => (o.result ? [o.result] : []));
    const failures = outcomes.get(plan.key)!.length - results.length;
    if (failures > 0) failed = true;
    for (const r of results) for (const note of r.notes) notes.add(`${plan.label}: ${note}`);
    const failedText = failures > 0 ? ` (${failures} failed)` : "";
    const cpu = results.map((r) => (r.mainThread ? `${pct(r.mainThread.cpuMs, r.elapsedMs)}/${pct(r.mainThread.runQueueMs, r.elapsedMs)}` : "?")).join("  ");
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
          p === "p50" ? plan.ceiling : "",
        ]);
      }
      const maxes = results.map((r) => r.latency!.max);
      rows.push([`${plan.label} max`, fmtMs(median(maxes)), "-", "", maxes.map(fmtMs).join(" / ") + failedText, "", "", ""]);
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
        plan.ceiling,
      ]);
    }
  }
  out.write(`${table(rows)}\n`);
  out.write(`"on CPU / waited for CPU": the scenario's main thread during the measured window, as a share of it (/proc/thread-self/schedstat);\n`);
  out.write(`a large wait means other processes held the CPUs and that run's figure is low for reasons outside Offload.\n`);
  out.write(`"jobs per CPU-s": median of jobs / main-thread CPU time, a figure less sensitive to other load (not a target: idle time and GC threads are not in it).\n`);
  for (const note of notes) out.write(`note: ${note}\n`);
  for (const plan of todo) {
    const runsStats = outcomes.get(plan.key)!.flatMap((o) => (o.result?.batches ? [o.result.batches] : []));
    if (runsStats.length === 0) continue;
    const per = runsStats.map(
      (b) =>
        `${fmtInt(b.claimCalls)} claims (${(b.claimed / Math.max(1, b.claimCalls - b.emptyClaims)).toFixed(1)} jobs per non-empty claim, ${fmtInt(b.emptyClaims)} empty), ` +
        `${fmtInt(b.ackCalls)} ack writes (${(b.acked / Math.max(1, b.ackCalls)).toFixed(1)} per write)`,
    );
    out.write(`batches, ${plan.label}:\n${per.map((p, i) => `  run ${i + 1}: ${p}`).join("\n")}\n`);
  }
  out.write(`\n${totalRuns} runs in ${((Date.now() - started) / 1000).toFixed(1)} s; load average at end ${loadavg().map((l) => l.toFixed(2)).join(" ")}\n`);

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
