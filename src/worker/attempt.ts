import type { StandardSchemaV1 } from "@standard-schema/spec";
import type { ClaimedJob, ClaimedJobRecord, JobAck, JobError } from "../backend/types.js";
import { PermanentError } from "../errors.js";
import { backoffDelay } from "../job/backoff.js";
import type { JobContext, JobTypeDefinition } from "../job/definition.js";
import { validatePayload } from "../job/definition.js";
import { mergeProgress, parseProgressUpdate, type JobProgress, type ProgressUpdate } from "../job/progress.js";
import { AttemptAbortedError, toJobError, type AbortKind } from "./abort-reasons.js";

/** What the worker hears from a running attempt. */
export interface AttemptHooks {
  /** The handler returned or threw, after the outcome: its slot is free. */
  onHandlerSettled(attempt: Attempt): void;
  /** The attempt's outcome is known: an ack to write, or null when the lease was lost (write nothing). */
  onOutcome(attempt: Attempt, ack: JobAck | null): void;
  /** A progress report was merged; the worker coalesces the write. */
  onProgress(attempt: Attempt): void;
}

/**
 * One attempt of one job: its signal, its timeout, its progress and the
 * outcome that becomes the ack. The outcome is settled as soon as the
 * handler returns or the signal aborts, whichever is first, so a handler that
 * ignores its signal cannot hold the job past a cancel, timeout or shutdown;
 * `onHandlerSettled` tells when the handler itself is done (its slot is held
 * until then, so concurrency limits stay true).
 *
 * Driven by callbacks rather than promise chains: at tens of thousands of
 * jobs a second, each promise an attempt allocates costs measurable time.
 */
export class Attempt {
  readonly id: string;
  readonly leaseToken: string;
  /** Local estimate of the lease's expiry, from the last successful claim or heartbeat. */
  leaseExpiresAt: number;
  progress: JobProgress;
  progressDirty = false;
  /** Set once the outcome is known; no more progress writes after it. */
  outcomeKnown = false;
  handlerSettled = false;
  /** True once start() ran: a job claimed ahead may end (cancelled, released) without ever starting. */
  private handlerStarted = false;

  get started(): boolean {
    return this.handlerStarted;
  }
  /** When the handler started (until then, when the job was claimed). */
  startedAt = Date.now();
  /** Milliseconds from start to outcome. */
  durationMs = 0;
  /** True once this attempt reported progress: its final value then rides on the ack, whatever became of earlier writes. */
  private progressReported = false;
  /** Created on first use of `ctx.signal`: most handlers never read it, and an AbortController per job costs ~3% of throughput. */
  private controller: AbortController | null = null;
  private abortReason: AttemptAbortedError | null = null;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly claimed: ClaimedJob,
    private readonly definition: JobTypeDefinition | undefined,
    private readonly hooks: AttemptHooks,
    leaseMs: number,
  ) {
    this.id = claimed.id;
    this.leaseToken = claimed.leaseToken;
    this.leaseExpiresAt = this.startedAt + leaseMs;
    this.progress = claimed.job.progress;
  }

  get job(): ClaimedJobRecord {
    return this.claimed.job;
  }

  /** The handler's signal. */
  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.abortReason) this.controller.abort(this.abortReason);
    }
    return this.controller.signal;
  }

  /** Aborts the handler's signal and, unless the outcome is already known, settles it from the reason. */
  abort(kind: AbortKind, message: string): void {
    if (this.abortReason) return;
    this.abortReason = new AttemptAbortedError(kind, message);
    this.controller?.abort(this.abortReason);
    if (!this.outcomeKnown) this.settle(this.fromAbort(this.abortReason, undefined));
  }

  /** Validates the payload, then runs the handler. Never throws: every path ends in `onOutcome`. */
  start(): void {
    this.startedAt = Date.now();
    this.handlerStarted = true;
    const { job } = this.claimed;
    const definition = this.definition;
    if (!definition) {
      const error = toJobError(new Error(`No handler for job type "${job.type}" in this worker`), job.attempt, Date.now(), "unknown_type");
      this.settle(this.failure(error, false));
      this.handlerDone();
      return;
    }
    // Standard Schema validators may be async; zod's and most others' are not, so skip the promise when we can.
    let validated: StandardSchemaV1.Result<unknown> | Promise<StandardSchemaV1.Result<unknown>>;
    try {
      validated = definition.schema["~standard"].validate(job.payload);
    } catch (error) {
      this.rejectPayload(toJobError(error, job.attempt, Date.now(), "invalid_payload"));
      return;
    }
    if (validated instanceof Promise) {
      validatePayload(definition.schema, job.payload).then(
        (result) => ("issues" in result ? this.rejectPayload(this.payloadError(result.issues)) : this.runHandler(definition, result.value)),
        (error: unknown) => this.rejectPayload(toJobError(error, job.attempt, Date.now(), "invalid_payload")),
      );
      return;
    }
    if (validated.issues) {
      const issues = validated.issues.map((issue) => ({
        message: issue.message,
        path: ["payload", ...(issue.path ?? []).map((p) => String(typeof p === "object" ? p.key : p))].join("."),
      }));
      this.rejectPayload(this.payloadError(issues));
      return;
    }
    this.runHandler(definition, validated.value);
  }

  private payloadError(issues: { message: string; path: string }[]): JobError {
    const { job } = this.claimed;
    const message = `Payload no longer matches the schema of "${job.type}": ${issues.map((i) => `${i.path}: ${i.message}`).join("; ")}`;
    return toJobError(new Error(message), job.attempt, Date.now(), "invalid_payload");
  }

  private rejectPayload(error: JobError): void {
    if (!this.outcomeKnown) this.settle(this.failure(error, true));
    this.handlerDone();
  }

  private runHandler(definition: JobTypeDefinition, payload: unknown): void {
    if (this.outcomeKnown) {
      // Aborted (e.g. shutdown) while an async validator ran: the handler never starts.
      this.handlerDone();
      return;
    }
    const { job } = this.claimed;
    if (job.timeoutMs !== null) {
      this.timer = setTimeout(() => this.abort("timeout", `Attempt ${job.attempt} timed out after ${job.timeoutMs}ms`), job.timeoutMs);
    }
    let returned: unknown;
    try {
      returned = definition.handler(payload, this.context());
    } catch (error) {
      this.onHandlerError(error);
      return;
    }
    if (returned !== null && typeof returned === "object" && typeof (returned as PromiseLike<unknown>).then === "function") {
      try {
        (returned as PromiseLike<unknown>).then(
          (value) => this.onHandlerValue(value),
          (error: unknown) => this.onHandlerError(error),
        );
      } catch (error) {
        // A thenable whose then() throws: as if the handler had thrown.
        this.onHandlerError(error);
      }
    } else {
      this.onHandlerValue(returned);
    }
  }

  private onHandlerValue(value: unknown): void {
    if (!this.outcomeKnown) {
      let resultJson: string | undefined;
      let problem: string | null = null;
      try {
        resultJson = JSON.stringify(value ?? null);
        // A function, a symbol, or a toJSON() returning undefined serialises to nothing at all.
        if (resultJson === undefined) problem = `it serialises to nothing (a ${typeof value}, or a toJSON() returning undefined)`;
      } catch (error) {
        problem = (error as Error).message;
      }
      if (resultJson !== undefined && problem === null) {
        this.settle({ id: this.id, leaseToken: this.leaseToken, outcome: "completed", resultJson });
      } else {
        const reason = new Error(`The handler's result is not JSON-serialisable: ${problem}`);
        this.settle(this.failure(toJobError(reason, this.claimed.job.attempt, Date.now(), "invalid_result"), true));
      }
    }
    this.handlerDone();
  }

  private onHandlerError(error: unknown): void {
    if (!this.outcomeKnown) {
      if (this.abortReason) this.settle(this.fromAbort(this.abortReason, error));
      else this.settle(this.failure(toJobError(error, this.claimed.job.attempt, Date.now()), error instanceof PermanentError, error));
    }
    this.handlerDone();
  }

  private handlerDone(): void {
    if (this.handlerSettled) return;
    this.handlerSettled = true;
    this.hooks.onHandlerSettled(this);
  }

  private context(): JobContext {
    return new AttemptContext(this);
  }

  /** Validates a progress report (throws on bad values) and merges it, unless the outcome is already known. */
  reportProgress(update: ProgressUpdate): void {
    const parsed = parseProgressUpdate(update);
    if (this.outcomeKnown) return;
    this.progress = mergeProgress(this.progress, parsed);
    this.progressDirty = true;
    this.progressReported = true;
    this.hooks.onProgress(this);
  }

  private fromAbort(reason: AttemptAbortedError, thrown: unknown): JobAck | null {
    const { job } = this.claimed;
    switch (reason.kind) {
      case "lease_lost":
        return null;
      case "shutdown":
        return { id: this.id, leaseToken: this.leaseToken, outcome: "released" };
      case "cancelled":
        return { error: toJobError(reason, job.attempt, Date.now(), "cancelled"), id: this.id, leaseToken: this.leaseToken, outcome: "cancelled" };
      case "timeout": {
        const error = toJobError(reason, job.attempt, Date.now(), "timeout");
        if (thrown instanceof Error && thrown !== reason && thrown.stack) error.stack = thrown.stack.slice(0, 20_000);
        return this.failure(error, false, reason);
      }
    }
  }

  /** `thrown` is what the handler threw, handed to a backoff function so it can tell error classes apart. */
  private failure(error: JobError, permanent: boolean, thrown: unknown = error): JobAck {
    const { job } = this.claimed;
    if (permanent || job.attempt >= job.maxAttempts) {
      return { error, id: this.id, leaseToken: this.leaseToken, outcome: "failed" };
    }
    const delay = this.definition ? backoffDelay(this.definition.options.backoff, job.attempt, thrown) : 1_000 * 2 ** job.attempt;
    return { delayMs: delay, error, id: this.id, leaseToken: this.leaseToken, outcome: "retry" };
  }

  private settle(ack: JobAck | null): void {
    this.outcomeKnown = true;
    // The error remembers when its attempt began: the job's startedAt is overwritten by the next attempt.
    if (ack && "error" in ack && ack.error) ack.error.startedAt = this.handlerStarted ? this.startedAt : null;
    this.durationMs = Date.now() - this.startedAt;
    if (this.timer) clearTimeout(this.timer);
    if (ack && this.progressReported) {
      ack.progress = this.progress;
      this.progressDirty = false;
    }
    this.hooks.onOutcome(this, ack);
  }
}

/**
 * The context a handler receives. A class rather than an object literal with
 * a getter and closures: one is made per attempt, and the literal cost about
 * 2 % of a worker's time on no-op jobs. `progress` stays an own arrow
 * function, so `const { progress } = ctx` keeps working.
 */
class AttemptContext implements JobContext {
  readonly attempt: number;
  readonly id: string;
  readonly maxAttempts: number;
  readonly owner: string | null;
  readonly queue: string;
  readonly type: string;

  readonly #run: Attempt;

  constructor(run: Attempt) {
    this.#run = run;
    const { job } = run.claimed;
    this.attempt = job.attempt;
    this.id = job.id;
    this.maxAttempts = job.maxAttempts;
    this.owner = job.owner;
    this.queue = job.queue;
    this.type = job.type;
  }

  readonly progress = (update: ProgressUpdate): Promise<void> => {
    try {
      this.#run.reportProgress(update);
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(error);
    }
  };

  get signal(): AbortSignal {
    return this.#run.signal;
  }
}
