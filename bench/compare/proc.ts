/**
 * Reading processes from /proc (Linux): CPU time, resident memory, and the
 * database servers' processes. The clock every process of a run shares.
 */
import { readFileSync, readdirSync } from "node:fs";

/**
 * Milliseconds on the machine's monotonic clock (CLOCK_MONOTONIC, the same in
 * every process): a time taken in one process can be subtracted from one taken
 * in another, which is how cross-process latency is measured.
 */
export function now(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** Clock ticks per second of /proc/<pid>/stat's utime and stime (USER_HZ). */
const USER_HZ = 100;

/** CPU ms (user + system, every thread) a process has used so far, or null if it is gone. */
export function cpuMsOf(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name (which may hold spaces): utime is field 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / USER_HZ;
  } catch {
    return null;
  }
}

/** Resident set size now and its peak (VmRSS, VmHWM), in MB, or null if the process is gone. */
export function memoryOf(pid: number): { hwmMb: number; rssMb: number } | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, "m").exec(status)?.[1] ?? NaN);
    const rss = kb("VmRSS");
    // A process that has exited but is not yet reaped (a zombie) has no memory lines.
    return Number.isFinite(rss) ? { hwmMb: kb("VmHWM") / 1024, rssMb: rss / 1024 } : null;
  } catch {
    return null;
  }
}

/** Pids of every process whose command name is one of `names` (e.g. postgres, redis-server). */
export function pidsNamed(names: readonly string[]): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (names.includes(readFileSync(`/proc/${entry}/comm`, "utf8").trim())) pids.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}

/** CPU ms of a set of processes (a server), counting processes that appeared since `before` from zero. */
export class ServerCpu {
  private readonly before: Map<number, number>;

  constructor(private readonly names: readonly string[]) {
    this.before = this.snapshot();
  }

  private snapshot(): Map<number, number> {
    const m = new Map<number, number>();
    for (const pid of pidsNamed(this.names)) {
      const ms = cpuMsOf(pid);
      if (ms !== null) m.set(pid, ms);
    }
    return m;
  }

  /** CPU ms used since construction. */
  elapsed(): number {
    let total = 0;
    for (const [pid, ms] of this.snapshot()) total += ms - (this.before.get(pid) ?? 0);
    return total;
  }
}
