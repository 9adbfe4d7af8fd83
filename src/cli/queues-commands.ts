import { JOB_STATES, type JobState } from "../index.js";
import { formatDuration } from "../job/duration.js";
import { table } from "./format.js";
import { withSource, type QueueSummary, type SourceOptions } from "./source.js";

const print = (text: string) => void process.stdout.write(`${text}\n`);

type JsonOption = SourceOptions & { json?: boolean };

/** `offload queues`: one row per queue, or `{ items }` as JSON (the body of `GET /api/queues`). */
export function listQueuesCommand(options: JsonOption): Promise<void> {
  return withSource(options, async (source) => {
    const queues = await source.queues();
    if (options.json) {
      print(JSON.stringify({ items: queues }, null, 2));
      return;
    }
    if (queues.length === 0) {
      print("No queues yet: a queue appears with its first job, or when it is paused.");
      return;
    }
    const rows = queues.map((q) => [
      q.queue,
      q.paused ? "paused" : "active",
      ...JOB_STATES.map((state) => String(q.counts[state])),
      throughput(q.lastMinute),
      throughput(q.lastHour),
      q.oldestQueuedAgeMs === null ? "—" : formatDuration(q.oldestQueuedAgeMs),
    ]);
    print(table(["QUEUE", "STATE", ...JOB_STATES.map((s) => s.toUpperCase()), "LAST MINUTE", "LAST HOUR", "OLDEST WAITING"], rows));
  });
}

/** `12 done, 1 failed`: jobs that ended in the window. */
function throughput(t: QueueSummary["lastMinute"]): string {
  return `${t.completed} done, ${t.failed} failed`;
}

/** `offload queues pause <name>` and `offload queues resume <name>`. */
export function setQueuePausedCommand(name: string, paused: boolean, options: JsonOption): Promise<void> {
  return withSource(options, async (source) => {
    const state = paused ? await source.pauseQueue(name) : await source.resumeQueue(name);
    if (options.json) print(JSON.stringify(state));
    else if (paused) print(`Paused queue ${name}: workers claim none of its jobs from now on; running jobs finish, and new jobs are still accepted.`);
    else print(`Resumed queue ${name}: workers claim its jobs again.`);
  });
}

/** What `offload stats --json` prints: every queue added up. */
export interface StatsSummary {
  counts: Record<JobState, number>;
  lastHour: QueueSummary["lastHour"];
  lastMinute: QueueSummary["lastMinute"];
  /** The longest wait of a ready job, in any queue; null when none waits. */
  oldestQueuedAgeMs: number | null;
  pausedQueues: string[];
  queues: number;
  total: number;
}

/** Adds up the queues' figures. */
export function summarize(queues: readonly QueueSummary[]): StatsSummary {
  const counts = Object.fromEntries(JOB_STATES.map((s) => [s, 0])) as Record<JobState, number>;
  const lastMinute = { completed: 0, failed: 0, processed: 0 };
  const lastHour = { completed: 0, failed: 0, processed: 0 };
  let oldest: number | null = null;
  for (const q of queues) {
    for (const state of JOB_STATES) counts[state] += q.counts[state];
    for (const [sum, window] of [
      [lastMinute, q.lastMinute],
      [lastHour, q.lastHour],
    ] as const) {
      sum.completed += window.completed;
      sum.failed += window.failed;
      sum.processed += window.processed;
    }
    if (q.oldestQueuedAgeMs !== null) oldest = Math.max(oldest ?? 0, q.oldestQueuedAgeMs);
  }
  return {
    counts,
    lastHour,
    lastMinute,
    oldestQueuedAgeMs: oldest,
    pausedQueues: queues.filter((q) => q.paused).map((q) => q.queue),
    queues: queues.length,
    total: JOB_STATES.reduce((n, s) => n + counts[s], 0),
  };
}

/** `offload stats`: jobs by state, throughput, and waits, over every queue. */
export function statsCommand(options: JsonOption): Promise<void> {
  return withSource(options, async (source) => {
    const queues = await source.queues();
    const stats = summarize(queues);
    if (options.json) {
      print(JSON.stringify(stats, null, 2));
      return;
    }
    const oldestQueue = queues.reduce<QueueSummary | null>((a, q) => (q.oldestQueuedAgeMs !== null && (a === null || q.oldestQueuedAgeMs > a.oldestQueuedAgeMs!) ? q : a), null);
    const rows: [string, string][] = [
      ["from", source.description],
      ["jobs", `${stats.total}: ${JOB_STATES.map((s) => `${stats.counts[s]} ${s}`).join(", ")}`],
      ["last minute", throughput(stats.lastMinute)],
      ["last hour", throughput(stats.lastHour)],
      ["oldest wait", oldestQueue ? `${formatDuration(oldestQueue.oldestQueuedAgeMs!)} (queue ${oldestQueue.queue})` : "— (no job is waiting)"],
      ["queues", `${stats.queues}${stats.pausedQueues.length ? `; paused: ${stats.pausedQueues.join(", ")}` : ""}`],
    ];
    print(rows.map(([label, value]) => `${label.padEnd(12)}  ${value}`).join("\n"));
  });
}
