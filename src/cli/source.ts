import type { QueueSummary } from "../client/queue-controls.js";
import type { EnqueuedJob, JobState, JobView, Offload } from "../index.js";
import { CliError } from "./cli-error.js";
import { DirectSource } from "./direct-source.js";
import { HttpSource } from "./http-source.js";

/** A page of `jobs list`: newest first, and the cursor of the next page. */
export interface JobPage {
  items: JobView[];
  nextCursor: string | null;
}

/** Filters and paging of `jobs list`. */
export interface JobListQuery {
  cursor?: string;
  limit: number;
  owner?: string;
  queue?: string;
  status?: JobState;
  type?: string;
}

/** What `offload enqueue` sends: the fields of `POST /api/jobs`. */
export interface EnqueueRequest {
  attempts?: number;
  /** Milliseconds. */
  delay?: number;
  owner?: string;
  payload: unknown;
  priority?: number;
  /** ISO 8601 with a zone. */
  runAt?: string;
  /** Milliseconds. */
  timeout?: number;
  type: string;
  uniqueKey?: string;
}

/** One queue as `offload queues` shows it: the `Offload.queueStats()` item, also the `GET /api/queues` item. */
export type { QueueSummary };

/** A queue after `pause` or `resume`: the body of `POST /api/queues/:name/pause|resume`. */
export interface QueuePauseState {
  paused: boolean;
  /** When the pause began (ISO 8601), or null. */
  pausedAt: string | null;
  queue: string;
}

/** What `watch` reports as a job moves: enough for a progress bar. */
export type JobSnapshot = Pick<JobView, "attempt" | "id" | "maxAttempts" | "progress" | "status" | "type">;

/**
 * Where the CLI's job commands get their data: the database itself
 * (`DirectSource`, through the `Offload` client) or an Offload server over
 * HTTP (`HttpSource`). Each command is written once against this.
 */
export interface JobsSource {
  /** `sqlite:./data/offload.db (/abs/path)` or `http://host:3000`, for messages. */
  readonly description: string;
  cancel(id: string): Promise<JobView>;
  close(): Promise<void>;
  enqueue(request: EnqueueRequest): Promise<EnqueuedJob>;
  /** Throws `OFFLOAD_ERR_JOB_NOT_FOUND` (or the server's 404) for an unknown id. */
  getJob(id: string): Promise<JobView>;
  listJobs(query: JobListQuery): Promise<JobPage>;
  pauseQueue(name: string): Promise<QueuePauseState>;
  queues(): Promise<QueueSummary[]>;
  resumeQueue(name: string): Promise<QueuePauseState>;
  retry(id: string): Promise<JobView>;
  /**
   * Calls `onChange` with the job's state at once and on every change of
   * status or progress, and resolves with the whole job once it is finished.
   * Rejects once `signal` aborts.
   */
  watch(id: string, onChange: (job: JobSnapshot) => void, signal: AbortSignal): Promise<JobView>;
}

/** Options every job command takes: where the jobs are. */
export interface SourceOptions {
  database?: string;
  token?: string;
  url?: string;
}

/** Where to connect, resolved from options and environment. */
export type SourceTarget = { database: string | undefined; kind: "direct" } | { kind: "http"; token: string | null; url: URL };

/**
 * Picks the mode: `--url` (else env `OFFLOAD_URL`, unless `--database` is
 * given) talks to a server, with `--token` (else env `OFFLOAD_TOKEN`);
 * otherwise the database is opened directly. Contradictory flags are bad
 * arguments (exit code 2).
 */
export function resolveTarget(options: SourceOptions, env: NodeJS.ProcessEnv = process.env): SourceTarget {
  if (options.url !== undefined && options.database !== undefined) {
    throw new CliError("--url and --database exclude each other: give the server's URL or the database's, not both", 2);
  }
  const rawUrl = options.url ?? (options.database === undefined && env.OFFLOAD_URL ? env.OFFLOAD_URL : undefined);
  if (rawUrl === undefined) {
    if (options.token !== undefined) throw new CliError("--token needs --url (or env OFFLOAD_URL): a token is for a server, not for a database", 2);
    return { database: options.database, kind: "direct" };
  }
  const from = options.url === undefined ? "env OFFLOAD_URL" : "--url";
  const url = parseServerUrl(rawUrl, from);
  const token = options.token ?? (env.OFFLOAD_TOKEN || null);
  if (token !== null && !/^[\x21-\x7e]{1,1000}$/.test(token)) {
    throw new CliError(`${options.token === undefined ? "env OFFLOAD_TOKEN" : "--token"}: expected 1 to 1000 printable characters without spaces`, 2);
  }
  return { kind: "http", token, url };
}

/** `http://host:3000` or `https://host/prefix`: the base the `/api/...` routes hang from. */
export function parseServerUrl(value: string, from = "--url"): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new CliError(`${from}: expected a URL such as http://127.0.0.1:3000, got ${JSON.stringify(value)}`, 2);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new CliError(`${from}: expected an http:// or https:// URL, got ${JSON.stringify(value)}`, 2);
  }
  if (url.username || url.password) throw new CliError(`${from}: put the token in --token or env OFFLOAD_TOKEN, not in the URL`, 2);
  if (url.search || url.hash) throw new CliError(`${from}: expected a URL without ?query or #fragment, got ${JSON.stringify(value)}`, 2);
  if (!url.pathname.endsWith("/")) url.pathname += "/";
  return url;
}

/**
 * Opens the source the options name, runs `task` with it, and closes it.
 * `defineJobs` runs on the direct mode's Offload instance first (enqueue
 * needs the job types to validate payloads); a server knows its own.
 */
export async function withSource<T>(options: SourceOptions, task: (source: JobsSource) => Promise<T>, defineJobs?: (offload: Offload) => Promise<void>): Promise<T> {
  const target = resolveTarget(options);
  const source: JobsSource = target.kind === "http" ? new HttpSource(target.url, target.token) : await DirectSource.open(target.database, defineJobs);
  try {
    return await task(source);
  } finally {
    await source.close();
  }
}
