/**
 * The scenarios of the comparison, their sizes (full and --quick), and the
 * figures each reports: one place, read by the runner (main.ts), by the
 * scenario processes (run-one.ts) and by the report (report.ts).
 */
import type { StorageContext, SystemName } from "./adapter.js";

export const SCENARIOS = [
  "enqueue-one",
  "enqueue-bulk",
  "process-c10",
  "process-c50",
  "process-2x50",
  "latency",
  "latency-remote",
  "backlog-10k",
  "backlog-1m",
  "crash",
] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

export function isScenario(value: string): value is ScenarioName {
  return (SCENARIOS as readonly string[]).includes(value);
}

export type ScenarioParams =
  | { kind: "enqueue-one"; jobs: number; warmup: number }
  | { batch: number; jobs: number; kind: "enqueue-bulk"; warmupBatches: number }
  | { concurrency: number; jobs: number; kind: "process"; processes: number }
  | { concurrency: number; intervalMs: number; jobs: number; kind: "latency"; remote: boolean; warmup: number }
  | { concurrency: number; kind: "backlog"; maxWindowMs: number; measure: number; ready: number; scheduled: number; warmup: number }
  | { capMs: number; concurrency: number; jobMs: number; jobs: number; kind: "crash" };

export type Sizes = Record<ScenarioName, ScenarioParams>;

export const FULL: Sizes = {
  "enqueue-one": { jobs: 5_000, kind: "enqueue-one", warmup: 200 },
  "enqueue-bulk": { batch: 1_000, jobs: 20_000, kind: "enqueue-bulk", warmupBatches: 1 },
  "process-c10": { concurrency: 10, jobs: 20_000, kind: "process", processes: 1 },
  "process-c50": { concurrency: 50, jobs: 20_000, kind: "process", processes: 1 },
  "process-2x50": { concurrency: 50, jobs: 20_000, kind: "process", processes: 2 },
  latency: { concurrency: 10, intervalMs: 20, jobs: 300, kind: "latency", remote: false, warmup: 20 },
  "latency-remote": { concurrency: 10, intervalMs: 20, jobs: 300, kind: "latency", remote: true, warmup: 20 },
  "backlog-10k": { concurrency: 50, kind: "backlog", maxWindowMs: 60_000, measure: 8_000, ready: 10_000, scheduled: 0, warmup: 1_000 },
  "backlog-1m": { concurrency: 50, kind: "backlog", maxWindowMs: 60_000, measure: 50_000, ready: 1_000_000, scheduled: 100_000, warmup: 10_000 },
  crash: { capMs: 120_000, concurrency: 100, jobMs: 2_000, jobs: 100, kind: "crash" },
};

/** For development: every scenario in a few minutes; the figures are noisier and not comparable with the full run's. */
export const QUICK: Sizes = {
  "enqueue-one": { jobs: 1_000, kind: "enqueue-one", warmup: 100 },
  "enqueue-bulk": { batch: 1_000, jobs: 5_000, kind: "enqueue-bulk", warmupBatches: 1 },
  "process-c10": { concurrency: 10, jobs: 5_000, kind: "process", processes: 1 },
  "process-c50": { concurrency: 50, jobs: 5_000, kind: "process", processes: 1 },
  "process-2x50": { concurrency: 50, jobs: 5_000, kind: "process", processes: 2 },
  latency: { concurrency: 10, intervalMs: 20, jobs: 100, kind: "latency", remote: false, warmup: 10 },
  "latency-remote": { concurrency: 10, intervalMs: 20, jobs: 100, kind: "latency", remote: true, warmup: 10 },
  "backlog-10k": { concurrency: 50, kind: "backlog", maxWindowMs: 60_000, measure: 8_000, ready: 10_000, scheduled: 0, warmup: 1_000 },
  "backlog-1m": { concurrency: 50, kind: "backlog", maxWindowMs: 60_000, measure: 20_000, ready: 100_000, scheduled: 10_000, warmup: 5_000 },
  crash: { capMs: 40_000, concurrency: 20, jobMs: 2_000, jobs: 20, kind: "crash" },
};

/** What the runner hands one scenario process (as JSON in argv). */
export interface RunSpec {
  /** Write V8 CPU profiles of the scenario's processes into this directory. */
  cpuProfDir: string | null;
  params: ScenarioParams;
  /** Names the profiles: <system>-<scenario>-run<N>. */
  runLabel: string;
  scenario: ScenarioName;
  storage: StorageContext;
  system: SystemName;
}

/** The one JSON line a scenario process prints last on stdout. */
export interface RunResult {
  /** Extra facts for the console (not in the table): batch shapes, preload time... */
  details: Record<string, number | string>;
  /** Figure name -> value; null when the run could not produce it (e.g. not recovered within the cap). */
  figures: Record<string, number | null>;
  notes: string[];
}

/** Per-run wall-clock limit, by scenario: past it the run is killed and reported as failed. */
export function runTimeoutMs(params: ScenarioParams): number {
  switch (params.kind) {
    case "backlog":
      // The preload (BullMQ's is the slowest: about 15,000 jobs/s here), then at most twice the window.
      return 120_000 + (params.ready + params.scheduled) / 5 + 2 * params.maxWindowMs;
    case "crash":
      return params.capMs + 60_000;
    default:
      return 180_000;
  }
}

export type Better = "higher" | "lower";

/** A row of the comparison table: one figure of one scenario. */
export interface Row {
  better: Better;
  figure: string;
  /** Formats a value of the row. */
  format: (value: number) => string;
  label: string;
  /** False for counts where a ratio says nothing (0 lost jobs against 100). */
  ratio?: false;
  scenario: ScenarioName;
  /** What a null value means in this row. */
  whenNull?: string;
}

const int = (n: number) => Math.round(n).toLocaleString("en");
const rate = (n: number) => `${int(n)}/s`;
const ms = (n: number) => `${n < 10 ? n.toFixed(2) : n.toFixed(1)} ms`;

export function rows(sizes: Sizes): Row[] {
  const n = (k: number) => k.toLocaleString("en");
  const p = <K extends ScenarioParams["kind"]>(s: ScenarioName, kind: K) => {
    const v = sizes[s];
    if (v.kind !== kind) throw new Error(`scenario ${s} is not ${kind}`);
    return v as Extract<ScenarioParams, { kind: K }>;
  };
  const one = p("enqueue-one", "enqueue-one");
  const bulk = p("enqueue-bulk", "enqueue-bulk");
  const c10 = p("process-c10", "process");
  const c50 = p("process-c50", "process");
  const two = p("process-2x50", "process");
  const lat = p("latency", "latency");
  const small = p("backlog-10k", "backlog");
  const big = p("backlog-1m", "backlog");
  const crash = p("crash", "crash");
  const latencyRows = (scenario: ScenarioName, where: string): Row[] =>
    (["p50", "p95", "p99"] as const).map((q) => ({
      better: "lower",
      figure: q,
      format: ms,
      label: `enqueue-to-start latency ${q}, ${where} (${n(lat.jobs)} jobs ${lat.intervalMs} ms apart, idle worker)`,
      scenario,
    }));
  return [
    { better: "higher", figure: "jobsPerSec", format: rate, label: `enqueue one at a time (${n(one.jobs)})`, scenario: "enqueue-one" },
    { better: "higher", figure: "jobsPerSec", format: rate, label: `enqueue in bulk (${n(bulk.jobs)} in batches of ${n(bulk.batch)})`, scenario: "enqueue-bulk" },
    { better: "higher", figure: "jobsPerSec", format: rate, label: `process ${n(c10.jobs)} no-op jobs, 1 worker process, concurrency ${c10.concurrency}`, scenario: "process-c10" },
    { better: "higher", figure: "jobsPerSec", format: rate, label: `process ${n(c50.jobs)} no-op jobs, 1 worker process, concurrency ${c50.concurrency}`, scenario: "process-c50" },
    { better: "higher", figure: "jobsPerSec", format: rate, label: `process ${n(two.jobs)} no-op jobs, ${two.processes} worker processes, concurrency ${two.concurrency} each`, scenario: "process-2x50" },
    ...latencyRows("latency", "producer and worker in one process"),
    ...latencyRows("latency-remote", "producer and worker in two processes"),
    { better: "higher", figure: "jobsPerSec", format: rate, label: `backlog: processing with ${n(small.ready)} waiting (jobs ${n(small.warmup + 1)}-${n(small.warmup + small.measure)})`, scenario: "backlog-10k" },
    {
      better: "higher",
      figure: "jobsPerSec",
      format: rate,
      label: `backlog: processing with ${n(big.ready)} waiting + ${n(big.scheduled)} scheduled (jobs ${n(big.warmup + 1)}-${n(big.warmup + big.measure)})`,
      scenario: "backlog-1m",
    },
    { better: "higher", figure: "ratioTo10k", format: (v) => `${(100 * v).toFixed(0)} %`, label: `backlog: ${n(big.ready)}-waiting speed / ${n(small.ready)}-waiting speed (medians)`, scenario: "backlog-1m" },
    { better: "lower", figure: "rssMaxMb", format: (v) => `${v.toFixed(0)} MB`, label: `backlog: worker process max RSS while processing the ${n(big.ready)} backlog`, scenario: "backlog-1m" },
    { better: "lower", figure: "preloadSeconds", format: (v) => `${v.toFixed(1)} s`, label: `backlog: time to preload ${n(big.ready + big.scheduled)} jobs by the bulk path, 4 calls in flight (not a target)`, scenario: "backlog-1m" },
    {
      better: "lower",
      figure: "recoverySeconds",
      format: (v) => `${v.toFixed(1)} s`,
      label: `crash: seconds from SIGKILL until all ${crash.jobs} jobs (${crash.jobMs / 1000} s each) are done in a fresh worker`,
      scenario: "crash",
      whenNull: `> ${crash.capMs / 1000} s`,
    },
    { better: "lower", figure: "lost", format: int, label: `crash: jobs lost (not done within ${crash.capMs / 1000} s of the kill)`, ratio: false, scenario: "crash" },
    { better: "lower", figure: "runTwice", format: int, label: "crash: jobs run twice (started more than once after the kill)", ratio: false, scenario: "crash" },
  ];
}
