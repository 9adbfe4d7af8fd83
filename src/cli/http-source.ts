import { setTimeout as sleep } from "node:timers/promises";
import { FINISHED_STATES, type EnqueuedJob, type JobView } from "../index.js";
import { CliError } from "./cli-error.js";
import type { EnqueueRequest, JobListQuery, JobPage, JobSnapshot, JobsSource, QueuePauseState, QueueSummary } from "./source.js";
import { parseEventStream } from "./sse.js";

/** A request that gets no answer in this time fails; streams only wait this long for their headers. */
const REQUEST_TIMEOUT_MS = 30_000;
/** A stream that ends before its job finishes (server restart, proxy timeout) is opened again, at most this many times in a row. */
const MAX_RECONNECTS = 5;

const FINISHED: ReadonlySet<string> = new Set(FINISHED_STATES);

/** An error answered by the server: `{ error: { code, message } }` and the HTTP status. */
export class ServerError extends CliError {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string | null,
  ) {
    super(message);
    this.name = "ServerError";
  }
}

/** The CLI's jobs, through an Offload server's HTTP API (`/api/...`), with a bearer token. */
export class HttpSource implements JobsSource {
  constructor(
    private readonly base: URL,
    private readonly token: string | null,
  ) {}

  get description(): string {
    return this.base.href.replace(/\/$/, "");
  }

  cancel(id: string): Promise<JobView> {
    return this.request("POST", `api/jobs/${encodeURIComponent(id)}/cancel`);
  }

  async close(): Promise<void> {}

  enqueue(request: EnqueueRequest): Promise<EnqueuedJob> {
    return this.request("POST", "api/jobs", request);
  }

  getJob(id: string): Promise<JobView> {
    return this.request("GET", `api/jobs/${encodeURIComponent(id)}`);
  }

  listJobs(query: JobListQuery): Promise<JobPage> {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query)) if (value !== undefined) params.set(key, String(value));
    return this.request("GET", `api/jobs?${params}`);
  }

  pauseQueue(name: string): Promise<QueuePauseState> {
    return this.request("POST", `api/queues/${encodeURIComponent(name)}/pause`);
  }

  async queues(): Promise<QueueSummary[]> {
    return (await this.request<{ items: QueueSummary[] }>("GET", "api/queues")).items;
  }

  resumeQueue(name: string): Promise<QueuePauseState> {
    return this.request("POST", `api/queues/${encodeURIComponent(name)}/resume`);
  }

  retry(id: string): Promise<JobView> {
    return this.request("POST", `api/jobs/${encodeURIComponent(id)}/retry`);
  }

  /**
   * Streams `GET /api/jobs/:id/events`. Each event's JSON may be the whole
   * job or only what changed; the fields a progress bar needs are merged
   * into the snapshot. The finished job is read whole at the end, for its
   * result or error.
   */
  async watch(id: string, onChange: (job: JobSnapshot) => void, signal: AbortSignal): Promise<JobView> {
    let job = await this.getJob(id);
    let snapshot: JobSnapshot = pickSnapshot(job);
    let shown = JSON.stringify(snapshot);
    onChange(snapshot);
    let reconnects = 0;
    while (!FINISHED.has(snapshot.status)) {
      // One controller per stream: aborted when watching stops, and once the stream is done with, so its connection closes.
      const stream = new AbortController();
      const onAbort = () => stream.abort(signal.reason);
      signal.addEventListener("abort", onAbort, { once: true });
      let received = false;
      try {
        const response = await this.send("GET", `api/jobs/${encodeURIComponent(id)}/events`, undefined, stream.signal, "text/event-stream");
        if (!response.body) throw new CliError(`${this.description} answered the event stream of job ${id} without a body`);
        for await (const event of parseEventStream(response.body as unknown as AsyncIterable<Uint8Array>)) {
          const data = parseJson(event.data);
          if (!isObject(data)) continue;
          received = true;
          snapshot = mergeSnapshot(snapshot, isObject(data.job) ? data.job : data);
          const key = JSON.stringify(snapshot);
          if (key !== shown) {
            shown = key;
            onChange(snapshot);
          }
          if (FINISHED.has(snapshot.status)) break;
        }
      } catch (error) {
        // A connection cut mid-stream is handled as an early end: read the job, then reconnect.
        signal.throwIfAborted();
        if (!(error instanceof TypeError)) throw error;
      } finally {
        signal.removeEventListener("abort", onAbort);
        stream.abort();
      }
      signal.throwIfAborted();
      if (FINISHED.has(snapshot.status)) break;
      // The stream ended early: the job may have finished meanwhile.
      job = await this.getJob(id);
      snapshot = pickSnapshot(job);
      if (JSON.stringify(snapshot) !== shown) {
        shown = JSON.stringify(snapshot);
        onChange(snapshot);
      }
      if (FINISHED.has(snapshot.status)) return job;
      reconnects = received ? 0 : reconnects + 1;
      if (reconnects > MAX_RECONNECTS) throw new CliError(`The event stream of job ${id} at ${this.description} keeps closing without news; the job is still ${snapshot.status}`);
      await sleep(250 * reconnects, undefined, { signal });
    }
    return this.getJob(id);
  }

  /** Sends a JSON request and returns the parsed JSON answer; errors become {@link ServerError}s with the server's message. */
  private async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await this.send(method, path, body);
    const text = await response.text();
    const parsed = parseJson(text);
    if (parsed === undefined) throw new CliError(`${this.description} answered ${method} /${path} with something other than JSON (HTTP ${response.status})`);
    return parsed as T;
  }

  /** Sends a request and returns a successful response; a failure status throws the server's error. */
  private async send(method: string, path: string, body?: unknown, signal?: AbortSignal, accept = "application/json"): Promise<Response> {
    const headers: Record<string, string> = { accept };
    if (this.token !== null) headers.authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers["content-type"] = "application/json";
    // A stream may last as long as its job; only the wait for its headers is limited.
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(new Error(`no answer within ${REQUEST_TIMEOUT_MS / 1_000} s`)), REQUEST_TIMEOUT_MS);
    const onAbort = () => timeout.abort(signal?.reason);
    signal?.addEventListener("abort", onAbort, { once: true });
    const url = new URL(path, this.base);
    let response: Response;
    try {
      response = await fetch(url, { body: body === undefined ? undefined : JSON.stringify(body), headers, method, signal: timeout.signal });
    } catch (error) {
      signal?.throwIfAborted();
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      const reason = timeout.signal.aborted ? (timeout.signal.reason as Error).message : (cause?.code ?? cause?.message ?? (error as Error).message);
      throw new CliError(`Cannot reach the Offload server at ${this.description}: ${reason}`, 1, { cause: error });
    } finally {
      // The abort listener stays: it must also end a stream whose body is still being read.
      clearTimeout(timer);
    }
    if (response.ok) return response;
    const answer = parseJson(await response.text().catch(() => ""));
    const error = isObject(answer) && isObject(answer.error) ? answer.error : null;
    const message = error && typeof error.message === "string" ? error.message : `${method} ${url.pathname} answered HTTP ${response.status} ${response.statusText}`;
    throw new ServerError(message, response.status, error && typeof error.code === "string" ? error.code : null);
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function pickSnapshot(job: JobView): JobSnapshot {
  return { attempt: job.attempt, id: job.id, maxAttempts: job.maxAttempts, progress: job.progress, status: job.status, type: job.type };
}

/** Takes the fields of an event that a snapshot has, when they have the right type. */
function mergeSnapshot(snapshot: JobSnapshot, data: Record<string, unknown>): JobSnapshot {
  const next = { ...snapshot };
  if (typeof data.status === "string") next.status = data.status as JobSnapshot["status"];
  if (typeof data.attempt === "number") next.attempt = data.attempt;
  if (typeof data.maxAttempts === "number") next.maxAttempts = data.maxAttempts;
  if (isObject(data.progress)) next.progress = { ...snapshot.progress, ...(data.progress as Partial<JobSnapshot["progress"]>) };
  return next;
}
