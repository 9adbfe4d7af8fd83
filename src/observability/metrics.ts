import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { Offload } from "../client/offload.js";
import { JOB_STATES } from "../job/states.js";
import type { OffloadEventName, OffloadEvents } from "./events.js";

/** What {@link createMetrics} returns: a Prometheus text exposition of one Offload instance. */
export interface OffloadMetrics {
  /** The `Content-Type` of {@link OffloadMetrics.render}'s text (Prometheus text format 0.0.4). */
  readonly contentType: string;
  /** Stops counting events and drops every metric; `render` then returns an empty exposition. */
  close(): void;
  /** Reads the queue gauges from the database and returns every metric as Prometheus text. */
  render(): Promise<string>;
}

/**
 * Run durations reach from no-op jobs (well under a millisecond) to the
 * demo transcriptions (minutes) and hour-long exports.
 */
const RUN_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3_600];
/**
 * An idle worker starts a job about 1 ms after it is due (README's benchmark:
 * p50 1.03 ms), a busy one when a slot frees; a poll of `pollInterval` (1 s)
 * is the worst case without a wake-up.
 */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

/**
 * Prometheus metrics of one Offload instance, in a registry of their own
 * (never prom-client's global one, so several instances and tests never
 * collide). Counters and histograms count what this process sees: jobs it
 * enqueued and attempts its worker ran; sum them across processes in
 * queries. Gauges of jobs and queues are read from the database at each
 * scrape, so every process reports the same figures for them.
 *
 * | Metric | Type | Labels |
 * | --- | --- | --- |
 * | `offload_jobs` | gauge | `queue`, `status` |
 * | `offload_queue_depth` | gauge | `queue` |
 * | `offload_queue_oldest_job_age_seconds` | gauge | `queue` |
 * | `offload_queue_paused` | gauge | `queue` |
 * | `offload_jobs_enqueued_total`, `_completed_total`, `_failed_total`, `_retried_total`, `_cancelled_total` | counter | `queue`, `type` |
 * | `offload_job_run_duration_seconds` | histogram | `queue`, `type`, `outcome` |
 * | `offload_job_start_latency_seconds` | histogram | `queue`, `type` |
 * | `offload_worker_concurrency_limit`, `offload_worker_concurrency_in_use` | gauge | `queue` |
 *
 * Node.js process metrics are left to the application, which knows whether
 * it already exports them.
 */
export function createMetrics(offload: Offload): OffloadMetrics {
  const registry = new Registry();
  const registers = [registry];
  const byType = ["queue", "type"] as const;

  const jobs = new Gauge({ help: "Jobs stored, by queue and status.", labelNames: ["queue", "status"], name: "offload_jobs", registers });
  const depth = new Gauge({ help: "Jobs ready to run and waiting for a worker (status queued).", labelNames: ["queue"], name: "offload_queue_depth", registers });
  const oldest = new Gauge({
    help: "Seconds the oldest job ready to run has waited since it became due; 0 when none waits.",
    labelNames: ["queue"],
    name: "offload_queue_oldest_job_age_seconds",
    registers,
  });
  const paused = new Gauge({ help: "1 while the queue is paused (no worker claims its jobs), else 0.", labelNames: ["queue"], name: "offload_queue_paused", registers });
  const enqueued = new Counter({ help: "Jobs enqueued by this process (deduplicated enqueues not counted).", labelNames: byType, name: "offload_jobs_enqueued_total", registers });
  const completed = new Counter({ help: "Jobs completed by this process's worker.", labelNames: byType, name: "offload_jobs_completed_total", registers });
  const failed = new Counter({ help: "Jobs failed for good (no attempts left, or a PermanentError) in this process.", labelNames: byType, name: "offload_jobs_failed_total", registers });
  const retried = new Counter({ help: "Failed attempts that were scheduled to run again, in this process.", labelNames: byType, name: "offload_jobs_retried_total", registers });
  const cancelled = new Counter({ help: "Jobs cancelled, as seen by this process.", labelNames: byType, name: "offload_jobs_cancelled_total", registers });
  const runDuration = new Histogram({
    buckets: RUN_BUCKETS,
    help: "Seconds an attempt ran, by how it ended: completed, retried or failed.",
    labelNames: ["queue", "type", "outcome"],
    name: "offload_job_run_duration_seconds",
    registers,
  });
  const startLatency = new Histogram({
    buckets: LATENCY_BUCKETS,
    help: "Seconds from when a job became due (enqueued, or its delay or backoff over) to the start of its attempt.",
    labelNames: byType,
    name: "offload_job_start_latency_seconds",
    registers,
  });
  const slotsLimit = new Gauge({ help: "Jobs this process's worker may run at once, per queue.", labelNames: ["queue"], name: "offload_worker_concurrency_limit", registers });
  const slotsInUse = new Gauge({ help: "Jobs this process's worker is running now, per queue.", labelNames: ["queue"], name: "offload_worker_concurrency_in_use", registers });

  const listeners: { [E in OffloadEventName]?: (payload: OffloadEvents[E]) => void } = {
    "job:cancelled": (e) => cancelled.inc({ queue: e.queue, type: e.type }),
    "job:completed": (e) => {
      completed.inc({ queue: e.queue, type: e.type });
      runDuration.observe({ outcome: "completed", queue: e.queue, type: e.type }, e.durationMs / 1_000);
    },
    "job:enqueued": (e) => enqueued.inc({ queue: e.queue, type: e.type }),
    "job:failed": (e) => {
      failed.inc({ queue: e.queue, type: e.type });
      // A job failed by the rescuer after its worker vanished has no run time to report.
      if (e.durationMs !== undefined) runDuration.observe({ outcome: "failed", queue: e.queue, type: e.type }, e.durationMs / 1_000);
    },
    "job:retrying": (e) => {
      retried.inc({ queue: e.queue, type: e.type });
      runDuration.observe({ outcome: "retried", queue: e.queue, type: e.type }, e.durationMs / 1_000);
    },
    "job:started": (e) => {
      // runAt comes from the database's clock; a skewed one must not make a latency negative.
      const latencyMs = Math.max(0, Date.now() - Date.parse(e.runAt));
      startLatency.observe({ queue: e.queue, type: e.type }, latencyMs / 1_000);
    },
  };
  const subscribe = (on: boolean) => {
    for (const [event, listener] of Object.entries(listeners)) {
      const name = event as OffloadEventName;
      const fn = listener as (payload: OffloadEvents[typeof name]) => void;
      if (on) offload.on(name, fn);
      else offload.off(name, fn);
    }
  };
  subscribe(true);

  let closed = false;
  /** Renders one scrape at a time: each resets and refills the gauges, which two at once would interleave. */
  let previous: Promise<unknown> = Promise.resolve();

  async function renderNow(): Promise<string> {
    if (closed) return "";
    const queues = await offload.queueStats();
    if (closed) return "";
    jobs.reset();
    depth.reset();
    oldest.reset();
    paused.reset();
    for (const q of queues) {
      for (const status of JOB_STATES) jobs.set({ queue: q.queue, status }, q.counts[status]);
      depth.set({ queue: q.queue }, q.counts.queued);
      oldest.set({ queue: q.queue }, (q.oldestQueuedAgeMs ?? 0) / 1_000);
      paused.set({ queue: q.queue }, q.paused ? 1 : 0);
    }
    const slots = offload.workerSlots;
    slotsLimit.reset();
    slotsInUse.reset();
    for (const [queue, slot] of slots) {
      slotsLimit.set({ queue }, slot.limit);
      slotsInUse.set({ queue }, slot.used);
    }
    return registry.metrics();
  }

  return {
    close() {
      if (closed) return;
      closed = true;
      subscribe(false);
      registry.clear();
    },
    contentType: registry.contentType,
    render() {
      const next = previous.then(renderNow);
      previous = next.catch(() => undefined);
      return next;
    },
  };
}
