import type { Backend } from "../backend/backend.js";
import type { JobAck, JobAckResult } from "../backend/types.js";
import { OffloadError } from "../errors.js";
import type { Logger } from "../observability/logger.js";
import type { Attempt } from "./attempt.js";

/** An attempt's outcome, waiting to be written. */
export interface PendingOutcome {
  ack: JobAck;
  attempt: Attempt;
}

export interface OutcomeWriterHooks {
  /** True when the claim loop is about to run and will write pending outcomes with its claim. */
  claimLoopWillTake(): boolean;
  /** An outcome given up on (stopping, database out of reach): its lease will expire and the sweeper re-run it. */
  onAbandoned(pending: PendingOutcome): void;
  /** An outcome's write committed: `result` says whether it applied or was fenced off. */
  onWritten(pending: PendingOutcome, result: JobAckResult): void;
}

/** Rows per write: one transaction stays short even after a long outage. */
const BATCH = 1_000;

/**
 * Outcome writes in flight at once. Each waits for its commit (a WAL flush on
 * PostgreSQL); a second one sends the outcomes gathered meanwhile instead of
 * holding them back until the first returns.
 */
export const MAX_FLUSHES = 2;

/** Longest pause between retries of a failed write. */
const MAX_RETRY_MS = 5_000;

/**
 * Batches attempt outcomes into as few transactions as possible. Most ride on
 * the claim loop's next claim (`take`, then `written` or `putBack`); the rest
 * (an outcome settled while the handler still holds its slot, or while the
 * loop is busy) are flushed on their own on the next turn of the event loop.
 * Failed writes are retried with a backoff until `drain` sets a deadline.
 */
export class OutcomeWriter {
  private pending: PendingOutcome[] = [];
  /** Writes in flight (at most {@link MAX_FLUSHES}): while one waits for its commit, the next batch is sent. */
  private readonly flushes = new Set<Promise<void>>();
  private scheduled = false;
  private giveUpAt = Infinity;

  /** `deleteCompleted`: completed jobs are deleted by their ack (worker option `prune.completed: 0`). */
  constructor(
    private readonly backend: Backend,
    private readonly logger: Logger,
    private readonly hooks: OutcomeWriterHooks,
    private readonly deleteCompleted = false,
  ) {}

  add(pending: PendingOutcome): void {
    this.pending.push(pending);
    this.flushSoon();
  }

  /** Takes up to a batch of outcomes for the caller to write with its claim; none while a flush is writing. */
  take(): PendingOutcome[] {
    return this.flushes.size > 0 ? [] : this.pending.splice(0, BATCH);
  }

  /** Reports outcomes the caller wrote. Never throws: the write has committed. */
  written(batch: readonly PendingOutcome[], results: readonly JobAckResult[]): void {
    for (let i = 0; i < batch.length; i++) {
      try {
        this.hooks.onWritten(batch[i]!, results[i]!);
      } catch (error) {
        this.logger.error({ err: error, jobId: batch[i]!.attempt.id }, "failed to report a written outcome");
      }
    }
  }

  /** Puts back outcomes whose write failed, at the head of the line, and flushes them on their own. */
  putBack(batch: readonly PendingOutcome[]): void {
    this.pending.unshift(...batch);
    this.flushSoon(true);
  }

  /**
   * Flushes on the next turn of the event loop, gathering every outcome of
   * this turn into one transaction. Unless `force`d, leaves them to the claim
   * loop when that is about to run.
   */
  flushSoon(force = false): void {
    if (this.scheduled || this.flushes.size >= MAX_FLUSHES || this.pending.length === 0) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (this.pending.length === 0 || this.flushes.size >= MAX_FLUSHES) return;
      if (!force && this.flushes.size === 0 && this.hooks.claimLoopWillTake()) return;
      const flush: Promise<void> = this.flush().finally(() => {
        this.flushes.delete(flush);
        this.flushSoon(true);
      });
      this.flushes.add(flush);
    });
  }

  /** Writes everything pending; writes still failing `giveUpAfterMs` from now are abandoned. */
  async drain(giveUpAfterMs: number): Promise<void> {
    this.giveUpAt = Date.now() + giveUpAfterMs;
    while (this.flushes.size > 0 || this.scheduled || this.pending.length > 0) {
      if (this.flushes.size > 0) await Promise.race(this.flushes);
      else {
        this.flushSoon(true);
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
  }

  private async flush(): Promise<void> {
    let retryMs = 0;
    while (this.pending.length > 0) {
      const batch = this.pending.splice(0, BATCH);
      let results: JobAckResult[];
      try {
        results = await this.backend.jobAckMany({ acks: batch.map((p) => p.ack), deleteCompleted: this.deleteCompleted });
      } catch (error) {
        if ((error instanceof OffloadError && error.code === "OFFLOAD_ERR_CLOSED") || Date.now() >= this.giveUpAt) {
          // The leases of these jobs run out and the sweeper of any worker puts them back
          // in their queue: at least once, nothing lost.
          for (const pending of batch) this.hooks.onAbandoned(pending);
          this.logger.error({ err: error, jobIds: batch.map((p) => p.attempt.id) }, "giving up writing job outcomes; the jobs will be rescued when their leases expire");
          continue;
        }
        this.pending.unshift(...batch);
        retryMs = Math.min(MAX_RETRY_MS, Math.max(100, retryMs * 2));
        this.logger.warn({ err: error, jobs: batch.length, retryInMs: retryMs }, "writing job outcomes failed; retrying");
        await new Promise((resolve) => setTimeout(resolve, retryMs));
        continue;
      }
      this.written(batch, results);
    }
  }
}
