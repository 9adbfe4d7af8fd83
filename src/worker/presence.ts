import { hostname } from "node:os";
import type { Backend } from "../backend/backend.js";
import type { Logger } from "../observability/logger.js";

/** How often a worker refreshes its row: a worker is shown alive while its row is younger than {@link PRESENCE_ALIVE_MS}. */
export const PRESENCE_INTERVAL_MS = 5_000;
/** A worker whose row is older than this is not listed (it stopped refreshing: killed, hung or cut off). */
export const PRESENCE_ALIVE_MS = 3 * PRESENCE_INTERVAL_MS;
/** Rows older than this are deleted by any worker's refresh. */
const PRESENCE_STALE_MS = 10 * 60_000;

/**
 * A worker process's row in the workers table: written at start, refreshed
 * every few seconds, removed at stop. Only for display (who is alive, what
 * it runs): leases, not this row, decide whether a job is rescued, so a
 * failed refresh is logged and retried at the next tick, never fatal.
 */
export class WorkerPresence {
  private timer: NodeJS.Timeout | null = null;
  private beating: Promise<void> = Promise.resolve();
  private readonly startedAt = Date.now();

  constructor(
    private readonly backend: Backend,
    private readonly logger: Logger,
    private readonly id: string,
    private readonly queues: () => { concurrency: number; queue: string }[],
  ) {}

  start(): void {
    this.beat();
    this.timer = setInterval(() => this.beat(), PRESENCE_INTERVAL_MS);
    this.timer.unref();
  }

  /** Stops refreshing and removes the row. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.beating;
    await this.backend.workerGone({ id: this.id }).catch((error: unknown) => this.logger.warn({ err: error }, "could not remove the worker's row"));
  }

  private beat(): void {
    this.beating = this.beating.then(() =>
      this.backend
        .workerBeat({
          staleMs: PRESENCE_STALE_MS,
          worker: { host: hostname(), id: this.id, pid: process.pid, queues: this.queues(), startedAt: this.startedAt },
        })
        .catch((error: unknown) => this.logger.warn({ err: error }, "could not refresh the worker's row")),
    );
  }
}
