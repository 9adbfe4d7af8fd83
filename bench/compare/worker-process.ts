/**
 * A worker process of a run, forked by the scenario process (run-one.ts)
 * with a WorkerSpec as JSON in argv and an IPC channel:
 *
 *   parent -> child   { type: "start" }, { type: "stop" }
 *   child -> parent   { type: "ready" } once set up (connected, migrated; the worker not started),
 *                     { type: "started", t0 } (t0 taken just before the worker is started),
 *                     progress by mode (below), { type: "stopped", ... } before it exits.
 *
 * Modes: "count" counts handler starts per job number (exactly-once check)
 * and reports how many ran and when the first started, at most every 10 ms; "events" reports every
 * handler start and end with its time (latency and crash runs); "backlog"
 * reports the times of the warm-up mark and of the end of the measured window
 * (cut after `maxMs`, or started at the worker's start if the warm-up takes
 * longer than that: a system slowed to a crawl by the backlog still reports).
 * Times are ms on the machine's monotonic clock, shared with the parent.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { BenchPayload, StorageContext, SystemName } from "./adapter.js";
import { createAdapter } from "./adapters/index.js";
import { now } from "./proc.js";

export type WorkerMode = { jobs: number; kind: "count" } | { kind: "events" } | { kind: "backlog"; maxMs: number; measure: number; warmup: number };

export interface WorkerSpec {
  concurrency: number;
  mode: WorkerMode;
  storage: StorageContext;
  system: SystemName;
}

export type WorkerMessage =
  | { type: "ready" }
  | { t0: number; type: "started" }
  | { first: number; handled: number; type: "progress" }
  | { i: number; t: number; type: "job-start" }
  | { i: number; t: number; type: "job-end" }
  | { jobs: number; t1: number; t2: number; type: "window" }
  | { handled: number; starts: number[] | null; type: "stopped" }
  | { message: string; type: "error" };

export type ParentMessage = { type: "start" } | { type: "stop" };

function send(message: WorkerMessage): void {
  process.send?.(message);
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2] ?? "") as WorkerSpec;
  const adapter = await createAdapter(spec.system, spec.storage);
  await adapter.setup();

  const mode = spec.mode;
  let handled = 0;
  /** When the first handler of this process started. */
  let first = 0;
  const starts = mode.kind === "count" ? new Uint16Array(mode.jobs) : null;
  let progress: NodeJS.Timeout | null = null;
  let t0 = 0;
  let t1 = 0;
  let measuredFrom = 0;
  let windowSent = false;
  const timers: NodeJS.Timeout[] = [];
  const sendWindow = () => {
    if (windowSent || mode.kind !== "backlog") return;
    windowSent = true;
    send({ jobs: handled - measuredFrom, t1, t2: now(), type: "window" });
  };
  const beginWindow = (at: number, from: number) => {
    if (t1 || mode.kind !== "backlog") return;
    t1 = at;
    measuredFrom = from;
    timers.push(setTimeout(sendWindow, mode.maxMs));
  };

  const handler = async (payload: BenchPayload): Promise<void> => {
    if (handled++ === 0) first = now();
    switch (mode.kind) {
      case "count":
        starts![payload.i]!++;
        return;
      case "events":
        send({ i: payload.i, t: now(), type: "job-start" });
        if (payload.ms) {
          await sleep(payload.ms);
          send({ i: payload.i, t: now(), type: "job-end" });
        }
        return;
      case "backlog":
        if (!t1 && handled === mode.warmup) beginWindow(now(), handled);
        else if (t1 && handled - measuredFrom === mode.measure) sendWindow();
    }
  };

  process.on("message", (message: ParentMessage) => {
    if (message.type === "start") {
      void (async () => {
        if (mode.kind === "count") {
          let reported = -1;
          progress = setInterval(() => {
            if (handled !== reported) send({ first, handled: (reported = handled), type: "progress" });
          }, 10);
        }
        t0 = now();
        if (mode.kind === "backlog") timers.push(setTimeout(() => beginWindow(t0, 0), mode.maxMs));
        await adapter.startWorker({ concurrency: spec.concurrency, handler });
        send({ t0, type: "started" });
      })().catch(fail);
    } else if (message.type === "stop") {
      void (async () => {
        if (progress) clearInterval(progress);
        for (const timer of timers) clearTimeout(timer);
        await adapter.stopWorker();
        send({ handled, starts: starts ? Array.from(starts) : null, type: "stopped" });
        await adapter.teardown();
        process.disconnect?.();
        // Some clients keep timers alive after close; the run is over.
        setTimeout(() => process.exit(0), 200).unref();
      })().catch(fail);
    }
  });
  send({ type: "ready" });
}

function fail(error: unknown): void {
  const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
  process.stderr.write(`${message}\n`);
  send({ message, type: "error" });
  setTimeout(() => process.exit(1), 100);
}

main().catch(fail);
