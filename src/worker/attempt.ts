import type { ClaimedJob, JobAck, JobError } from "../backend/types.js";
import { PermanentError } from "../errors.js";
import { backoffDelay } from "../job/backoff.js";
import type { JobContext, JobTypeDefinition } from "../job/definition.js";
import { validatePayload } from "../job/definition.js";
import { mergeProgress, parseProgressUpdate, type JobProgress, type ProgressUpdate } from "../job/progress.js";
import { AttemptAbortedError, toJobError, type AbortKind } from "./abort-reasons.js";

/** What the worker hears from a running attempt. */
export interface AttemptHooks {
  /** A progress report was merged; the worker coalesces the write. */
  onProgress(attempt: Attempt): void;
}

/** Outcome of an attempt, before it is written: an ack, or nothing when the lease was lost. */
export type AttemptOutcome = { ack: JobAck; durationMs: number } | null;

/**
 * One attempt of one job: its signal, its timeout, its progress and the
 * outcome that becomes the ack. The outcome is settled as soon as the
 * handler returns or the signal aborts, whichever is first, so a handler that
 * ignores its signal cannot hold the job past a cancel, timeout or shutdown;
 * `handlerSettled` tells when the handler itself is done (its slot is held
 * until then, so concurrency limits stay true).
 */
export class Attempt {
  readonly id: string;
  readonly leaseToken: string;
  /** Local estimate of the lease's expiry, from the last successful claim or heartbeat. */
  leaseExpiresAt: number;
  progress: JobProgress;
  progressDirty = false;
  /** True once this attempt reported progress: its final value then rides on the ack, whatever became of earlier writes. */
  private progressReported = false;
  /** Set once the outcome is known; no more progress writes after it. */
  outcomeKnown = false;
  readonly startedAt = Date.now();
  handlerSettled: Promise<void> = Promise.resolve();
  /** Created on first use of `ctx.signal`: most handlers never read it, and an AbortController per job costs ~3% of throughput. */
  private controller: AbortController | null = null;
  private abortReason: AttemptAbortedError | null = null;
  private onAbort: (() => void) | null = null;

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

  get job() {
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

  abort(kind: AbortKind, message: string): void {
    if (this.abortReason) return;
    this.abortReason = new AttemptAbortedError(kind, message);
    this.controller?.abort(this.abortReason);
    this.onAbort?.();
  }

  /** Runs the handler and returns the ack to write (null: lease lost, write nothing). */
  async run(): Promise<AttemptOutcome> {
    const { job } = this.claimed;
    const definition = this.definition;
    if (!definition) {
      const error = toJobError(new Error(`No handler for job type "${job.type}" in this worker`), job.attempt, Date.now(), "unknown_type");
      return this.finish(this.failure(error, false));
    }
    const validated = await validatePayload(definition.schema, job.payload);
    if ("issues" in validated) {
      const message = `Payload no longer matches the schema of "${job.type}": ${validated.issues.map((i) => `${i.path}: ${i.message}`).join("; ")}`;
      return this.finish(this.failure(toJobError(new Error(message), job.attempt, Date.now(), "invalid_payload"), true));
    }

    let timer: NodeJS.Timeout | undefined;
    if (job.timeoutMs !== null) {
      timer = setTimeout(() => this.abort("timeout", `Attempt ${job.attempt} timed out after ${job.timeoutMs}ms`), job.timeoutMs);
    }
    const aborted = new Promise<{ aborted: true }>((resolve) => {
      if (this.abortReason) resolve({ aborted: true });
      else this.onAbort = () => resolve({ aborted: true });
    });
    let handler: Promise<{ value: unknown } | { error: unknown }>;
    try {
      handler = Promise.resolve(definition.handler(validated.value, this.context())).then(
        (value) => ({ value }),
        (error: unknown) => ({ error }),
      );
    } catch (error) {
      handler = Promise.resolve({ error });
    }
    this.handlerSettled = handler.then(() => undefined);
    const settled = await Promise.race([handler, aborted]);
    if (timer) clearTimeout(timer);

    if ("aborted" in settled || this.abortReason) return this.finish(this.fromAbort(this.abortReason!, "error" in settled ? settled.error : undefined));
    if ("error" in settled) {
      const permanent = settled.error instanceof PermanentError;
      return this.finish(this.failure(toJobError(settled.error, job.attempt, Date.now()), permanent, settled.error));
    }
    let resultJson: string;
    try {
      resultJson = JSON.stringify(settled.value ?? null);
    } catch (error) {
      const reason = new Error(`The handler's result is not JSON-serialisable: ${(error as Error).message}`);
      return this.finish(this.failure(toJobError(reason, job.attempt, Date.now(), "invalid_result"), true));
    }
    return this.finish({ id: this.id, leaseToken: this.leaseToken, outcome: "completed", resultJson });
  }

  private context(): JobContext {
    const { job } = this.claimed;
    const attempt = this;
    return {
      attempt: job.attempt,
      id: job.id,
      maxAttempts: job.maxAttempts,
      owner: job.owner,
      progress: (update: ProgressUpdate) => {
        try {
          const parsed = parseProgressUpdate(update);
          if (!this.outcomeKnown) {
            this.progress = mergeProgress(this.progress, parsed);
            this.progressDirty = true;
            this.progressReported = true;
            this.hooks.onProgress(this);
          }
          return Promise.resolve();
        } catch (error) {
          return Promise.reject(error);
        }
      },
      queue: job.queue,
      get signal() {
        return attempt.signal;
      },
      type: job.type,
    };
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

  private finish(ack: JobAck | null): AttemptOutcome {
    this.outcomeKnown = true;
    if (!ack) return null;
    if (this.progressReported) {
      ack.progress = this.progress;
      this.progressDirty = false;
    }
    return { ack, durationMs: Date.now() - this.startedAt };
  }
}
