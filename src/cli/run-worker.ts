import { createOffload, type Offload } from "../index.js";
import { formatDuration } from "../job/duration.js";
import { createCliLogger } from "./cli-logger.js";
import { defineDemoJobs, enqueueDemoJobs } from "./demo-jobs.js";
import { colorWanted, describeDatabase, painter } from "./format.js";
import { loadJobModule } from "./load-jobs.js";
import { ProgressPrinter } from "./progress-printer.js";

/** Options shared by `offload start` and `offload worker`. */
export interface RunWorkerOptions {
  /** Slots per queue. Default: the library's (10). */
  concurrency?: number;
  /** Database URL. Default: env `OFFLOAD_DATABASE`, else `sqlite:./data/offload.db`. */
  database?: string;
  /** Define the demo job types, and enqueue one job of each if `enqueueDemo`. */
  demo: boolean;
  enqueueDemo: boolean;
  /** How long running jobs may take to finish after SIGINT or SIGTERM, in ms. */
  graceMs: number;
  /** Job modules, paths relative to the working directory. */
  jobs: readonly string[];
  /** Serve the HTTP API beside the worker, on env `PORT` and `HOST` with the tokens of `OFFLOAD_TOKENS`/`OFFLOAD_TOKENS_FILE`. */
  serve?: boolean;
}

/**
 * One Ctrl-C in a terminal can arrive twice: the terminal signals the whole
 * process group, and `npm start` forwards the signal to its child as well.
 * Repeats within this window count as the same request.
 */
const SAME_SIGNAL_MS = 500;

/**
 * Runs a worker until SIGINT or SIGTERM, printing each job event as a line.
 * The first signal stops gracefully (`close({ grace })`); a second one exits
 * at once, leaving running jobs to be rescued when their leases expire.
 * Resolves once the worker has stopped and the database is closed.
 */
export async function runWorker(options: RunWorkerOptions): Promise<void> {
  const out = (line: string) => void process.stdout.write(`${line}\n`);
  const color = colorWanted(process.stdout);
  const offload = createOffload({ logger: createCliLogger(), ...(options.database === undefined ? {} : { database: options.database }) });
  try {
    await serve(offload, options, out, color);
  } catch (error) {
    await offload.close({ grace: 0 }).catch(() => undefined);
    throw error;
  }
}

async function serve(offload: Offload, options: RunWorkerOptions, out: (line: string) => void, color: boolean): Promise<void> {
  const paint = painter(color);
  const demo = options.demo ? defineDemoJobs(offload) : null;
  for (const module of options.jobs) {
    const names = await loadJobModule(offload, module);
    out(`Loaded ${module}: ${names.join(", ")}`);
  }
  const printer = new ProgressPrinter({ color, write: out });
  const detach = printer.attach(offload);

  out(paint("bold", `Offload worker (pid ${process.pid})`));
  out(`  database   ${describeDatabase(offload.database)}`);
  out(`  job types  ${[...offload.jobTypes.keys()].sort().join(", ")}`);
  // Loaded only here, so `offload worker` never loads Fastify.
  const server = options.serve ? await startApi(offload, out) : null;

  const started = offload.start(options.concurrency === undefined ? {} : { concurrency: options.concurrency });
  void started.then(
    () => out(`  queues     ${[...offload.workerQueues].sort(([a], [b]) => a.localeCompare(b)).map(([q, slots]) => `${q} (${slots} slots)`).join(", ")}`),
    () => undefined,
  );
  let stopping: Promise<void> | null = null;
  let firstSignalAt = 0;
  let removeSignalHandlers = () => {};
  const stopped = new Promise<void>((resolve, reject) => {
    const onSignal = (signal: NodeJS.Signals) => {
      const now = Date.now();
      if (stopping) {
        if (now - firstSignalAt < SAME_SIGNAL_MS) return;
        out(`${signal} again: exiting now. Jobs still running keep their lease until it expires (10 s by default); then a worker runs them again.`);
        process.exit(signal === "SIGINT" ? 130 : 143);
      }
      firstSignalAt = now;
      const running = printer.running.size;
      out(
        running === 0
          ? `${signal}: stopping; no job is running.`
          : `${signal}: stopping. No new jobs are claimed; ${running === 1 ? "the running job gets" : `${running} running jobs get`} up to ${formatDuration(options.graceMs)} to finish, then ${running === 1 ? "it goes" : "they go"} back to the queue. Press Ctrl-C again to exit at once.`,
      );
      // A signal during start-up waits for it, so close() never races the worker being created.
      // The API closes first (503 to requests still arriving, event streams ended), then the worker.
      stopping = started
        .catch(() => undefined)
        .then(() => server?.close())
        .then(() => offload.close({ grace: options.graceMs }))
        .then(() => {
          for (const [id, type] of printer.running) printer.line(type, id, "released: back to queued, this attempt not counted");
          out("Stopped.");
        })
        .finally(() => {
          detach();
          removeSignalHandlers();
        });
      stopping.then(resolve, reject);
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    removeSignalHandlers = () => {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    };
  });

  // Marked handled here; awaited below once the worker runs.
  stopped.catch(() => undefined);

  try {
    await started;
    out("Worker running. Press Ctrl-C to stop.");
    if (demo && options.enqueueDemo && !stopping) {
      for (const job of await enqueueDemoJobs(demo)) {
        if (job.deduplicated) printer.line(job.type, job.id, `not enqueued again: the demo job of an earlier start is still ${job.status}`);
      }
    }
  } catch (error) {
    detach();
    removeSignalHandlers();
    await server?.close();
    throw error;
  }
  await stopped;
}

/** Starts the HTTP API where env `PORT` and `HOST` say, and prints where it listens and who may call it. */
async function startApi(offload: Offload, out: (line: string) => void) {
  const { createServer, serverSettingsFromEnv } = await import("../http/index.js");
  const { allowedOrigins, host, port, tokens } = serverSettingsFromEnv();
  const server = await createServer({ allowedOrigins, host, offload, port, tokens });
  const access =
    tokens.length === 0
      ? `no tokens (OFFLOAD_TOKENS): listening on ${server.host} only, every local caller is admin`
      : `${tokens.length} token${tokens.length === 1 ? "" : "s"}, Authorization: Bearer <token>`;
  out(`  http api   ${server.url}  (${access})`);
  out(`  dashboard  ${server.url}/`);
  return server;
}
