import type { EnqueuedJob, JobView, Offload } from "../index.js";
import { CliError } from "./cli-error.js";
import { defineDemoJobs } from "./demo-jobs.js";
import { colorWanted } from "./format.js";
import { loadJobModule } from "./load-jobs.js";
import { resolveTarget, withSource, type EnqueueRequest, type JobsSource, type SourceOptions } from "./source.js";
import { WatchView } from "./watch-view.js";

/** Options of `offload enqueue`. */
export interface EnqueueCommandOptions extends SourceOptions {
  attempts?: number;
  /** Milliseconds. */
  delay?: number;
  /** Define the demo job types (direct mode). */
  demo: boolean;
  /** Job modules defining the job types (direct mode). */
  jobs?: string[];
  json?: boolean;
  owner?: string;
  priority?: number;
  runAt?: string;
  /** Milliseconds. */
  timeout?: number;
  uniqueKey?: string;
  watch?: boolean;
}

const print = (text: string) => void process.stdout.write(`${text}\n`);

/**
 * `offload enqueue <type> <json>`: stores one job and prints it; with
 * `--watch`, follows it to the end and exits 1 unless it completed.
 */
export async function enqueueCommand(type: string, payload: unknown, options: EnqueueCommandOptions): Promise<void> {
  const target = resolveTarget(options);
  if (target.kind === "http" && (options.jobs?.length ?? 0) > 0) {
    throw new CliError("--jobs is for the database mode: a server enqueues the job types it defines itself", 2);
  }
  const defineJobs = async (offload: Offload) => {
    if (options.demo) defineDemoJobs(offload);
    for (const module of options.jobs ?? []) await loadJobModule(offload, module);
  };
  const request: EnqueueRequest = { payload, type };
  for (const key of ["attempts", "delay", "owner", "priority", "runAt", "timeout", "uniqueKey"] as const) {
    if (options[key] !== undefined) (request as unknown as Record<string, unknown>)[key] = options[key];
  }
  await withSource(
    options,
    async (source) => {
      const job = await source.enqueue(request);
      if (!options.watch) {
        print(options.json ? JSON.stringify(job, null, 2) : describeEnqueued(job));
        return;
      }
      if (!options.json) print(`${describeEnqueued(job)} Watching it; Ctrl-C stops watching, not the job.`);
      const final = await watchJob(source, job, Boolean(options.json));
      if (final === null) return;
      if (options.json) print(JSON.stringify(final, null, 2));
      if (final.status !== "completed") throw new CliError(`job ${final.id} ended ${final.status}`);
    },
    defineJobs,
  );
}

function describeEnqueued(job: EnqueuedJob): string {
  if (job.deduplicated) {
    return `Not enqueued again: job ${job.id} (${job.type}) has the same unique key and is still ${job.status}.`;
  }
  const when = job.status === "scheduled" ? `, runs at ${job.runAt}` : "";
  return `Enqueued ${job.type} job ${job.id} in queue ${job.queue}: ${job.status}${when}.`;
}

/**
 * Follows a job until it finishes, drawing the progress bar unless `quiet`.
 * Resolves with the finished job, or null when Ctrl-C stopped the watch
 * (exit code 130; the job goes on).
 */
async function watchJob(source: JobsSource, job: JobView, quiet: boolean): Promise<JobView | null> {
  const stdout = process.stdout;
  const view = quiet
    ? null
    : new WatchView({ color: colorWanted(stdout), columns: () => stdout.columns || undefined, tty: stdout.isTTY === true, write: (text) => void stdout.write(text) });
  const controller = new AbortController();
  const onSignal = () => controller.abort();
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    const final = await source.watch(job.id, (snapshot) => view?.update(snapshot), controller.signal);
    view?.finish(final);
    return final;
  } catch (error) {
    if (!controller.signal.aborted) throw error;
    view?.stop();
    process.stderr.write(`Stopped watching job ${job.id}; it goes on. See it with: offload jobs show ${job.id}\n`);
    process.exitCode = 130;
    return null;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}
