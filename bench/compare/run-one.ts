/**
 * One run of one scenario for one system, in a fresh process (forked by
 * main.ts with a RunSpec as JSON in argv): it prints one JSON line, a
 * RunResult, last on stdout. The runner made the storage and removes it.
 *
 * Enqueue runs and the one-process latency run happen here; every worker
 * that is measured for throughput, memory or recovery runs in a forked
 * worker process (worker-process.ts) that does nothing else, and this
 * process coordinates: it preloads, starts the workers at once, watches for
 * the end, checks exactly-once, and reads CPU and memory from /proc.
 */
import { fork, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { numbered, type Adapter, type BenchPayload } from "./adapter.js";
import { createAdapter } from "./adapters/index.js";
import type { RunResult, RunSpec, ScenarioParams } from "./plan.js";
import { ServerCpu, cpuMsOf, memoryOf, now } from "./proc.js";
import { openServerCounters, perJob } from "./server-counters.js";
import { summariseLatency } from "../stats.js";
import type { ParentMessage, WorkerMessage, WorkerMode, WorkerSpec } from "./worker-process.js";

const workerScript = fileURLToPath(new URL("./worker-process.js", import.meta.url));

const gc = (globalThis as { gc?: () => void }).gc;

/** Leaves set-up garbage (payload arrays, enqueue results) out of the measured window. */
async function settle(): Promise<void> {
  gc?.();
  await sleep(100);
  gc?.();
}

function serverNames(spec: RunSpec): string[] {
  if (spec.system === "bullmq") return ["redis-server"];
  if (spec.system === "offload-sqlite") return [];
  return ["postgres"];
}

/** A forked worker process and the messages it sent. */
class WorkerChild {
  readonly child: ChildProcess;
  handled = 0;
  /** When this process's first handler started (count mode). */
  firstStart: number | null = null;
  readonly events: { i: number; kind: "end" | "start"; t: number }[] = [];
  started: number | null = null;
  window: { jobs: number; t1: number; t2: number } | null = null;
  stopped: { handled: number; starts: number[] | null } | null = null;
  exited = false;
  error: string | null = null;
  private readonly waiters = new Set<() => void>();

  constructor(spec: RunSpec, name: string, mode: WorkerMode, concurrency: number) {
    const workerSpec: WorkerSpec = { concurrency, mode, storage: spec.storage, system: spec.system };
    const execArgv = spec.cpuProfDir ? ["--cpu-prof", "--cpu-prof-dir", spec.cpuProfDir, "--cpu-prof-name", `${spec.runLabel}-${name}.cpuprofile`] : [];
    this.child = fork(workerScript, [JSON.stringify(workerSpec)], { execArgv, stdio: ["ignore", "inherit", "inherit", "ipc"] });
    this.child.on("message", (m: WorkerMessage) => this.onMessage(m));
    this.child.on("exit", (code, signal) => {
      this.exited = true;
      if (!this.stopped && signal !== "SIGKILL") this.error ??= `worker ${name} exited (${signal ?? `code ${code}`}) before it was stopped`;
      this.wake();
    });
  }

  private ready = false;

  private onMessage(m: WorkerMessage): void {
    switch (m.type) {
      case "ready":
        this.ready = true;
        break;
      case "started":
        this.started = m.t0;
        break;
      case "progress":
        this.handled = m.handled;
        if (m.first) this.firstStart = m.first;
        break;
      case "job-start":
        this.events.push({ i: m.i, kind: "start", t: m.t });
        break;
      case "job-end":
        this.events.push({ i: m.i, kind: "end", t: m.t });
        break;
      case "window":
        this.window = { jobs: m.jobs, t1: m.t1, t2: m.t2 };
        break;
      case "stopped":
        this.stopped = { handled: m.handled, starts: m.starts };
        break;
      case "error":
        this.error = m.message;
        break;
    }
    this.wake();
  }

  private wake(): void {
    for (const w of this.waiters) w();
    this.waiters.clear();
  }

  /** Resolves when `condition` holds after a message; rejects on the worker's error or exit, or after `timeoutMs`. */
  async until(condition: () => boolean, what: string, timeoutMs: number): Promise<void> {
    const deadline = now() + timeoutMs;
    while (!condition()) {
      if (this.error) throw new Error(`worker: ${this.error}`);
      if (this.exited) throw new Error(`worker exited while waiting for ${what}`);
      const left = deadline - now();
      if (left <= 0) throw new Error(`worker: no ${what} within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 1_000));
        this.waiters.add(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  async whenReady(): Promise<void> {
    await this.until(() => this.ready, "ready message", 60_000);
  }

  send(message: ParentMessage): void {
    this.child.send(message);
  }

  async stop(timeoutMs = 30_000): Promise<void> {
    if (this.exited) return;
    this.send({ type: "stop" });
    try {
      await this.until(() => this.stopped !== null, "stopped message", timeoutMs);
      await this.until(() => this.exited, "exit", 5_000).catch(() => this.child.kill("SIGKILL"));
    } catch (error) {
      this.child.kill("SIGKILL");
      throw error;
    }
  }

  kill(): void {
    if (!this.exited) this.child.kill("SIGKILL");
  }
}

async function enqueueOne(adapter: Adapter, p: Extract<ScenarioParams, { kind: "enqueue-one" }>): Promise<RunResult> {
  // The warm-up opens connections, creates what the system creates lazily, and warms the JIT.
  for (let i = 0; i < p.warmup; i++) await adapter.enqueueOne({ i: p.jobs + i });
  await settle();
  const t0 = now();
  for (let i = 0; i < p.jobs; i++) await adapter.enqueueOne({ i });
  const elapsed = now() - t0;
  return { details: {}, figures: { jobsPerSec: (p.jobs * 1000) / elapsed }, notes: [] };
}

async function enqueueBulk(adapter: Adapter, p: Extract<ScenarioParams, { kind: "enqueue-bulk" }>): Promise<RunResult> {
  for (let k = 0; k < p.warmupBatches; k++) await adapter.enqueueBulk(numbered(p.jobs + k * p.batch, p.batch));
  // Payload arrays are built before the clock: the figure is the system's cost, not the array literals'.
  const batches: BenchPayload[][] = [];
  for (let done = 0; done < p.jobs; done += p.batch) batches.push(numbered(done, Math.min(p.batch, p.jobs - done)));
  await settle();
  const t0 = now();
  for (const batch of batches) await adapter.enqueueBulk(batch);
  const elapsed = now() - t0;
  return { details: {}, figures: { jobsPerSec: (p.jobs * 1000) / elapsed }, notes: [] };
}

/** Polls until the system's storage holds no unfinished job: the outcomes are written, not only the handlers run. */
async function untilStored(adapter: Adapter, timeoutMs: number): Promise<number> {
  const deadline = now() + timeoutMs;
  for (;;) {
    const left = await adapter.unfinished();
    if (left === 0) return now();
    if (now() > deadline) throw new Error(`${left} jobs still unfinished in storage ${timeoutMs} ms after every handler ran`);
    await sleep(2);
  }
}

async function processing(spec: RunSpec, adapter: Adapter, p: Extract<ScenarioParams, { kind: "process" }>): Promise<RunResult> {
  await adapter.preload(0, p.jobs, 0);
  const workers = Array.from({ length: p.processes }, (_, k) => new WorkerChild(spec, `w${k + 1}`, { jobs: p.jobs, kind: "count" }, p.concurrency));
  try {
    await Promise.all(workers.map((w) => w.whenReady()));
    const counters = await openServerCounters(spec.storage);
    await settle();
    const countersBefore = (await counters?.read()) ?? {};
    const server = new ServerCpu(serverNames(spec));
    const cpu0 = workers.map((w) => cpuMsOf(w.child.pid!) ?? 0);
    for (const w of workers) w.send({ type: "start" });
    const handledAll = () => workers.reduce((s, w) => s + w.handled, 0) >= p.jobs;
    await Promise.race(workers.map((w) => w.until(() => handledAll(), "progress to the last job", 120_000)));
    const tEnd = await untilStored(adapter, 30_000);
    const workerCpuMs = workers.reduce((s, w, k) => s + ((cpuMsOf(w.child.pid!) ?? 0) - cpu0[k]!), 0);
    const serverCpuMs = server.elapsed();
    // From the first handler's start, not from the start call: each library's start-up (pools, schema
    // checks, a first poll) is paid once per process, not per job, and is reported apart.
    const t0 = Math.min(...workers.map((w) => w.firstStart ?? Infinity));
    const startCalled = Math.min(...workers.map((w) => w.started ?? Infinity));
    if (!Number.isFinite(t0) || !Number.isFinite(startCalled)) throw new Error("a worker never reported its start or its first job");
    const elapsed = tEnd - t0;
    await Promise.all(workers.map((w) => w.stop()));
    // After the stop: a backend reports its statistics when its connection closes, or within a second of going idle.
    if (spec.storage.pgUrl) await sleep(1_500);
    const asked = counters ? perJob(countersBefore, await counters.read(), p.jobs) : {};
    await counters?.close();
    // Exactly once: every job number started once, across the worker processes.
    const starts = new Array<number>(p.jobs).fill(0);
    for (const w of workers) w.stopped!.starts!.forEach((c, i) => (starts[i]! += c));
    const missing = starts.filter((c) => c === 0).length;
    const twice = starts.filter((c) => c > 1).length;
    if (missing > 0 || twice > 0) throw new Error(`exactly-once violated: ${missing} jobs never started, ${twice} started more than once`);
    const perProcess = workers.map((w) => w.stopped!.handled);
    return {
      details: {
        ...asked,
        firstJobAfterMs: Math.round(t0 - startCalled),
        perProcess: perProcess.join(" + "),
        serverCpuUsPerJob: Math.round((1000 * serverCpuMs) / p.jobs),
        workerCpuUsPerJob: Math.round((1000 * workerCpuMs) / p.jobs),
      },
      figures: { jobsPerSec: (p.jobs * 1000) / elapsed },
      notes: [],
    };
  } finally {
    for (const w of workers) w.kill();
  }
}

/**
 * Jobs enqueued on a fixed cadence (slot k at base + k * interval, not
 * `interval` after the previous enqueue returned); latency = the handler's
 * first line minus the moment just before enqueue was called.
 */
async function latency(spec: RunSpec, adapter: Adapter, p: Extract<ScenarioParams, { kind: "latency" }>): Promise<RunResult> {
  const total = p.warmup + p.jobs;
  const enqueuedAt = new Array<number>(total).fill(NaN);
  const returnedAt = new Array<number>(total).fill(NaN);
  const startedAt = new Array<number>(total).fill(NaN);
  let worker: WorkerChild | null = null;
  let started = 0;
  let allStarted: () => void = () => undefined;
  const allStartedPromise = new Promise<void>((resolve) => (allStarted = resolve));
  try {
    if (p.remote) {
      worker = new WorkerChild(spec, "w1", { kind: "events" }, p.concurrency);
      await worker.whenReady();
      worker.send({ type: "start" });
      await worker.until(() => worker!.started !== null, "start", 30_000);
    } else {
      await adapter.startWorker({
        concurrency: p.concurrency,
        handler: async (payload) => {
          startedAt[payload.i] = now();
          if (++started === total) allStarted();
        },
      });
    }
    const enqueueAt = async (i: number, base: number, slot: number): Promise<void> => {
      const wait = base + slot * p.intervalMs - now();
      if (wait > 0) await sleep(wait);
      const t = now();
      enqueuedAt[i] = t;
      await adapter.enqueueOne({ i, t });
      returnedAt[i] = now();
    };
    let base = now();
    for (let k = 0; k < p.warmup; k++) await enqueueAt(p.jobs + k, base, k);
    await settle();
    await sleep(250);
    base = now();
    for (let k = 0; k < p.jobs; k++) await enqueueAt(k, base, k);
    if (worker) {
      const w = worker;
      await w.until(() => w.events.filter((e) => e.kind === "start").length >= total, "start of every job", 30_000);
      for (const e of w.events) if (e.kind === "start" && Number.isNaN(startedAt[e.i]!)) startedAt[e.i] = e.t;
      await w.stop();
    } else {
      await Promise.race([allStartedPromise, sleep(30_000).then(() => Promise.reject(new Error("not every latency job started within 30 s")))]);
      await adapter.stopWorker();
    }
    const samples = Array.from({ length: p.jobs }, (_, i) => startedAt[i]! - enqueuedAt[i]!);
    if (samples.some((s) => Number.isNaN(s))) throw new Error("a latency job has no start time");
    const summary = summariseLatency(samples);
    // Where the time goes: until enqueue() resolved (stored, acknowledged), then until the handler started
    // (negative when the handler started before the enqueue call returned).
    const enqueueReturned = summariseLatency(Array.from({ length: p.jobs }, (_, i) => returnedAt[i]! - enqueuedAt[i]!));
    const afterReturn = summariseLatency(Array.from({ length: p.jobs }, (_, i) => startedAt[i]! - returnedAt[i]!));
    return {
      details: {
        enqueueReturnedP50Ms: Number(enqueueReturned.p50.toFixed(2)),
        max: Number(summary.max.toFixed(2)),
        startAfterReturnP50Ms: Number(afterReturn.p50.toFixed(2)),
      },
      figures: { max: summary.max, p50: summary.p50, p95: summary.p95, p99: summary.p99 },
      notes: [],
    };
  } finally {
    worker?.kill();
  }
}

async function backlog(spec: RunSpec, adapter: Adapter, p: Extract<ScenarioParams, { kind: "backlog" }>): Promise<RunResult> {
  const t0 = now();
  await adapter.preload(0, p.ready, p.scheduled);
  const preloadSeconds = (now() - t0) / 1000;
  const stored = await adapter.unfinished();
  const notes: string[] = [];
  if (stored !== p.ready) notes.push(`after the preload the storage counted ${stored} ready jobs, expected ${p.ready}`);
  await settle();
  const worker = new WorkerChild(spec, "w1", { kind: "backlog", maxMs: p.maxWindowMs, measure: p.measure, warmup: p.warmup }, p.concurrency);
  let rssMaxMb = 0;
  const sample = setInterval(() => {
    const m = memoryOf(worker.child.pid!);
    if (m) rssMaxMb = Math.max(rssMaxMb, m.rssMb, m.hwmMb);
  }, 50);
  try {
    await worker.whenReady();
    const rssReadyMb = memoryOf(worker.child.pid!)?.rssMb ?? NaN;
    worker.send({ type: "start" });
    await worker.until(() => worker.window !== null, "end of the measured window", 2 * p.maxWindowMs + 60_000);
    const m = memoryOf(worker.child.pid!);
    if (m) rssMaxMb = Math.max(rssMaxMb, m.rssMb, m.hwmMb);
    const { jobs, t1, t2 } = worker.window!;
    if (jobs < p.measure) notes.push(`the measured window was cut after ${p.maxWindowMs / 1000} s with ${jobs} of ${p.measure} jobs${t1 === worker.started ? ", and began at the worker's start (the warm-up took longer)" : ""}`);
    await worker.stop(60_000).catch((error: unknown) => notes.push(`the worker did not stop gracefully: ${(error as Error).message}`));
    return {
      details: { preloadSeconds: Number(preloadSeconds.toFixed(1)), rssAtReadyMb: Math.round(rssReadyMb) },
      figures: { jobsPerSec: (jobs * 1000) / (t2 - t1), preloadSeconds, rssMaxMb },
      notes,
    };
  } finally {
    clearInterval(sample);
    worker.kill();
  }
}

/**
 * A worker runs `jobs` jobs of `jobMs` each at once; when all have started it
 * is killed with SIGKILL and a fresh worker process starts at once. Reports
 * the seconds from the kill until every job is done (stored as finished),
 * the jobs not done within the cap, and the jobs started more than once
 * after the kill (each job's one re-run after the kill is expected).
 */
async function crash(spec: RunSpec, adapter: Adapter, p: Extract<ScenarioParams, { kind: "crash" }>): Promise<RunResult> {
  await adapter.enqueueBulk(Array.from({ length: p.jobs }, (_, i) => ({ i, ms: p.jobMs })));
  const first = new WorkerChild(spec, "killed", { kind: "events" }, p.concurrency);
  let second: WorkerChild | null = null;
  try {
    await first.whenReady();
    first.send({ type: "start" });
    const startedInFirst = () => new Set(first.events.filter((e) => e.kind === "start").map((e) => e.i)).size;
    await first.until(() => startedInFirst() >= p.jobs, "start of every job", 60_000);
    const endedBeforeKill = first.events.filter((e) => e.kind === "end").length;
    const tKill = now();
    first.child.kill("SIGKILL");
    second = new WorkerChild(spec, "fresh", { kind: "events" }, p.concurrency);
    const fresh = second;
    await fresh.whenReady();
    fresh.send({ type: "start" });
    const tFreshStarted = now();
    const ended = () => new Set(fresh.events.filter((e) => e.kind === "end").map((e) => e.i));
    const capAt = tKill + p.capMs;
    await fresh.until(() => ended().size + endedBeforeKill >= p.jobs || now() >= capAt, "end of every job", p.capMs + 5_000).catch((error: unknown) => {
      if (fresh.error || fresh.exited) throw error;
      // Otherwise the cap was reached: reported below.
    });
    let recoverySeconds: number | null = null;
    if (ended().size + endedBeforeKill >= p.jobs) {
      // Done = stored as finished, not only the handler returned.
      const tDone = await untilStored(adapter, Math.max(1_000, capAt - now())).catch(() => null);
      if (tDone !== null) recoverySeconds = (tDone - tKill) / 1000;
    }
    // A moment more, to see a late duplicate start.
    await sleep(1_000);
    const startsAfterKill = new Map<number, number>();
    for (const e of fresh.events) if (e.kind === "start") startsAfterKill.set(e.i, (startsAfterKill.get(e.i) ?? 0) + 1);
    const runTwice = [...startsAfterKill.values()].filter((n) => n > 1).length;
    const lost = p.jobs - endedBeforeKill - ended().size;
    await fresh.stop(15_000).catch(() => fresh.kill());
    return {
      details: {
        endedBeforeKill,
        freshWorkerUpAfterMs: Math.round(tFreshStarted - tKill),
        rerunAfterKill: startsAfterKill.size,
      },
      figures: { lost, recoverySeconds, runTwice },
      notes: recoverySeconds === null ? [`${lost} of ${p.jobs} jobs not done within ${p.capMs / 1000} s of the kill`] : [],
    };
  } finally {
    first.kill();
    second?.kill();
  }
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2] ?? "") as RunSpec;
  const adapter = await createAdapter(spec.system, spec.storage);
  let result: RunResult;
  try {
    await adapter.setup();
    const p = spec.params;
    switch (p.kind) {
      case "enqueue-one":
        result = await enqueueOne(adapter, p);
        break;
      case "enqueue-bulk":
        result = await enqueueBulk(adapter, p);
        break;
      case "process":
        result = await processing(spec, adapter, p);
        break;
      case "latency":
        result = await latency(spec, adapter, p);
        break;
      case "backlog":
        result = await backlog(spec, adapter, p);
        break;
      case "crash":
        result = await crash(spec, adapter, p);
        break;
    }
  } finally {
    await adapter.teardown();
  }
  process.stdout.write(`${JSON.stringify(result)}\n`);
  // Some clients keep sockets or timers alive after close; the result is out.
  setTimeout(() => process.exit(0), 200).unref();
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
