import { readFileSync } from "node:fs";
import { Command, InvalidArgumentError, Option } from "commander";
import { JOB_STATES, type JobState } from "../index.js";
import { parseDuration } from "../job/duration.js";
import { NAME_PATTERN } from "../job/validate.js";
import { enqueueCommand, type EnqueueCommandOptions } from "./enqueue-command.js";
import { cancelJobCommand, listJobsCommand, migrateCommand, retryJobCommand, showJobCommand } from "./jobs-commands.js";
import { listQueuesCommand, setQueuePausedCommand, statsCommand } from "./queues-commands.js";
import { runWorker } from "./run-worker.js";
import type { SourceOptions } from "./source.js";

function version(): string {
  // src/cli and dist/cli both sit two levels below package.json.
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };
  return pkg.version;
}

function positiveInt(max: number) {
  return (value: string): number => {
    if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > max) throw new InvalidArgumentError(`expected a whole number from 1 to ${max}`);
    return Number(value);
  };
}

function duration(value: string): number {
  const parsed = parseDuration(/^\d+$/.test(value) ? Number(value) : value);
  if ("error" in parsed) throw new InvalidArgumentError(parsed.error);
  return parsed.ms;
}

function integer(min: number, max: number) {
  return (value: string): number => {
    if (!/^-?\d+$/.test(value) || Number(value) < min || Number(value) > max) throw new InvalidArgumentError(`expected a whole number from ${min} to ${max}`);
    return Number(value);
  };
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

function jsonArgument(value: string): unknown {
  try {
    return JSON.parse(value) as unknown;
  } catch (error) {
    throw new InvalidArgumentError(`expected JSON, such as '{"minutes":0.1}' (quoted for the shell): ${(error as Error).message}`);
  }
}

function name(value: string): string {
  if (!NAME_PATTERN.test(value)) throw new InvalidArgumentError("expected 1-100 characters of letters, digits and . _ : - starting with a letter or digit");
  return value;
}

function isoDateTime(value: string): string {
  if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d/.test(value) || Number.isNaN(Date.parse(value))) {
    throw new InvalidArgumentError("expected an ISO 8601 date-time with a zone, such as 2030-01-31T09:00:00Z");
  }
  return value;
}

const databaseOption = () =>
  new Option("--database <url>", "database URL: sqlite:<path> or postgres://user@host:5432/db[?schema=offload] (default: env OFFLOAD_DATABASE, else sqlite:./data/offload.db)");
const concurrencyOption = () => new Option("--concurrency <n>", "jobs run at once, per queue (default: 10)").argParser(positiveInt(10_000));
const urlOption = () => new Option("--url <url>", "talk to an Offload server at this URL instead of the database (default: env OFFLOAD_URL, unless --database is given)");
const tokenOption = () => new Option("--token <token>", "bearer token for --url (default: env OFFLOAD_TOKEN)");
const jsonOption = (what: string) => new Option("--json", `print ${what} as JSON`);

/** `--database`, `--url` and `--token`: where a job command finds the jobs. */
function withSourceOptions(command: Command): Command {
  return command.addOption(databaseOption()).addOption(urlOption()).addOption(tokenOption());
}

const graceOption = () =>
  new Option("--grace <duration>", "on SIGINT/SIGTERM, how long running jobs may take to finish before they are put back in the queue, e.g. 30s").argParser(duration).default(10_000, "10s");

/**
 * The `offload` command line. Errors print `error: <message>` and exit 1;
 * bad arguments exit 2.
 */
export function buildProgram(): Command {
  const program = new Command("offload")
    .description("Durable background jobs for TypeScript: run workers and inspect jobs.")
    .version(version(), "-v, --version")
    .exitOverride()
    .showHelpAfterError("(add --help for usage)");

  program
    .command("start")
    .description("run a worker with the demo job types (and those of --jobs modules), enqueue one demo job of each type, and print job events as they happen")
    .addOption(concurrencyOption())
    .addOption(new Option("--jobs <module>", "a job module to load, relative to the working directory (repeatable)").argParser(collect))
    .option("--no-demo", "enqueue no demo jobs (the demo job types stay defined, so demo jobs already stored still run)")
    .addOption(databaseOption())
    .addOption(graceOption())
    .action(async (o: { concurrency?: number; database?: string; demo: boolean; grace: number; jobs?: string[] }) => {
      await runWorker({ concurrency: o.concurrency, database: o.database, demo: true, enqueueDemo: o.demo, graceMs: o.grace, jobs: o.jobs ?? [], serve: true });
    });

  program
    .command("worker")
    .description("run a worker for the job types that --jobs modules define, and print job events as they happen")
    .addOption(new Option("--jobs <module>", "a job module to load, relative to the working directory (repeatable)").argParser(collect).makeOptionMandatory())
    .addOption(concurrencyOption())
    .addOption(databaseOption())
    .addOption(graceOption())
    .addHelpText(
      "after",
      `
A job module exports a function, as default or as \`defineJobs\`, that receives
the Offload instance and defines job types on it:

  // jobs.js
  import { z } from "zod";
  export default function defineJobs(offload) {
    offload.define("email.send", { schema: z.object({ to: z.string() }) }, async ({ to }, ctx) => {
      await ctx.progress({ message: \`sending to \${to}\` });
      return { sent: true };
    });
  }

TypeScript modules load when tsx is installed.`,
    )
    .action(async (o: { concurrency?: number; database?: string; grace: number; jobs: string[] }) => {
      await runWorker({ concurrency: o.concurrency, database: o.database, demo: false, enqueueDemo: false, graceMs: o.grace, jobs: o.jobs });
    });

  program
    .command("migrate")
    .description("create or upgrade the database schema and print its version")
    .addOption(databaseOption())
    .option("--json", "print { database, applied, version } as JSON")
    .option("--print", "print the SQL the migrations run, for review, without connecting (apply it yourself or run migrate)")
    .action(async (o: { database?: string; json?: boolean; print?: boolean }) => migrateCommand(o));

  const jobs = program.command("jobs").description("list, show, cancel and retry jobs");

  withSourceOptions(jobs.command("list"))
    .description("list jobs, newest first")
    .addOption(new Option("--status <state>", "only jobs in this state").choices(JOB_STATES))
    .option("--queue <name>", "only jobs of this queue")
    .option("--type <name>", "only jobs of this type")
    .option("--owner <owner>", "only jobs of this owner")
    .addOption(new Option("--limit <n>", "at most this many jobs, 1 to 500").argParser(positiveInt(500)).default(20))
    .option("--cursor <cursor>", "the next page, as printed after a full page")
    .option("--json", "print { items, nextCursor } as JSON")
    .action(async (o: SourceOptions & { cursor?: string; json?: boolean; limit: number; owner?: string; queue?: string; status?: JobState; type?: string }) =>
      listJobsCommand(o),
    );

  withSourceOptions(jobs.command("show"))
    .description("show one job: payload, progress, result, errors")
    .argument("<id>", "job id")
    .option("--json", "print the job as JSON")
    .action(async (id: string, o: SourceOptions & { json?: boolean }) => showJobCommand(id, o));

  withSourceOptions(jobs.command("cancel"))
    .description("cancel a job: at once if it is waiting, by aborting its signal if it is running")
    .argument("<id>", "job id")
    .option("--json", "print the job as JSON")
    .action(async (id: string, o: SourceOptions & { json?: boolean }) => cancelJobCommand(id, o));

  withSourceOptions(jobs.command("retry"))
    .description("run a failed or cancelled job again, with a fresh set of attempts")
    .argument("<id>", "job id")
    .option("--json", "print the job as JSON")
    .action(async (id: string, o: SourceOptions & { json?: boolean }) => retryJobCommand(id, o));

  
  withSourceOptions(program.command("enqueue"))
    .description("enqueue a job; with --watch, follow its progress until it finishes")
    .argument("<type>", "job type, e.g. demo.transcribe", name)
    .argument("<json>", "the payload as JSON, e.g. '{\"minutes\":0.1}'", jsonArgument)
    .option("--watch", "show a live progress bar until the job finishes, then a summary line; exit 1 unless it completed")
    .addOption(jsonOption("the job (with --watch: the finished job)"))
    .addOption(new Option("--priority <n>", "higher runs first, -1000000 to 1000000").argParser(integer(-1_000_000, 1_000_000)))
    .addOption(new Option("--delay <duration>", "run no earlier than this long from now, e.g. 30s").argParser(duration).conflicts("runAt"))
    .addOption(new Option("--run-at <iso>", "run no earlier than this time, e.g. 2030-01-31T09:00:00Z").argParser(isoDateTime))
    .addOption(new Option("--attempts <n>", "maximum attempts, 1 to 1000 (default: the job type's)").argParser(integer(1, 1_000)))
    .addOption(new Option("--timeout <duration>", "per-attempt time limit, e.g. 10m (default: the job type's)").argParser(duration))
    .option("--unique-key <key>", "while an unfinished job of this type has this key, return it instead of enqueuing another")
    .option("--owner <owner>", "who the job belongs to, e.g. a user id")
    .addOption(new Option("--jobs <module>", "database mode: a job module defining the job type (repeatable)").argParser(collect))
    .option("--no-demo", "database mode: do not define the demo job types")
    .action(async (type: string, payload: unknown, o: EnqueueCommandOptions) => enqueueCommand(type, payload, o));

  const queues = program.command("queues").description("show queues (the default), pause or resume one");

  withSourceOptions(queues.command("list", { isDefault: true }))
    .description("per queue: jobs by state, paused or not, jobs done and failed in the last minute and hour, the oldest wait")
    .addOption(jsonOption("{ items }"))
    .action(async (o: SourceOptions & { json?: boolean }) => listQueuesCommand(o));

  withSourceOptions(queues.command("pause"))
    .description("stop workers claiming jobs of a queue (running jobs finish; new jobs are still accepted)")
    .argument("<name>", "queue name", name)
    .addOption(jsonOption("{ paused, pausedAt, queue }"))
    .action(async (queue: string, o: SourceOptions & { json?: boolean }) => setQueuePausedCommand(queue, true, o));

  withSourceOptions(queues.command("resume"))
    .description("let workers claim jobs of a paused queue again")
    .argument("<name>", "queue name", name)
    .addOption(jsonOption("{ paused, pausedAt, queue }"))
    .action(async (queue: string, o: SourceOptions & { json?: boolean }) => setQueuePausedCommand(queue, false, o));

  withSourceOptions(program.command("stats"))
    .description("jobs by state, jobs done and failed in the last minute and hour, and the longest wait, over every queue")
    .addOption(jsonOption("the figures"))
    .action(async (o: SourceOptions & { json?: boolean }) => statsCommand(o));

  return program;
}
