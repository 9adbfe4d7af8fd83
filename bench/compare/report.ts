/**
 * Turns the runs into the comparison table (medians, each run, Offload's
 * ratio to the best peer per row), the acceptance checks of the issue, and
 * docs/benchmarks.md.
 */
import { cpus } from "node:os";
import { PEERS, type SystemDescription, type SystemName } from "./adapter.js";
import type { Environment } from "./environment.js";
import type { Row, RunResult, ScenarioName, Sizes } from "./plan.js";
import { median } from "../stats.js";

export interface RunOutcome {
  error?: string;
  result?: RunResult;
  seconds: number;
}

export type Outcomes = Map<string, RunOutcome[]>;

export const outcomeKey = (scenario: ScenarioName, system: SystemName) => `${scenario}|${system}`;

/** Median of a figure over a cell's successful runs; null values (e.g. not recovered) sort above every number. */
export interface Cell {
  /** Runs that failed (error, timeout). */
  failed: number;
  median: number | null;
  /** How many runs produced a value, how many produced null. */
  nulls: number;
  values: (number | null)[];
}

function cellOf(outcomes: Outcomes, row: Row, system: SystemName): Cell | null {
  if (row.figure === "ratioTo10k") {
    const big = cellOf(outcomes, { ...row, figure: "jobsPerSec", scenario: "backlog-1m" }, system);
    const small = cellOf(outcomes, { ...row, figure: "jobsPerSec", scenario: "backlog-10k" }, system);
    if (!big || !small || big.median === null || small.median === null) return null;
    return { failed: 0, median: big.median / small.median, nulls: 0, values: [] };
  }
  const runs = outcomes.get(`${row.scenario}|${system}`);
  if (!runs) return null;
  const values = runs.flatMap((o) => (o.result ? [o.result.figures[row.figure] ?? null] : []));
  const failed = runs.length - values.length;
  const nulls = values.filter((v) => v === null).length;
  // A null (not reached within the cap) ranks below every number: a median that lands on one is null.
  const ranked = values.map((v) => v ?? (row.better === "lower" ? Infinity : -Infinity));
  const m = ranked.length ? median(ranked) : NaN;
  const med = Number.isFinite(m) ? m : null;
  return { failed, median: med, nulls, values };
}

export interface TableCell {
  cell: Cell | null;
  text: string;
}

export interface TableRow {
  cells: Map<SystemName, TableCell>;
  /** Offload engine -> its median divided by the best peer's, and that peer. */
  ratios: Map<SystemName, { best: SystemName; ratio: number } | null>;
  row: Row;
}

function formatCell(row: Row, cell: Cell | null): string {
  if (!cell) return "";
  if (cell.median === null && cell.values.length === 0) return cell.failed ? `failed (${cell.failed})` : "";
  const text = cell.median === null ? (row.whenNull ?? "n/a") : row.format(cell.median);
  return cell.failed ? `${text} (${cell.failed} failed)` : text;
}

export function buildTable(outcomes: Outcomes, allRows: readonly Row[], systems: readonly SystemName[]): TableRow[] {
  const table: TableRow[] = [];
  for (const row of allRows) {
    const cells = new Map<SystemName, TableCell>();
    for (const system of systems) {
      const cell = cellOf(outcomes, row, system);
      cells.set(system, { cell, text: formatCell(row, cell) });
    }
    if ([...cells.values()].every((c) => c.cell === null)) continue;
    const peers = PEERS.filter((p) => systems.includes(p)).flatMap((p) => {
      const m = cells.get(p)?.cell?.median;
      return m === null || m === undefined ? [] : [{ median: m, system: p }];
    });
    const best = peers.sort((a, b) => (row.better === "higher" ? b.median - a.median : a.median - b.median))[0];
    const ratios = new Map<SystemName, { best: SystemName; ratio: number } | null>();
    for (const engine of ["offload-sqlite", "offload-postgres"] as const) {
      const m = cells.get(engine)?.cell?.median;
      ratios.set(engine, row.ratio !== false && best && m !== null && m !== undefined && best.median !== 0 ? { best: best.system, ratio: m / best.median } : null);
    }
    table.push({ cells, ratios, row });
  }
  return table;
}

const SHORT: Record<SystemName, string> = {
  bullmq: "BullMQ",
  "graphile-worker": "graphile-worker",
  "offload-postgres": "Offload PostgreSQL",
  "offload-sqlite": "Offload SQLite",
  "pg-boss": "pg-boss",
};

function ratioText(r: { best: SystemName; ratio: number } | null | undefined): string {
  if (!r) return "–";
  return `${r.ratio >= 10 ? r.ratio.toFixed(0) : r.ratio.toFixed(2)}× (${SHORT[r.best]})`;
}

/** Plain-text table for the console. */
export function consoleTable(table: readonly TableRow[], systems: readonly SystemName[]): string {
  const header = ["figure", ...systems.map((s) => SHORT[s]), "Offload SQLite ÷ best peer", "Offload PostgreSQL ÷ best peer"];
  const lines = table.map((t) => [
    `${t.row.better === "higher" ? "↑" : "↓"} ${t.row.label}`,
    ...systems.map((s) => t.cells.get(s)?.text ?? ""),
    ratioText(t.ratios.get("offload-sqlite")),
    ratioText(t.ratios.get("offload-postgres")),
  ]);
  const all = [header, ...lines];
  const widths = header.map((_, c) => Math.max(...all.map((r) => (r[c] ?? "").length)));
  const line = (r: string[]) => r.map((cell, c) => cell.padEnd(widths[c]!)).join("  ").trimEnd();
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...lines.map(line)].join("\n");
}

export interface Check {
  met: boolean | null;
  text: string;
  what: string;
}

/** The issue's acceptance criteria, read from the table of this run. */
export function acceptance(table: readonly TableRow[]): Check[] {
  const get = (scenario: ScenarioName, figure: string, system: SystemName): number | null =>
    table.find((t) => t.row.scenario === scenario && t.row.figure === figure)?.cells.get(system)?.cell?.median ?? null;
  const fmt = (v: number | null, unit = "") => (v === null ? "n/a" : `${v >= 100 ? Math.round(v).toLocaleString("en") : v.toFixed(2)}${unit}`);
  const checks: Check[] = [];
  for (const scenario of ["process-c10", "process-c50", "process-2x50"] as const) {
    const pg = get(scenario, "jobsPerSec", "offload-postgres");
    const sqlite = get(scenario, "jobsPerSec", "offload-sqlite");
    const gw = get(scenario, "jobsPerSec", "graphile-worker");
    const bull = get(scenario, "jobsPerSec", "bullmq");
    const ok = (a: number | null, b: number | null, k: number) => (a === null || b === null ? null : a >= k * b);
    checks.push({
      met: ok(pg, gw, 1.3),
      text: `${fmt(pg)} vs ${fmt(gw)} jobs/s: ${pg && gw ? (pg / gw).toFixed(2) : "?"}×`,
      what: `${scenario}: Offload PostgreSQL ≥ 1.3× graphile-worker`,
    });
    checks.push({ met: ok(pg, bull, 1), text: `${fmt(pg)} vs ${fmt(bull)} jobs/s: ${pg && bull ? (pg / bull).toFixed(2) : "?"}×`, what: `${scenario}: Offload PostgreSQL ≥ BullMQ` });
    checks.push({
      met: ok(sqlite, bull, 1.5),
      text: `${fmt(sqlite)} vs ${fmt(bull)} jobs/s: ${sqlite && bull ? (sqlite / bull).toFixed(2) : "?"}×`,
      what: `${scenario}: Offload SQLite ≥ 1.5× BullMQ`,
    });
  }
  for (const scenario of ["latency", "latency-remote"] as const) {
    const where = scenario === "latency" ? "one process" : "two processes";
    const peers = PEERS.map((p) => get(scenario, "p50", p)).filter((v): v is number => v !== null);
    const bestPeer = peers.length ? Math.min(...peers) : null;
    for (const engine of ["offload-sqlite", "offload-postgres"] as const) {
      const p50 = get(scenario, "p50", engine);
      const p99 = get(scenario, "p99", engine);
      checks.push({
        met: p50 === null || bestPeer === null ? null : p50 <= bestPeer,
        text: `${fmt(p50, " ms")} vs best peer ${fmt(bestPeer, " ms")}`,
        what: `latency (${where}): ${SHORT[engine]} p50 no worse than the best peer`,
      });
      checks.push({ met: p99 === null ? null : p99 < 10, text: fmt(p99, " ms"), what: `latency (${where}): ${SHORT[engine]} p99 < 10 ms` });
    }
  }
  for (const engine of ["offload-sqlite", "offload-postgres"] as const) {
    const ratio = get("backlog-1m", "ratioTo10k", engine);
    checks.push({ met: ratio === null ? null : ratio >= 0.8, text: ratio === null ? "n/a" : `${(100 * ratio).toFixed(0)} %`, what: `backlog: ${SHORT[engine]} speed with 1,000,000 waiting ≥ 80 % of 10,000` });
    const rss = get("backlog-1m", "rssMaxMb", engine);
    checks.push({ met: rss === null ? null : rss < 150, text: fmt(rss, " MB"), what: `memory: ${SHORT[engine]} worker < 150 MB RSS on the 1,000,000 backlog` });
    // Crash criteria hold for every run, not only the median one.
    const runsOf = (figure: string) => table.find((t) => t.row.scenario === "crash" && t.row.figure === figure)?.cells.get(engine)?.cell ?? null;
    const lostRuns = runsOf("lost");
    if (lostRuns && lostRuns.values.length) {
      const worst = Math.max(...lostRuns.values.map((v) => v ?? Infinity));
      checks.push({ met: worst === 0 && lostRuns.failed === 0, text: `${lostRuns.values.join(" / ")} (${lostRuns.values.length} run${lostRuns.values.length === 1 ? "" : "s"}${lostRuns.failed ? `, ${lostRuns.failed} failed` : ""})`, what: `crash: ${SHORT[engine]} loses no job` });
    }
    const secondsRuns = runsOf("recoverySeconds");
    if (secondsRuns && secondsRuns.values.length) {
      const worst = Math.max(...secondsRuns.values.map((v) => v ?? Infinity));
      checks.push({
        met: worst <= 20 && secondsRuns.failed === 0,
        text: `worst run ${Number.isFinite(worst) ? `${worst.toFixed(1)} s` : "not within the cap"} (median ${fmt(secondsRuns.median, " s")})`,
        what: `crash: ${SHORT[engine]} finishes every job within 20 s of the kill`,
      });
    }
  }
  return checks;
}

function mdEscape(text: string): string {
  return text.replace(/\|/g, "\\|");
}

export interface ReportInput {
  command: string;
  descriptions: readonly SystemDescription[];
  durationSeconds: number;
  environment: Environment;
  failures: string[];
  /** Round trips and commits of the servers at the start and end of the run (environment.ts floors()). */
  floors: { after: string; before: string } | null;
  loadAfter: string;
  /** Highest 1-minute load average seen at the end of a run. */
  loadPeak: number;
  notes: string[];
  outcomes: Outcomes;
  redisPersistenceNote: string;
  rows: readonly Row[];
  runs: number;
  sizes: Sizes;
  systems: readonly SystemName[];
}

export function markdown(input: ReportInput): string {
  const { environment: env, systems } = input;
  const table = buildTable(input.outcomes, input.rows, systems);
  const out: string[] = [];
  out.push("# Benchmarks: Offload against BullMQ, graphile-worker and pg-boss");
  out.push("");
  out.push(
    `<!-- Generated by \`npm run bench:compare\` (bench/compare/): do not edit by hand, rerun it. -->`,
    "",
    `Measured ${env.date.slice(0, 16).replace("T", " ")} UTC, every system side by side in the same run on the same machine: ` +
      `${input.runs} run(s) of every scenario for every system, each in a fresh process on fresh storage, the runs of all scenarios and systems interleaved; ` +
      `the table gives the median (and, below it, every run). The full run took ${(input.durationSeconds / 60).toFixed(1)} minutes.`,
    "",
  );
  out.push(
    `The 1-minute load average peaked at ${input.loadPeak.toFixed(1)} on the machine's ${cpus().length} cores during the run. The benchmark's own processes count in it ` +
      `(worker processes, the database server, Redis); other work on a shared host may too. Runs of one cell can differ by up to a factor of two on a shared machine ` +
      `(see "Every run"): read differences under about 25 % as noise.`,
    "",
  );
  out.push("## Results", "");
  out.push("↑ higher is better, ↓ lower is better. The last two columns divide each Offload engine's median by the best peer's (BullMQ, graphile-worker, pg-boss) on that row: above 1 is more of the figure.", "");
  out.push(
    "What a completed job leaves behind differs, and so does what its completion costs: in these runs Offload deletes each job as it completes (its worker option `prune.completed: 0`; by default it keeps the job and its result 7 days), graphile-worker always deletes it, BullMQ keeps the last 1,000 and pg-boss keeps every one 7 days. See \"Settings of each system\".",
    "",
  );
  out.push(`| figure | ${systems.map((s) => SHORT[s]).join(" | ")} | Offload SQLite ÷ best peer | Offload PostgreSQL ÷ best peer |`);
  out.push(`|---|${systems.map(() => "---:").join("|")}|---:|---:|`);
  for (const t of table) {
    out.push(
      `| ${t.row.better === "higher" ? "↑" : "↓"} ${mdEscape(t.row.label)} | ${systems.map((s) => mdEscape(t.cells.get(s)?.text ?? "")).join(" | ")} | ${ratioText(t.ratios.get("offload-sqlite"))} | ${ratioText(t.ratios.get("offload-postgres"))} |`,
    );
  }
  out.push("");
  out.push("### Acceptance (the issue's criteria, from this table)", "");
  out.push("| criterion | figures | met |", "|---|---|---|");
  for (const c of acceptance(table)) out.push(`| ${mdEscape(c.what)} | ${mdEscape(c.text)} | ${c.met === null ? "n/a" : c.met ? "yes" : "**no**"} |`);
  out.push("");
  out.push("### Every run", "");
  out.push("Values of each run, in run order (the median above is of these).", "");
  out.push(`| figure | ${systems.map((s) => SHORT[s]).join(" | ")} |`, `|---|${systems.map(() => "---").join("|")}|`);
  for (const t of table) {
    if (t.row.figure === "ratioTo10k") continue;
    const runs = systems.map((s) => {
      const c = t.cells.get(s)?.cell;
      if (!c) return "";
      const text = c.values.map((v) => (v === null ? (t.row.whenNull ?? "n/a") : t.row.format(v))).join(" / ");
      return c.failed ? `${text}${text ? " / " : ""}${c.failed} failed` : text;
    });
    out.push(`| ${mdEscape(t.row.label)} | ${runs.map(mdEscape).join(" | ")} |`);
  }
  out.push("");
  const details = detailLines(input.outcomes, systems);
  if (details.length) {
    out.push("### Where the time goes (medians of the runs)", "");
    out.push(
      "CPU of the worker process(es) and of the database server per job during the processing window (/proc, all threads; the server figure is every postgres or redis-server process of the machine, so it includes any other load). " +
        "Offload on SQLite has no server: its work is in the worker's figure. Then what each system asked of its server: on PostgreSQL, jobs per committed transaction and rows inserted, updated or deleted per job " +
        "(pg_stat_database of the run's own database, the job rows' insertion by the preload excluded), and the share of updates that were HOT (no index entry written; pg_stat_user_tables); on Redis, commands per job.",
      "",
    );
    out.push(...details.map((l) => `- ${l}`), "");
  }
  if (input.failures.length) {
    out.push("### Failed runs", "");
    out.push(...input.failures.map((f) => `- ${mdEscape(f)}`), "");
  }
  if (input.notes.length) {
    out.push("### Notes from the runs", "");
    out.push(...input.notes.map((n) => `- ${n}`), "");
  }

  out.push("## Machine and versions", "");
  out.push(`- Machine: ${env.cpu}, ${env.memory} RAM, ${env.os}`);
  out.push(`- Load average (1 / 5 / 15 min): ${env.loadBefore} before the run, ${input.loadAfter} after; the 1-minute figure peaked at ${input.loadPeak.toFixed(2)} (read after each run)`);
  out.push(`- ${env.node}; Offload: ${env.offload}, bundled from src/ by esbuild for the run`);
  out.push(`- ${env.sqlite}`);
  if (env.postgres) out.push(`- ${env.postgres.version}; ${env.postgres.settings}`);
  if (env.redis) out.push(`- ${env.redis.version}; during the run: ${input.redisPersistenceNote}`);
  if (input.floors) out.push(`- Floors, one call every 20 ms (no queue enqueues faster): ${input.floors.before} at the start; ${input.floors.after} at the end`);
  out.push(`- Packages: ${env.packages.map((p) => `${p.name} ${p.version}`).join(", ")}`);
  out.push("");

  out.push("## Settings of each system", "");
  for (const d of input.descriptions) {
    out.push(`### ${d.title}`, "");
    out.push(...d.settings.map((s) => `- ${s}`));
    out.push(`- What it stores: ${d.persistence}`, "");
  }

  out.push("## Scenarios", "");
  out.push(...scenarioText(input.sizes).map((l) => `- ${l}`), "");
  out.push("## How to rerun", "");
  out.push(
    "```",
    "npm install            # once, at the repository root",
    "npm run bench:compare  # installs bench/'s own dependencies from its lockfile and runs everything; rewrites this file",
    "```",
    "",
    "It needs the local PostgreSQL and Redis (it starts them when they are not running: `pg_ctlcluster <version> main start`, `redis-server --daemonize yes`), " +
      "or `OFFLOAD_BENCH_PG_URL` (a role that may create databases) and `OFFLOAD_BENCH_REDIS_URL`. For development: " +
      "`npm --prefix bench run compare -- --quick --only offload-sqlite,bullmq --scenario process-c50,latency --runs 1` (`--help` lists every option; a partial run prints its table and writes no file unless `--out` is given).",
    "",
    `This file was written by: \`${input.command}\`.`,
    "",
  );
  out.push("## Honest notes", "");
  out.push(...honestNotes().map((n) => `- ${n}`), "");
  return out.join("\n");
}

/** Medians of each processing run's CPU per job, by scenario and system. */
export function detailLines(outcomes: Outcomes, systems: readonly SystemName[]): string[] {
  const lines: string[] = [];
  for (const scenario of ["process-c10", "process-c50", "process-2x50"] as const) {
    const parts = systems.flatMap((s) => {
      const results = (outcomes.get(outcomeKey(scenario, s)) ?? []).flatMap((o) => (o.result ? [o.result] : []));
      if (!results.length) return [];
      const med = (key: string) => median(results.map((r) => Number(r.details[key])).filter(Number.isFinite));
      const server = med("serverCpuUsPerJob");
      const f = (v: number, digits: number) => (Number.isFinite(v) ? v.toFixed(digits) : "?");
      const asked =
        s === "bullmq"
          ? `, ${f(med("commandsPerJob"), 1)} Redis commands per job`
          : s === "offload-sqlite"
            ? ""
            : `, ${f(med("jobsPerCommit"), 1)} jobs per commit, ${f(med("rowsWrittenPerJob"), 2)} rows written per job, ${f(med("hotUpdatePercent"), 0)} % of updates HOT`;
      return [`${SHORT[s]} ${Math.round(med("workerCpuUsPerJob"))} + ${s === "offload-sqlite" ? "–" : Math.round(server)} µs${asked}`];
    });
    if (parts.length) lines.push(`${scenario}, worker + server CPU per job: ${parts.join("; ")}`);
  }
  for (const scenario of ["latency", "latency-remote"] as const) {
    const parts = systems.flatMap((s) => {
      const results = (outcomes.get(outcomeKey(scenario, s)) ?? []).flatMap((o) => (o.result ? [o.result] : []));
      if (!results.length) return [];
      const med = (key: string) => median(results.map((r) => Number(r.details[key])).filter(Number.isFinite));
      return [`${SHORT[s]} ${med("enqueueReturnedP50Ms").toFixed(2)} + ${med("startAfterReturnP50Ms").toFixed(2)} ms`];
    });
    if (parts.length) lines.push(`${scenario}, p50 of enqueue() returning + p50 of the handler's start after that: ${parts.join("; ")}`);
  }
  return lines;
}

function scenarioText(sizes: Sizes): string[] {
  const n = (k: number) => k.toLocaleString("en");
  const lines: string[] = [];
  const described = new Map<string, string>();
  for (const [name, p] of Object.entries(sizes)) {
    const first = described.get(p.kind);
    if (first && p.kind === "process") {
      lines.push(`**${name}**: as ${first}, with ${p.processes === 1 ? "one worker process" : `${p.processes} worker processes`} at concurrency ${p.concurrency}${p.processes > 1 ? " each" : ""}.`);
      continue;
    }
    described.set(p.kind, name);
    switch (p.kind) {
      case "enqueue-one":
        lines.push(`**${name}**: ${n(p.jobs)} enqueues, each awaited before the next, from one process, after ${n(p.warmup)} untimed warm-up enqueues; jobs/s.`);
        break;
      case "enqueue-bulk":
        lines.push(`**${name}**: ${n(p.jobs)} jobs in calls of ${n(p.batch)} to the system's bulk API, after ${p.warmupBatches} untimed call(s); payload arrays built before the clock; jobs/s.`);
        break;
      case "process":
        lines.push(
          `**${name}**: ${n(p.jobs)} no-op jobs enqueued first (bulk path, untimed); then ${p.processes === 1 ? "a worker process" : `${p.processes} worker processes`} (forked, set up and connected, idle) ` +
            `${p.processes === 1 ? "is told to start its worker" : "are told to start their workers"} at concurrency ${p.concurrency}${p.processes > 1 ? " each" : ""}; the clock runs from the first handler's start (each library's start-up is left out: it is paid once per process) until every handler has run ` +
            `and the storage holds no unfinished job (polled every 2 ms once the handlers are done). Every job number must have started exactly once across the processes, or the run fails.`,
        );
        break;
      case "latency":
        lines.push(
          `**${name}**: a worker at concurrency ${p.concurrency}, idle; ${p.warmup} untimed warm-up jobs, then ${n(p.jobs)} jobs enqueued one by one on a fixed ${p.intervalMs} ms cadence; ` +
            `latency = the handler's first line minus the moment just before enqueue is called, both on the machine's monotonic clock (process.hrtime, shared by every process). ` +
            (p.remote ? "The producer is the run's process, the worker another process: the path an application and its worker take." : "Producer and worker are one process: an in-process wake-up is allowed."),
        );
        break;
      case "backlog":
        lines.push(
          `**${name}**: ${n(p.ready)} jobs ready${p.scheduled ? ` and ${n(p.scheduled)} scheduled a year ahead` : ""}, stored first by the bulk path in calls of 1,000, 4 calls in flight (timed for information only); ` +
            `then a fresh worker process at concurrency ${p.concurrency}; speed = ${n(p.measure)} handler starts after the first ${n(p.warmup)}, per second. The worker's RSS is sampled every 50 ms (and its peak, VmHWM, read at the end).`,
        );
        break;
      case "crash":
        lines.push(
          `**${name}**: ${p.jobs} jobs of ${p.jobMs / 1000} s; a worker process at concurrency ${p.concurrency} starts them all and is killed with SIGKILL once all have started; ` +
            `a fresh worker process (same settings, every recovery setting at its default) starts at once. Seconds from the kill until every job is done (its handler finished after the kill and the storage holds no unfinished job); ` +
            `jobs lost = not done within ${p.capMs / 1000} s of the kill; jobs run twice = started more than once after the kill (one re-run per job is the expected recovery). ` +
            `The crash runs of the systems run side by side: they are idle most of the time, and their figures are set by each system's lock or lease timers, not by CPU.`,
        );
        break;
    }
  }
  return lines;
}

function honestNotes(): string[] {
  return [
    "Durability is not the same everywhere. Offload on PostgreSQL, graphile-worker and pg-boss commit every enqueue and every batch of outcomes with PostgreSQL's synchronous commit (fsync): an acknowledged job survives a crash of the machine. Offload on SQLite uses WAL with synchronous=NORMAL: it survives a crash of the process, and may lose the last commits on power loss (`?synchronous=full` closes that, at a cost in write speed). BullMQ keeps jobs in Redis's memory: durable only as far as Redis's persistence goes (the setting used is in the versions above; BullMQ's production guide recommends AOF with fsync every second).",
    "What is kept differs: Offload and pg-boss keep completed jobs (7 days by default) with their results; BullMQ keeps the last 1,000 completed jobs here (its guide's advice); graphile-worker deletes a job as it completes. Keeping them costs writes and space.",
    "Offload validates every payload with its schema (zod) at enqueue and again before each attempt; the peers store and pass on JSON without validation.",
    "Batching trades crash behaviour for speed: graphile-worker's local queue locks up to 500 jobs in a process, and its batched completion leaves finished jobs locked until the batch is written; a job locked by a process that dies stays locked until the lock expires (4 hours). pg-boss retries a job of a dead worker after its expiry (15 minutes by default) unless heartbeats are configured. BullMQ moves a dead worker's jobs back after two stalled checks (30 s lock, 30 s checks). Offload's lease (10 s) and sweep (2 s) bring them back within about 12 s. The crash row shows these defaults.",
    "graphile-worker 0.18 and pg-boss 12 declare Node 22 as their minimum; they were run on this project's Node 20, where every scenario's exactly-once check passed for them. Their authors' own figures come from Node 22 and larger machines.",
    "All systems ran their workers in a process that does nothing else, with no-op handlers: the figures are the queues' own overhead. Handlers that do real work shift the bottleneck to them.",
    "The machine has 2 cores shared by the worker processes, the database server and the measuring process; figures on a machine with more cores, or a database on its own host, differ, and so may the order of the systems.",
  ];
}
