import { readFileSync } from "node:fs";
import { Command, InvalidArgumentError, Option } from "commander";
import { JOB_STATES, type JobState } from "../index.js";
import { parseDuration } from "../job/duration.js";
import { cancelJobCommand, listJobsCommand, migrateCommand, retryJobCommand, showJobCommand } from "./jobs-commands.js";
import { runWorker } from "./run-worker.js";

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

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

const databaseOption = () =>
  new Option("--database <url>", "database URL: sqlite:<path> or postgres://user@host:5432/db[?schema=offload] (default: env OFFLOAD_DATABASE, else sqlite:./data/offload.db)");
const concurrencyOption = () => new Option("--concurrency <n>", "jobs run at once, per queue (default: 10)").argParser(positiveInt(10_000));
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
      await runWorker({ concurrency: o.concurrency, database: o.database, demo: true, enqueueDemo: o.demo, graceMs: o.grace, jobs: o.jobs ?? [] });
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

  jobs
    .command("list")
    .description("list jobs, newest first")
    .addOption(new Option("--status <state>", "only jobs in this state").choices(JOB_STATES))
    .option("--queue <name>", "only jobs of this queue")
    .option("--type <name>", "only jobs of this type")
    .option("--owner <owner>", "only jobs of this owner")
    .addOption(new Option("--limit <n>", "at most this many jobs, 1 to 500").argParser(positiveInt(500)).default(20))
    .option("--cursor <cursor>", "the next page, as printed after a full page")
    .option("--json", "print { items, nextCursor } as JSON")
    .addOption(databaseOption())
    .action(async (o: { cursor?: string; database?: string; json?: boolean; limit: number; owner?: string; queue?: string; status?: JobState; type?: string }) =>
      listJobsCommand(o),
    );

  jobs
    .command("show")
    .description("show one job: payload, progress, result, errors")
    .argument("<id>", "job id")
    .option("--json", "print the job as JSON")
    .addOption(databaseOption())
    .action(async (id: string, o: { database?: string; json?: boolean }) => showJobCommand(id, o));

  jobs
    .command("cancel")
    .description("cancel a job: at once if it is waiting, by aborting its signal if it is running")
    .argument("<id>", "job id")
    .option("--json", "print the job as JSON")
    .addOption(databaseOption())
    .action(async (id: string, o: { database?: string; json?: boolean }) => cancelJobCommand(id, o));

  jobs
    .command("retry")
    .description("run a failed or cancelled job again, with a fresh set of attempts")
    .argument("<id>", "job id")
    .option("--json", "print the job as JSON")
    .addOption(databaseOption())
    .action(async (id: string, o: { database?: string; json?: boolean }) => retryJobCommand(id, o));

  return program;
}
