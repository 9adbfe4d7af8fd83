/**
 * One benchmark run in its own process, so no run inherits another's JIT
 * state, heap or database:
 *
 *   node --expose-gc --import tsx bench/scenario.ts <scenario> <engine> --db <file> [options]
 *
 * Prints exactly one JSON line (a ScenarioResult) on stdout, last. The runner
 * (bench/run.ts) owns the temp database file and removes it afterwards.
 *
 * Options: --jobs N, --concurrency N, --batch N, --interval-ms N,
 * --warmup N, --count events|poll, --profile <file.cpuprofile> (V8 CPU
 * profile of the measured window only, the format `node --cpu-prof` writes),
 * --batch-stats (count the worker's claim and ack calls, by wrapping them).
 */
import { readFileSync, writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { findSourceMap } from "node:module";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { setTimeout as sleep } from "node:timers/promises";
import { z } from "zod";
import { createOffload, type Offload } from "../src/index.js";
import { isScenario, summariseLatency, type BatchStats, type CompletionCount, type ScenarioName, type ScenarioResult } from "./stats.js";

/** A run that has not finished after this long is broken, not slow. */
const DEADLINE_MS = 90_000;

interface Settings {
  batch: number;
  batchStats: boolean;
  concurrency: number;
  count: CompletionCount;
  db: string;
  intervalMs: number;
  jobs: number;
  profile: string | null;
  warmup: number;
}

const noopSchema = z.object({ i: z.number().int() });

function parse(): { engine: string; scenario: ScenarioName; settings: Settings } {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      batch: { type: "string", default: "1000" },
      "batch-stats": { type: "boolean", default: false },
      concurrency: { type: "string", default: "10" },
      count: { type: "string", default: "events" },
      db: { type: "string" },
      "interval-ms": { type: "string", default: "20" },
      jobs: { type: "string", default: "1000" },
      profile: { type: "string" },
      warmup: { type: "string", default: "0" },
    },
  });
  const [scenario = "", engine = ""] = positionals;
  if (!isScenario(scenario)) throw new Error(`unknown scenario ${JSON.stringify(scenario)}`);
  if (engine !== "sqlite") throw new Error(`engine ${JSON.stringify(engine)} is not available: expected sqlite`);
  if (!values.db) throw new Error("--db <file> is required");
  if (values.count !== "events" && values.count !== "poll") throw new Error("--count must be events or poll");
  const int = (name: string, v: string): number => {
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < 0) throw new Error(`--${name} must be a non-negative integer, got ${v}`);
    return n;
  };
  return {
    engine,
    scenario,
    settings: {
      batch: int("batch", values.batch),
      batchStats: values["batch-stats"],
      concurrency: int("concurrency", values.concurrency),
      count: values.count,
      db: values.db,
      intervalMs: int("interval-ms", values["interval-ms"]),
      jobs: int("jobs", values.jobs),
      profile: values.profile ?? null,
      warmup: int("warmup", values.warmup),
    },
  };
}

const gc = (globalThis as { gc?: () => void }).gc;

/** Collects garbage left by set-up (payload arrays, enqueue results) so it is not charged to the measured window. */
async function settleGc(notes: string[]): Promise<void> {
  if (!gc) {
    notes.push("global.gc unavailable (run node with --expose-gc): GC was not settled before the clock");
    await sleep(200);
    return;
  }
  gc();
  await sleep(100);
  gc();
}

/** Profiles only the measured window, when --profile is given. */
class WindowProfiler {
  private session: Session | null = null;

  constructor(private readonly file: string | null) {}

  async start(): Promise<void> {
    if (!this.file) return;
    this.session = new Session();
    this.session.connect();
    await this.session.post("Profiler.enable");
    // 100 µs: enough samples in a window of about a second.
    await this.session.post("Profiler.setSamplingInterval", { interval: 100 });
    await this.session.post("Profiler.start");
  }

  async stop(): Promise<void> {
    if (!this.session || !this.file) return;
    const { profile } = await this.session.post("Profiler.stop");
    // tsx hands V8 minified one-line modules; map frames back to the TypeScript lines while the source maps are at hand.
    for (const node of profile.nodes) {
      const frame = node.callFrame;
      if (!frame.url.startsWith("file:")) continue;
      const entry = findSourceMap(frame.url)?.findEntry(frame.lineNumber, frame.columnNumber);
      if (entry && "originalLine" in entry) {
        frame.lineNumber = entry.originalLine;
        frame.columnNumber = entry.originalColumn;
      }
    }
    writeFileSync(this.file, JSON.stringify(profile));
    this.session.disconnect();
    this.session = null;
  }
}

/** The main thread's [cpu ns, run-queue wait ns] so far, or null off Linux. */
function schedstat(): [number, number] | null {
  try {
    const [cpu, wait] = readFileSync("/proc/thread-self/schedstat", "utf8").trim().split(/\s+/).map(Number);
    return cpu !== undefined && wait !== undefined && Number.isFinite(cpu) && Number.isFinite(wait) ? [cpu, wait] : null;
  } catch {
    return null;
  }
}

/** The measured window: wall clock, plus how much of it the main thread ran or waited for a CPU. */
class Window {
  private readonly t0 = performance.now();
  private readonly sched0 = schedstat();

  stop(): Pick<ScenarioResult, "elapsedMs" | "mainThread"> {
    const elapsedMs = performance.now() - this.t0;
    const sched = schedstat();
    const mainThread =
      sched && this.sched0 ? { cpuMs: (sched[0] - this.sched0[0]) / 1e6, runQueueMs: (sched[1] - this.sched0[1]) / 1e6 } : null;
    return { elapsedMs, mainThread };
  }
}

function withDeadline<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${DEADLINE_MS} ms`)), DEADLINE_MS);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

async function completedCount(offload: Offload, queue: string): Promise<number> {
  const counts = await offload.queueCounts();
  return counts.find((c) => c.queue === queue)?.counts.completed ?? 0;
}

async function enqueueOne(s: Settings, profiler: WindowProfiler): Promise<ScenarioResult> {
  const notes: string[] = [];
  const offload = createOffload({ database: `sqlite:${s.db}`, logger: false });
  const noop = offload.define("bench.noop", { schema: noopSchema }, async () => undefined);
  try {
    // Warm-up opens the database, applies migrations and warms the JIT; it is not timed.
    for (let i = 0; i < s.warmup; i++) await noop.enqueue({ i: -1 - i });
    await settleGc(notes);
    await profiler.start();
    const clock = new Window();
    for (let i = 0; i < s.jobs; i++) await noop.enqueue({ i });
    const measured = clock.stop();
    await profiler.stop();
    return { ...measured, jobs: s.jobs, jobsPerSec: (s.jobs * 1000) / measured.elapsedMs, notes, scenario: "enqueue-one" };
  } finally {
    await offload.close();
  }
}

function payloads(from: number, count: number): { i: number }[] {
  return Array.from({ length: count }, (_, k) => ({ i: from + k }));
}

async function enqueueBulk(s: Settings, profiler: WindowProfiler): Promise<ScenarioResult> {
  const notes: string[] = [];
  const offload = createOffload({ database: `sqlite:${s.db}`, logger: false });
  const noop = offload.define("bench.noop", { schema: noopSchema }, async () => undefined);
  try {
    for (let done = 0; done < s.warmup; done += s.batch) await noop.enqueueMany(payloads(-s.warmup + done, Math.min(s.batch, s.warmup - done)));
    // Payload arrays are built before the clock: the figure is Offload's cost, not the array literal's.
    const batches: { i: number }[][] = [];
    for (let done = 0; done < s.jobs; done += s.batch) batches.push(payloads(done, Math.min(s.batch, s.jobs - done)));
    await settleGc(notes);
    await profiler.start();
    const clock = new Window();
    for (const batch of batches) await noop.enqueueMany(batch);
    const measured = clock.stop();
    await profiler.stop();
    return { ...measured, jobs: s.jobs, jobsPerSec: (s.jobs * 1000) / measured.elapsedMs, notes, scenario: "enqueue-bulk" };
  } finally {
    await offload.close();
  }
}

/**
 * Wraps the engine's jobClaim and jobAckMany to count calls and rows: how well
 * the worker batches. The wrapper adds one promise per call, so runs with it
 * are for insight, not for the headline figure.
 */
async function countBatches(offload: Offload): Promise<BatchStats> {
  const stats: BatchStats = { ackCalls: 0, acked: 0, claimCalls: 0, claimed: 0, emptyClaims: 0 };
  const backend = await offload.backend();
  const claim = backend.jobClaim.bind(backend);
  const ack = backend.jobAckMany.bind(backend);
  backend.jobClaim = async (params) => {
    const claimed = await claim(params);
    stats.claimCalls++;
    stats.claimed += claimed.length;
    if (claimed.length === 0) stats.emptyClaims++;
    return claimed;
  };
  backend.jobAckMany = async (params) => {
    stats.ackCalls++;
    stats.acked += params.acks.length;
    return ack(params);
  };
  return stats;
}

async function processing(scenario: ScenarioName, s: Settings, profiler: WindowProfiler): Promise<ScenarioResult> {
  const notes: string[] = [];
  const offload = createOffload({ database: `sqlite:${s.db}`, logger: false });
  let handled = 0;
  let allHandled: () => void = () => undefined;
  const handledPromise = new Promise<void>((resolve) => (allHandled = resolve));
  const noop = offload.define("bench.noop", { schema: noopSchema }, async () => {
    if (++handled === s.jobs) allHandled();
  });
  try {
    for (let done = 0; done < s.jobs; done += s.batch) await noop.enqueueMany(payloads(done, Math.min(s.batch, s.jobs - done)));
    const batches = s.batchStats ? await countBatches(offload) : undefined;
    await settleGc(notes);

    let completed = 0;
    let allCompleted: () => void = () => undefined;
    const completedPromise = new Promise<void>((resolve) => (allCompleted = resolve));
    if (s.count === "events") {
      offload.on("job:completed", () => {
        if (++completed === s.jobs) allCompleted();
      });
    }

    await profiler.start();
    const clock = new Window();
    await offload.start({ concurrency: { default: s.concurrency } });
    if (s.count === "events") {
      await withDeadline(completedPromise, "processing");
    } else {
      // No event listener: the handler counts, then the completed count is polled
      // until every outcome is written. Only the tail is polled, so the count
      // query (a GROUP BY over the table) does not compete with the worker.
      await withDeadline(handledPromise, "processing");
      while ((await completedCount(offload, "default")) < s.jobs) await new Promise((resolve) => setImmediate(resolve));
    }
    const measured = clock.stop();
    const batchesInWindow = batches && { ...batches };
    await profiler.stop();

    await offload.stop({ grace: 5_000 });
    const finalCompleted = await completedCount(offload, "default");
    if (finalCompleted !== s.jobs) throw new Error(`expected ${s.jobs} completed jobs, found ${finalCompleted}`);
    if (handled !== s.jobs) notes.push(`handler ran ${handled} times for ${s.jobs} jobs`);
    return { ...measured, batches: batchesInWindow, jobs: s.jobs, jobsPerSec: (s.jobs * 1000) / measured.elapsedMs, notes, scenario };
  } finally {
    await offload.close();
  }
}

async function latency(s: Settings, profiler: WindowProfiler): Promise<ScenarioResult> {
  const notes: string[] = [];
  const offload = createOffload({ database: `sqlite:${s.db}`, logger: false });
  const total = s.warmup + s.jobs;
  const samples: number[] = [];
  let started = 0;
  let allStarted: () => void = () => undefined;
  const startedPromise = new Promise<void>((resolve) => (allStarted = resolve));
  const probe = offload.define("bench.latency", { schema: z.object({ t0: z.number(), warmup: z.boolean() }) }, async (payload) => {
    const now = performance.now();
    if (!payload.warmup) samples.push(now - payload.t0);
    if (++started === total) allStarted();
  });
  try {
    await offload.start({ concurrency: { default: 10 } });
    // Jobs go out on a fixed cadence from `base`, not `interval` after the previous enqueue returned.
    const enqueueAt = async (slot: number, base: number, warmup: boolean): Promise<void> => {
      const wait = base + slot * s.intervalMs - performance.now();
      if (wait > 0) await sleep(wait);
      // t0 is taken just before enqueue() is called: validation, insert and wake-up are all inside the figure.
      await probe.enqueue({ t0: performance.now(), warmup });
    };
    // Warm-up jobs, untimed, at the same cadence; then the worker is left idle before the sample.
    let base = performance.now();
    for (let i = 0; i < s.warmup; i++) await enqueueAt(i, base, true);
    await settleGc(notes);
    await sleep(250);
    await profiler.start();
    const clock = new Window();
    base = performance.now();
    for (let i = 0; i < s.jobs; i++) await enqueueAt(i, base, false);
    await withDeadline(startedPromise, "latency");
    const measured = clock.stop();
    await profiler.stop();
    await offload.stop({ grace: 5_000 });
    if (samples.length !== s.jobs) throw new Error(`expected ${s.jobs} latency samples, got ${samples.length}`);
    return { ...measured, jobs: s.jobs, latency: summariseLatency(samples), notes, scenario: "latency" };
  } finally {
    await offload.close();
  }
}

async function main(): Promise<void> {
  const { scenario, settings } = parse();
  const profiler = new WindowProfiler(settings.profile);
  let result: ScenarioResult;
  switch (scenario) {
    case "enqueue-one":
      result = await enqueueOne(settings, profiler);
      break;
    case "enqueue-bulk":
      result = await enqueueBulk(settings, profiler);
      break;
    case "process-c10":
    case "process-c50":
      result = await processing(scenario, settings, profiler);
      break;
    case "latency":
      result = await latency(settings, profiler);
      break;
  }
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
