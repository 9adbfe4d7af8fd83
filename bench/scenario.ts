/**
 * One benchmark run in its own process, so no run inherits another's JIT
 * state, heap or database:
 *
 *   node --expose-gc --import tsx bench/scenario.ts <scenario> <engine> --database <url> [options]
 *
 * `--database` is what createOffload gets: `sqlite:<tmp file>`, or
 * `postgres://...?schema=<fresh schema>&application_name=<unique name>`.
 * Prints exactly one JSON line (a ScenarioResult) on stdout, last. The runner
 * (bench/run.ts) owns the temp database file or schema and removes it
 * afterwards. On PostgreSQL the measured window also records the CPU time of
 * the server processes serving this run's connections (found by their
 * application_name in pg_stat_activity, read from /proc/<pid>/schedstat).
 *
 * Options: --jobs N, --concurrency N, --batch N, --interval-ms N,
 * --warmup N, --count events|poll, --profile <file.cpuprofile> (V8 CPU
 * profile of the measured window only, the format `node --cpu-prof` writes),
 * --batch-stats (count the worker's claim and ack calls, by wrapping them).
 */
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { findSourceMap } from "node:module";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
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
  /** The database URL given to createOffload. */
  database: string;
  engine: "postgres" | "sqlite";
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
      database: { type: "string" },
      "interval-ms": { type: "string", default: "20" },
      jobs: { type: "string", default: "1000" },
      profile: { type: "string" },
      warmup: { type: "string", default: "0" },
    },
  });
  const [scenario = "", engine = ""] = positionals;
  if (!isScenario(scenario)) throw new Error(`unknown scenario ${JSON.stringify(scenario)}`);
  if (engine !== "sqlite" && engine !== "postgres") throw new Error(`unknown engine ${JSON.stringify(engine)}: expected sqlite or postgres`);
  if (!values.database) throw new Error("--database <url> is required");
  if (!values.database.startsWith(engine === "sqlite" ? "sqlite:" : "postgres")) throw new Error(`--database ${values.database} is not a ${engine} URL`);
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
      database: values.database,
      engine,
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

/** CPU nanoseconds so far of a process, from /proc/<pid>/schedstat (its threads summed), or null if it is gone. */
function processCpuNs(pid: number): number | null {
  try {
    const ns = Number(readFileSync(`/proc/${pid}/schedstat`, "utf8").split(" ")[0]);
    return Number.isFinite(ns) ? ns : null;
  } catch {
    return null;
  }
}

/** Clock ticks per second of /proc/<pid>/stat's utime and stime (USER_HZ: 100 on Linux). */
const USER_HZ = 100;

/** Kernel-mode CPU ms so far of a process, from /proc/<pid>/stat (10 ms resolution), or 0 if it is gone. */
function processSysMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name (which may hold spaces): state is field 3, stime field 15.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[12]) * 1000) / USER_HZ;
  } catch {
    return 0;
  }
}

/** Every PostgreSQL server process on this machine (postmaster, backends, WAL writer, checkpointer...), by pid. */
function postgresPids(): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, "utf8").trim() === "postgres") pids.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}

interface ServerSnapshot {
  /** CPU ns of the backends serving this run's connections, by pid. */
  ours: Map<number, number>;
  /** Kernel-mode CPU ms of the same backends, by pid. */
  oursSys: Map<number, number>;
  /** CPU ns of every other postgres process, by pid. */
  others: Map<number, number>;
}

/**
 * The CPU time PostgreSQL spends for this run: the server processes whose
 * connection carries this run's unique application_name (the pool's and the
 * LISTEN connection), found in pg_stat_activity through a connection of its
 * own. Only meaningful with the server on this machine (the bench's case).
 */
class ServerCpu {
  private constructor(
    private readonly client: pg.Client,
    private readonly appName: string,
  ) {}

  static async open(s: Settings): Promise<ServerCpu | null> {
    if (s.engine !== "postgres") return null;
    const url = new URL(s.database);
    const appName = url.searchParams.get("application_name");
    if (!appName) throw new Error("--database: a postgres URL needs a unique application_name parameter (to find its server processes)");
    // Server processes are read from this machine's /proc: a server elsewhere gets no CPU figures.
    if (!["127.0.0.1", "localhost", "[::1]", ""].includes(url.hostname)) return null;
    for (const key of ["schema", "application_name", "poolSize", "connectTimeoutMs", "enqueueTimeoutMs", "queryTimeoutMs"]) url.searchParams.delete(key);
    const client = new pg.Client({ application_name: "offload_bench_observer", connectionString: url.toString() });
    await client.connect();
    return new ServerCpu(client, appName);
  }

  async snapshot(): Promise<ServerSnapshot> {
    const { rows } = await this.client.query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE application_name = $1", [this.appName]);
    const mine = new Set(rows.map((r) => r.pid));
    const ours = new Map<number, number>();
    const oursSys = new Map<number, number>();
    const others = new Map<number, number>();
    for (const pid of postgresPids()) {
      const ns = processCpuNs(pid);
      if (ns === null) continue;
      (mine.has(pid) ? ours : others).set(pid, ns);
      if (mine.has(pid)) oursSys.set(pid, processSysMs(pid));
    }
    return { ours, oursSys, others };
  }

  /** CPU ms between two snapshots; a process new in `b` counts from zero, one gone from `b` is lost (reported). */
  static diff(a: ServerSnapshot, b: ServerSnapshot): NonNullable<ScenarioResult["server"]> {
    const sum = (before: Map<number, number>, after: Map<number, number>) => {
      let ns = 0;
      for (const [pid, t] of after) ns += t - (before.get(pid) ?? 0);
      return ns / 1e6;
    };
    // A backend of ours that appeared during the window was counted in neither snapshot's `others` at start, so subtract nothing for it.
    const othersBefore = new Map([...a.others].filter(([pid]) => !b.ours.has(pid)));
    let sysMs = 0;
    for (const [pid, ms] of b.oursSys) sysMs += ms - (a.oursSys.get(pid) ?? 0);
    return {
      backendCpuMs: sum(a.ours, b.ours),
      backendSysMs: sysMs,
      backends: b.ours.size,
      backendsLost: [...a.ours.keys()].filter((pid) => !b.ours.has(pid)).length,
      otherCpuMs: sum(othersBefore, new Map([...b.others].filter(([pid]) => othersBefore.has(pid)))),
    };
  }

  async close(): Promise<void> {
    await this.client.end();
  }
}

/** Set by main() on PostgreSQL. */
let serverCpu: ServerCpu | null = null;

/**
 * The measured window: wall clock, plus how much of it the main thread ran or
 * waited for a CPU, the whole Node process's CPU time, and on PostgreSQL the
 * server's CPU time for this run.
 */
class Window {
  private constructor(
    private readonly server: ServerCpu | null,
    private readonly server0: ServerSnapshot | null,
    private readonly cpu0: NodeJS.CpuUsage,
    private readonly sched0: [number, number] | null,
    private readonly t0: number,
  ) {}

  /** Starts the clock (after the server snapshot, so the snapshot's round trip is not in the window). */
  static async start(server: ServerCpu | null): Promise<Window> {
    const server0 = server ? await server.snapshot() : null;
    return new Window(server, server0, process.cpuUsage(), schedstat(), performance.now());
  }

  async stop(): Promise<Pick<ScenarioResult, "elapsedMs" | "mainThread" | "process" | "server">> {
    const elapsedMs = performance.now() - this.t0;
    const sched = schedstat();
    const cpu = process.cpuUsage(this.cpu0);
    const mainThread =
      sched && this.sched0 ? { cpuMs: (sched[0] - this.sched0[0]) / 1e6, runQueueMs: (sched[1] - this.sched0[1]) / 1e6 } : null;
    const server1 = this.server && this.server0 ? await this.server.snapshot() : null;
    // None of the run's backends visible in /proc (a server in a container, say): no server figures rather than zeros.
    const server = server1 && server1.ours.size > 0 ? ServerCpu.diff(this.server0!, server1) : undefined;
    return { elapsedMs, mainThread, process: { cpuMs: (cpu.user + cpu.system) / 1000, sysMs: cpu.system / 1000 }, server };
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
  const offload = createOffload({ database: s.database, logger: false });
  const noop = offload.define("bench.noop", { schema: noopSchema }, async () => undefined);
  try {
    // Warm-up opens the database, applies migrations and warms the JIT; it is not timed.
    for (let i = 0; i < s.warmup; i++) await noop.enqueue({ i: -1 - i });
    await settleGc(notes);
    await profiler.start();
    const clock = await Window.start(serverCpu);
    for (let i = 0; i < s.jobs; i++) await noop.enqueue({ i });
    const measured = await clock.stop();
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
  const offload = createOffload({ database: s.database, logger: false });
  const noop = offload.define("bench.noop", { schema: noopSchema }, async () => undefined);
  try {
    for (let done = 0; done < s.warmup; done += s.batch) await noop.enqueueMany(payloads(-s.warmup + done, Math.min(s.batch, s.warmup - done)));
    // Payload arrays are built before the clock: the figure is Offload's cost, not the array literal's.
    const batches: { i: number }[][] = [];
    for (let done = 0; done < s.jobs; done += s.batch) batches.push(payloads(done, Math.min(s.batch, s.jobs - done)));
    await settleGc(notes);
    await profiler.start();
    const clock = await Window.start(serverCpu);
    for (const batch of batches) await noop.enqueueMany(batch);
    const measured = await clock.stop();
    await profiler.stop();
    return { ...measured, jobs: s.jobs, jobsPerSec: (s.jobs * 1000) / measured.elapsedMs, notes, scenario: "enqueue-bulk" };
  } finally {
    await offload.close();
  }
}

/**
 * Wraps the engine's jobClaim, jobAckAndClaim and jobAckMany to count calls
 * and rows, and the time spent waiting on them: how well the worker batches.
 * The wrapper adds one promise per call, so runs with it are for insight, not
 * for the headline figure.
 */
async function countBatches(offload: Offload): Promise<BatchStats> {
  const stats: BatchStats = { ackCalls: 0, acked: 0, ackMs: 0, claimCalls: 0, claimed: 0, claimMs: 0, emptyClaims: 0, withClaimAcked: 0, withClaimCalls: 0 };
  const backend = await offload.backend();
  const claim = backend.jobClaim.bind(backend);
  const ackAndClaim = backend.jobAckAndClaim.bind(backend);
  const ack = backend.jobAckMany.bind(backend);
  const counted = (claimed: readonly unknown[], t0: number) => {
    stats.claimCalls++;
    stats.claimed += claimed.length;
    stats.claimMs += performance.now() - t0;
    if (claimed.length === 0) stats.emptyClaims++;
  };
  backend.jobClaim = async (params) => {
    const t0 = performance.now();
    const claimed = await claim(params);
    counted(claimed, t0);
    return claimed;
  };
  backend.jobAckAndClaim = async (params) => {
    // Without acks the engines call this.jobClaim, counted above.
    if (params.acks.length === 0) return ackAndClaim(params);
    const t0 = performance.now();
    const result = await ackAndClaim(params);
    counted(result.claimed, t0);
    stats.withClaimCalls++;
    stats.withClaimAcked += params.acks.length;
    return result;
  };
  backend.jobAckMany = async (params) => {
    const t0 = performance.now();
    const result = await ack(params);
    stats.ackCalls++;
    stats.acked += params.acks.length;
    stats.ackMs += performance.now() - t0;
    return result;
  };
  return stats;
}

async function processing(scenario: ScenarioName, s: Settings, profiler: WindowProfiler): Promise<ScenarioResult> {
  const notes: string[] = [];
  const offload = createOffload({ database: s.database, logger: false });
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
    const clock = await Window.start(serverCpu);
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
    const measured = await clock.stop();
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
  const offload = createOffload({ database: s.database, logger: false });
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
    const clock = await Window.start(serverCpu);
    base = performance.now();
    for (let i = 0; i < s.jobs; i++) await enqueueAt(i, base, false);
    await withDeadline(startedPromise, "latency");
    const measured = await clock.stop();
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
  serverCpu = await ServerCpu.open(settings);
  let result: ScenarioResult;
  try {
    switch (scenario) {
      case "enqueue-one":
        result = await enqueueOne(settings, profiler);
        break;
      case "enqueue-bulk":
        result = await enqueueBulk(settings, profiler);
        break;
      case "process-c10":
      case "process-c50":
      case "process-c200":
        result = await processing(scenario, settings, profiler);
        break;
      case "latency":
        result = await latency(settings, profiler);
        break;
    }
  } finally {
    await serverCpu?.close();
  }
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
