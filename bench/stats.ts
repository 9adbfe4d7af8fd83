/**
 * Shared by the bench runner and its scenario processes: the names of the
 * scenarios, the one-line JSON result a scenario prints, and small statistics.
 */

/** Scenarios, in the order the runner prints them. */
export const SCENARIOS = ["enqueue-one", "enqueue-bulk", "process-c10", "process-c50", "process-c200", "latency"] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

export function isScenario(value: string): value is ScenarioName {
  return (SCENARIOS as readonly string[]).includes(value);
}

/** How a processing run decides that the last job is done. */
export type CompletionCount = "events" | "poll";

/** Percentiles of a latency sample, in milliseconds. */
export interface LatencySummary {
  max: number;
  mean: number;
  n: number;
  p50: number;
  p95: number;
  p99: number;
}

/** Storage calls during a processing window (with --batch-stats only). */
export interface BatchStats {
  /** jobAckMany calls (outcomes written on their own), the acks they wrote, and the ms spent awaiting them. */
  ackCalls: number;
  acked: number;
  ackMs: number;
  /** Claims (jobClaim, and jobAckAndClaim with acks), the jobs they returned, the ms spent awaiting them, and how many returned none. */
  claimCalls: number;
  claimed: number;
  claimMs: number;
  emptyClaims: number;
  /** jobAckAndClaim calls carrying acks (outcomes written with the next claim, one transaction), and those acks. */
  withClaimAcked: number;
  withClaimCalls: number;
}

/** The one JSON line a scenario process prints on stdout as its last line. */
export interface ScenarioResult {
  batches?: BatchStats;
  /** Milliseconds on the clock: the measured window only. */
  elapsedMs: number;
  /**
   * The main thread during the window, from /proc/self/schedstat (null where
   * unavailable): time on a CPU, and time runnable but waiting for one. A
   * large wait means other processes took the CPU: the run is noisy.
   */
  mainThread: { cpuMs: number; runQueueMs: number } | null;
  /** The whole Node process during the window (every thread: main, GC helpers, libuv), from process.cpuUsage(). */
  process?: { cpuMs: number; sysMs: number };
  /**
   * PostgreSQL only: server CPU time during the window, from /proc/<pid>/schedstat.
   * backendCpuMs: the backends serving this run's connections (pool and LISTEN),
   * backendSysMs the part of it in the kernel (WAL flushes, sockets; /proc/<pid>/stat, 10 ms resolution);
   * otherCpuMs: every other postgres process on the machine (WAL writer,
   * checkpointer, postmaster, but also other clients' backends: noisy).
   */
  server?: { backendCpuMs: number; backendSysMs: number; backends: number; backendsLost: number; otherCpuMs: number };
  /** Jobs in the measured window. */
  jobs: number;
  /** jobs / elapsed seconds; absent for the latency scenario. */
  jobsPerSec?: number;
  /** Enqueue-to-handler-start latency; latency scenario only. */
  latency?: LatencySummary;
  /** Anything the scenario wants the reader to know about this run (e.g. gc availability). */
  notes: string[];
  scenario: ScenarioName;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Nearest-rank percentile (p in 0..100) of an ascending-sorted sample. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export function summariseLatency(samples: readonly number[]): LatencySummary {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    max: sorted[sorted.length - 1] ?? NaN,
    mean: sorted.reduce((s, v) => s + v, 0) / sorted.length,
    n: sorted.length,
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
  };
}
