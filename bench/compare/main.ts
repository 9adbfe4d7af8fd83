/**
 * Offload against BullMQ (Redis), graphile-worker and pg-boss (PostgreSQL),
 * side by side in one run on one machine:
 *
 *   npm run bench:compare                       (from the repository root: installs bench/ and runs everything)
 *   npm --prefix bench run compare -- [options] (see USAGE)
 *
 * Every run of every scenario for every system is a fresh process
 * (run-one.ts, bundled with Offload's src/ by build.ts) on fresh storage
 * made and removed here; runs are interleaved (run 1 of every scenario and
 * system, then run 2, ...), so a slow patch of the machine does not land on
 * one system only. Prints each run as it ends, then the table, and writes
 * docs/benchmarks.md for a complete run.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { SYSTEMS, isSystem, type SystemName } from "./adapter.js";
import { describeSystem } from "./adapters/describe.js";
import { buildScenarioBundles, removeBuild } from "./build.js";
import { describeEnvironment, floors, loadAverage, redisPersistence } from "./environment.js";
import { FULL, QUICK, SCENARIOS, isScenario, rows, runTimeoutMs, type RunResult, type RunSpec, type ScenarioName, type Sizes } from "./plan.js";
import { summariseWorkerProfiles } from "./profiles.js";
import { buildTable, consoleTable, acceptance, markdown, outcomeKey, type Outcomes, type RunOutcome } from "./report.js";
import { ensureServers, freshStorage, removeLeftovers, usesPostgres, withRedis } from "./storage.js";

const benchDir = fileURLToPath(new URL("../", import.meta.url));
const DEFAULT_OUT = fileURLToPath(new URL("../../docs/benchmarks.md", import.meta.url));

const USAGE = `usage: npm run bench:compare                 (repository root: installs bench/'s dependencies, then every scenario and system)
       npm --prefix bench run compare -- [options]

  --only <system>[,...]       systems: ${SYSTEMS.join(", ")} (default all)
  --scenario <name>[,...]     scenarios: ${SCENARIOS.join(", ")} (default all)
  --runs N                    runs of each scenario per system, each a fresh process (default 3)
  --quick                     smaller sizes and 1 run (unless --runs): a few minutes, for development
  --out <file>                write the markdown report there (default: docs/benchmarks.md, and only
                              for a complete full run: all systems, all scenarios, no --quick)
  --redis-persistence <mode>  aof (default): Redis runs with appendonly yes, appendfsync everysec during the
                              comparison, as BullMQ's production guide recommends (the previous setting is
                              restored at the end); as-is: leave the server's setting
  --cpu-prof                  write V8 CPU profiles of the scenario and worker processes and summarise
                              Offload's processing workers and enqueue-one (the profiler slows the runs)
`;

interface Options {
  cpuProf: boolean;
  out: string | null;
  quick: boolean;
  redisMode: "aof" | "as-is";
  runs: number;
  scenarios: ScenarioName[];
  systems: SystemName[];
}

function parse(): Options | null {
  const { values } = parseArgs({
    options: {
      "cpu-prof": { default: false, type: "boolean" },
      help: { default: false, type: "boolean" },
      only: { multiple: true, type: "string" },
      out: { type: "string" },
      quick: { default: false, type: "boolean" },
      "redis-persistence": { default: "aof", type: "string" },
      runs: { type: "string" },
      scenario: { multiple: true, type: "string" },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return null;
  }
  const list = (v: string[] | undefined) => (v ?? []).flatMap((x) => x.split(",")).map((x) => x.trim()).filter(Boolean);
  const systems = list(values.only);
  for (const s of systems) if (!isSystem(s)) throw new Error(`unknown system ${JSON.stringify(s)}: expected one of ${SYSTEMS.join(", ")}`);
  const scenarios = list(values.scenario);
  for (const s of scenarios) if (!isScenario(s)) throw new Error(`unknown scenario ${JSON.stringify(s)}: expected one of ${SCENARIOS.join(", ")}`);
  const runs = Number(values.runs ?? (values.quick ? 1 : 3));
  if (!Number.isSafeInteger(runs) || runs < 1) throw new Error(`--runs must be a positive integer, got ${values.runs}`);
  const mode = values["redis-persistence"];
  if (mode !== "aof" && mode !== "as-is") throw new Error(`--redis-persistence must be aof or as-is, got ${mode}`);
  const complete = systems.length === 0 && scenarios.length === 0 && !values.quick;
  return {
    cpuProf: values["cpu-prof"],
    out: values.out ?? (complete ? DEFAULT_OUT : null),
    quick: values.quick,
    redisMode: mode,
    runs,
    scenarios: scenarios.length ? SCENARIOS.filter((s) => scenarios.includes(s)) : [...SCENARIOS],
    systems: systems.length ? SYSTEMS.filter((s) => systems.includes(s)) : [...SYSTEMS],
  };
}

/** The process group of the run under way, killed with the runner. */
let current: { pid: number } | null = null;

async function runOnce(runOne: string, spec: Omit<RunSpec, "storage">, timeoutMs: number): Promise<RunOutcome> {
  const t0 = Date.now();
  const storage = await freshStorage(spec.system);
  try {
    const full: RunSpec = { ...spec, storage: storage.context };
    const execArgv = spec.cpuProfDir ? ["--cpu-prof", "--cpu-prof-dir", spec.cpuProfDir, "--cpu-prof-name", `${spec.runLabel}-main.cpuprofile`] : [];
    return await new Promise<RunOutcome>((resolve) => {
      // A process group of its own: a timeout kills the scenario process and its worker processes together.
      const child = spawn(process.execPath, ["--expose-gc", ...execArgv, runOne, JSON.stringify(full)], { cwd: benchDir, detached: true, stdio: ["ignore", "pipe", "pipe"] });
      const group = { pid: child.pid! };
      current = group;
      let stdout = "";
      let stderr = "";
      child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
      child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        killGroup(group.pid);
      }, timeoutMs);
      child.on("close", (code, signal) => {
        clearTimeout(timer);
        // Worker processes left behind by a failed run go with their group.
        killGroup(group.pid);
        if (current === group) current = null;
        const seconds = (Date.now() - t0) / 1000;
        const last = stdout.trim().split("\n").pop() ?? "";
        if (code === 0 && last.startsWith("{")) {
          try {
            resolve({ result: JSON.parse(last) as RunResult, seconds });
            return;
          } catch {
            // reported below
          }
        }
        const why = timedOut ? `timed out after ${timeoutMs / 1000} s` : signal ? `killed by ${signal}` : `exit code ${code}`;
        const tail = stderr.trim().split("\n").slice(-6).join("\n  ");
        resolve({ error: `${why}${tail ? `\n  ${tail}` : ""}`, seconds });
      });
    });
  } finally {
    await storage.cleanup().catch((error: unknown) => process.stderr.write(`could not remove the run's storage: ${(error as Error).message}\n`));
  }
}

function killGroup(pid: number): void {
  try {
    process.kill(-pid, "SIGKILL");
  } catch {
    // already gone
  }
}

function shortFigures(result: RunResult): string {
  const f = result.figures;
  const fmt = (v: number | null | undefined, d = 0) => (v === null || v === undefined ? "n/a" : v.toLocaleString("en", { maximumFractionDigits: d }));
  if ("p50" in f) {
    const d = result.details;
    return `p50 ${fmt(f.p50, 2)} ms, p95 ${fmt(f.p95, 2)} ms, p99 ${fmt(f.p99, 2)} ms, max ${fmt(f.max, 1)} ms (p50 of enqueue() returning ${d.enqueueReturnedP50Ms} ms, then of the start ${d.startAfterReturnP50Ms} ms later)`;
  }
  if ("recoverySeconds" in f) return `all done ${f.recoverySeconds === null ? "not within the cap" : `${fmt(f.recoverySeconds, 1)} s after the kill`}, lost ${f.lost}, run twice ${f.runTwice}`;
  const extra = Object.entries(result.details)
    .map(([k, v]) => `${k} ${v}`)
    .join(", ");
  const rss = f.rssMaxMb !== undefined ? `, max RSS ${fmt(f.rssMaxMb)} MB` : "";
  return `${fmt(f.jobsPerSec)} jobs/s${rss}${extra ? ` (${extra})` : ""}`;
}

async function main(): Promise<void> {
  const options = parse();
  if (!options) return;
  const sizes: Sizes = options.quick ? QUICK : FULL;
  const { systems, scenarios, runs } = options;
  const needPg = systems.some(usesPostgres);
  const needRedis = systems.includes("bullmq");
  const started = Date.now();
  const log = (line: string) => process.stdout.write(`${line}\n`);

  for (const did of await ensureServers(needPg, needRedis)) log(did);
  const leftovers = await removeLeftovers(needPg, needRedis);
  if (leftovers) log(`removed ${leftovers} database(s) left by an earlier, interrupted comparison`);

  let restoreRedis: (() => Promise<void>) | null = null;
  let redisPersistenceNote = "";
  if (needRedis) {
    if (options.redisMode === "aof") restoreRedis = await enableAof(log);
    redisPersistenceNote = `${await redisPersistence()}${options.redisMode === "aof" ? " (set for the comparison, as BullMQ's production guide recommends)" : " (the server's own setting)"}`;
  }
  const stopping = async () => {
    if (current) killGroup(current.pid);
    removeBuild();
    await restoreRedis?.().catch(() => undefined);
    process.exit(130);
  };
  process.once("SIGINT", () => void stopping());
  process.once("SIGTERM", () => void stopping());

  try {
    const environment = await describeEnvironment(needPg, needRedis);
    const floorsBefore = needPg || needRedis ? await floors(needPg, needRedis) : "";
    const { runOne } = await buildScenarioBundles();
    const cpuProfDir = options.cpuProf ? mkdtempSync(join(tmpdir(), "offload-bench-profiles-")) : null;
    log(`Offload vs BullMQ, graphile-worker, pg-boss: ${environment.date}`);
    log(`machine  ${environment.cpu}, ${environment.memory}, ${environment.os}; load ${environment.loadBefore}`);
    log(`         ${environment.node}; Offload ${environment.offload}; ${environment.sqlite}`);
    if (environment.postgres) log(`         ${environment.postgres.version}; ${environment.postgres.settings}`);
    if (environment.redis) log(`         ${environment.redis.version}; ${redisPersistenceNote}`);
    log(`         ${environment.packages.map((p) => `${p.name} ${p.version}`).join(", ")}`);
    if (floorsBefore) log(`floors   one call every 20 ms: ${floorsBefore}`);
    log(`plan     ${runs} run(s) x ${scenarios.length} scenario(s) x ${systems.length} system(s)${options.quick ? ", quick sizes" : ""}${cpuProfDir ? `; CPU profiles in ${cpuProfDir}` : ""}`);
    for (const system of systems) {
      const d = describeSystem(system);
      log(`${d.title}:`);
      for (const s of d.settings) log(`  - ${s}`);
    }
    log("");

    const outcomes: Outcomes = new Map();
    const failures: string[] = [];
    const total = runs * scenarios.length * systems.length;
    let n = 0;
    let loadPeak = Number(environment.loadBefore.split(" / ")[0]);
    const record = (scenario: ScenarioName, system: SystemName, run: number, outcome: RunOutcome) => {
      n++;
      loadPeak = Math.max(loadPeak, Number(loadAverage().split(" / ")[0]));
      const key = outcomeKey(scenario, system);
      outcomes.set(key, [...(outcomes.get(key) ?? []), outcome]);
      const elapsed = ((Date.now() - started) / 60_000).toFixed(1);
      const shown = outcome.result ? shortFigures(outcome.result) : `FAILED: ${outcome.error}`;
      log(`[${n}/${total}, ${elapsed} min] ${scenario} ${system} run ${run}: ${shown} (${outcome.seconds.toFixed(0)} s, load ${loadAverage().split(" / ")[0]})`);
      if (outcome.error) failures.push(`${scenario}, ${system}, run ${run}: ${outcome.error.split("\n")[0]}`);
    };
    for (let run = 1; run <= runs; run++) {
      for (const scenario of scenarios) {
        const params = sizes[scenario];
        const spec = (system: SystemName) => ({ cpuProfDir, params, runLabel: `${system}-${scenario}-run${run}`, scenario, system });
        if (scenario === "crash") {
          // Side by side: mostly idle waiting for each system's lock or lease timers; one at a time would cost minutes of sleep.
          const results = await Promise.all(systems.map((system) => runOnce(runOne, spec(system), runTimeoutMs(params))));
          results.forEach((outcome, k) => record(scenario, systems[k]!, run, outcome));
        } else {
          for (const system of systems) record(scenario, system, run, await runOnce(runOne, spec(system), runTimeoutMs(params)));
        }
      }
    }

    const allRows = rows(sizes).filter((r) => scenarios.includes(r.scenario) && (r.figure !== "ratioTo10k" || scenarios.includes("backlog-10k")));
    const table = buildTable(outcomes, allRows, systems);
    log("");
    log(consoleTable(table, systems));
    log("");
    for (const c of acceptance(table)) if (c.met !== null) log(`${c.met ? "met    " : "NOT met"}  ${c.what}: ${c.text}`);
    const notes = [...new Set([...outcomes.entries()].flatMap(([key, os]) => os.flatMap((o) => (o.result?.notes ?? []).map((note) => `${key.replace("|", ", ")}: ${note}`))))];
    for (const note of notes) log(`note: ${note}`);
    const durationSeconds = (Date.now() - started) / 1000;
    log(`\n${n} runs in ${(durationSeconds / 60).toFixed(1)} min; load average at end ${loadAverage()}`);
    const floorsAfter = needPg || needRedis ? await floors(needPg, needRedis) : "";
    if (floorsAfter) log(`floors at the end: ${floorsAfter}`);

    if (cpuProfDir) {
      for (const line of summariseWorkerProfiles(cpuProfDir)) log(line);
    }
    if (options.out) {
      const text = markdown({
        command: `npm run bench:compare${process.argv.slice(2).length ? ` -- ${process.argv.slice(2).join(" ")}` : ""}`,
        descriptions: systems.map(describeSystem),
        durationSeconds,
        environment,
        failures,
        floors: floorsBefore ? { after: floorsAfter, before: floorsBefore } : null,
        loadAfter: loadAverage(),
        loadPeak,
        notes,
        outcomes,
        redisPersistenceNote,
        rows: allRows,
        runs,
        sizes: Object.fromEntries(scenarios.map((s) => [s, sizes[s]])) as Sizes,
        systems,
      });
      writeFileSync(options.out, text);
      log(`wrote ${options.out}`);
    }
    if (failures.length) process.exitCode = 1;
  } finally {
    removeBuild();
    // Whatever a run's own clean-up missed (its storage is removed after each run; this is the safety net).
    await removeLeftovers(needPg, needRedis).catch((error: unknown) => process.stderr.write(`could not remove leftovers: ${(error as Error).message}\n`));
    await restoreRedis?.();
  }
}

/**
 * Turns on AOF with fsync every second (BullMQ's production guide) for the
 * comparison, and returns how to put the previous setting back.
 */
async function enableAof(log: (line: string) => void): Promise<(() => Promise<void>) | null> {
  return withRedis(async (redis) => {
    const get = async (key: string) => ((await redis.config("GET", key)) as string[])[1] ?? "";
    const before = { appendfsync: await get("appendfsync"), appendonly: await get("appendonly") };
    if (before.appendonly === "yes" && before.appendfsync === "everysec") return null;
    await redis.config("SET", "appendfsync", "everysec");
    await redis.config("SET", "appendonly", "yes");
    // Turning AOF on rewrites the data set into a new file in the background: wait for it.
    for (let i = 0; i < 600 && /aof_rewrite_in_progress:1|aof_rewrite_scheduled:1/.test(await redis.info("persistence")); i++) await new Promise((r) => setTimeout(r, 100));
    log(`Redis: appendonly ${before.appendonly} -> yes, appendfsync ${before.appendfsync} -> everysec for the comparison (restored at the end)`);
    return () =>
      withRedis(async (r) => {
        await r.config("SET", "appendonly", before.appendonly);
        await r.config("SET", "appendfsync", before.appendfsync);
      });
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
