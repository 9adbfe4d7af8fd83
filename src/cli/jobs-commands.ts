import { migrationScript } from "../backends/open-backend.js";
import { createOffload, type JobState, type JobView } from "../index.js";
import { describeDatabase, describeError, describeProgress, formatPercent, jobDetail, localDateTime, table, truncate } from "./format.js";
import { withSource, type SourceOptions } from "./source.js";

/** Options every command that opens the database takes. */
export interface DatabaseOption {
  database?: string;
}

export interface ListOptions extends SourceOptions {
  cursor?: string;
  json?: boolean;
  limit?: number;
  owner?: string;
  queue?: string;
  status?: JobState;
  type?: string;
}

const print = (text: string) => void process.stdout.write(`${text}\n`);

/** `offload jobs list`: newest first, a table or `{ items, nextCursor }` as JSON. */
export function listJobsCommand(options: ListOptions): Promise<void> {
  return withSource(options, async (source) => {
    const page = await source.listJobs({
      ...(options.cursor === undefined ? {} : { cursor: options.cursor }),
      limit: options.limit ?? 20,
      ...(options.owner === undefined ? {} : { owner: options.owner }),
      ...(options.queue === undefined ? {} : { queue: options.queue }),
      ...(options.status === undefined ? {} : { status: options.status }),
      ...(options.type === undefined ? {} : { type: options.type }),
    });
    if (options.json) {
      print(JSON.stringify(page, null, 2));
      return;
    }
    if (page.items.length === 0) {
      print(options.cursor ? "No more jobs." : "No jobs match.");
      return;
    }
    const rows = page.items.map((job) => [
      job.id,
      job.type,
      job.queue,
      job.status,
      `${job.attempt}/${job.maxAttempts}`,
      job.progress.percent === null ? "" : formatPercent(job.progress.percent),
      localDateTime(job.createdAt),
      truncate(jobDetail(job), 60),
    ]);
    print(table(["ID", "TYPE", "QUEUE", "STATUS", "ATTEMPT", "PROGRESS", "CREATED", "DETAIL"], rows));
    if (page.nextCursor) print(`More: add --cursor ${page.nextCursor}`);
  });
}

/** `offload jobs show <id>`: every field, or the JobView as JSON. */
export function showJobCommand(id: string, options: SourceOptions & { json?: boolean }): Promise<void> {
  return withSource(options, async (source) => {
    const job = await source.getJob(id);
    print(options.json ? JSON.stringify(job, null, 2) : describeJob(job));
  });
}

const LABEL_WIDTH = 12;

/** A job as labelled lines, for people. Stacks are left to `--json`. */
export function describeJob(job: JobView): string {
  const rows: [string, string][] = [
    ["id", job.id],
    ["type", job.type],
    ["queue", job.queue],
    ["status", job.cancelRequested && job.status === "running" ? "running (cancel requested)" : job.status],
    ["priority", String(job.priority)],
    ["attempt", `${job.attempt} of ${job.maxAttempts}`],
    ["progress", describeProgress(job.progress) || "—"],
    ["payload", json(job.payload)],
    ["result", job.result === null ? "—" : json(job.result)],
    ["error", job.error ? describeError(job.error) : "—"],
    ["errors", job.errors.length === 0 ? "—" : job.errors.map((e) => `attempt ${e.attempt}, ${localDateTime(e.at)}: ${describeError(e)}`).join("\n")],
    ["owner", job.owner ?? "—"],
    ["unique key", job.uniqueKey ?? "—"],
    ["created", localDateTime(job.createdAt)],
    ["run at", localDateTime(job.runAt)],
    ["started", localDateTime(job.startedAt)],
    ["finished", localDateTime(job.finishedAt)],
    ["updated", localDateTime(job.updatedAt)],
  ];
  const indent = " ".repeat(LABEL_WIDTH + 2);
  return rows.map(([label, value]) => `${label.padEnd(LABEL_WIDTH)}  ${value.split("\n").join(`\n${indent}`)}`).join("\n");
}

function json(value: unknown): string {
  const compact = JSON.stringify(value) ?? "null";
  return compact.length <= 100 ? compact : JSON.stringify(value, null, 2);
}

/** `offload jobs cancel <id>`. */
export function cancelJobCommand(id: string, options: SourceOptions & { json?: boolean }): Promise<void> {
  return withSource(options, async (source) => {
    const job = await source.cancel(id);
    if (options.json) print(JSON.stringify(job, null, 2));
    else if (job.status === "cancelled") print(`Cancelled ${job.id} (${job.type}).`);
    else print(`Cancellation requested for ${job.id} (${job.type}): it is running. Its worker aborts it at its next heartbeat (or, if that worker is gone, once its lease expires) and it ends cancelled.`);
  });
}

/** `offload jobs retry <id>`. */
export function retryJobCommand(id: string, options: SourceOptions & { json?: boolean }): Promise<void> {
  return withSource(options, async (source) => {
    const job = await source.retry(id);
    if (options.json) print(JSON.stringify(job, null, 2));
    else print(`Queued ${job.id} (${job.type}) again, with a fresh set of ${job.maxAttempts} attempts.`);
  });
}

/** `offload migrate`: applies pending migrations and prints the schema version; `--print` only prints their SQL. */
export async function migrateCommand(options: DatabaseOption & { json?: boolean; print?: boolean }): Promise<void> {
  // createOffload resolves the database the same way every command does (option, env, default).
  const offload = createOffload({ logger: false, ...(options.database === undefined ? {} : { database: options.database }) });
  const { database } = offload;
  if (options.print) {
    // Connects to nothing: the script is what `migrate` runs on an empty database.
    process.stdout.write(await migrationScript(database));
    return;
  }
  try {
    const status = await offload.migrate();
    if (options.json) print(JSON.stringify({ database, ...status }));
    else if (status.applied.length === 0) print(`Database ${describeDatabase(database)} is up to date: schema version ${status.version}.`);
    else print(`Database ${describeDatabase(database)}: applied migration${status.applied.length === 1 ? "" : "s"} ${status.applied.join(", ")}; schema version ${status.version}.`);
  } finally {
    await offload.close();
  }
}
