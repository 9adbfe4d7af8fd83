import { EventEmitter } from "node:events";
import type { JobProgress } from "../job/progress.js";
import type { JobErrorView, JobView } from "../job/view.js";

/** Fields every job event carries. */
export interface JobEventBase {
  id: string;
  queue: string;
  type: string;
}

/**
 * Lifecycle events, emitted in the process where the change happened: the
 * enqueuing process for `job:enqueued`, the worker's process for the rest (and
 * the process that cancels a job that had not started).
 */
export interface OffloadEvents {
  "job:cancelled": JobEventBase & { attempt: number };
  "job:completed": JobEventBase & { attempt: number; durationMs: number; result: unknown };
  "job:enqueued": JobEventBase & { job: JobView };
  /**
   * The last attempt failed, or a PermanentError was thrown. `durationMs` is
   * the attempt's run time; absent when the rescuer failed a job whose worker vanished.
   */
  "job:failed": JobEventBase & { attempt: number; durationMs?: number; error: JobErrorView };
  "job:progress": JobEventBase & { attempt: number; progress: JobProgress };
  /** An attempt failed after running `durationMs`, and another is scheduled at `runAt` (ISO 8601). */
  "job:retrying": JobEventBase & { attempt: number; durationMs: number; error: JobErrorView; runAt: string };
  /** `runAt` (ISO 8601) is when the job became due: enqueued, or its delay or backoff over. */
  "job:started": JobEventBase & { attempt: number; maxAttempts: number; runAt: string; workerId: string };
}

export type OffloadEventName = keyof OffloadEvents;

/** A typed emitter. Listener errors are caught and logged so they never break the worker. */
export class OffloadEventBus {
  private readonly emitter = new EventEmitter();

  constructor(private readonly onListenerError: (event: string, error: unknown) => void) {
    this.emitter.setMaxListeners(0);
  }

  on<E extends OffloadEventName>(event: E, listener: (payload: OffloadEvents[E]) => void): void {
    this.emitter.on(event, listener);
  }

  off<E extends OffloadEventName>(event: E, listener: (payload: OffloadEvents[E]) => void): void {
    this.emitter.off(event, listener);
  }

  /** True when someone listens, so hot paths can skip building payloads. */
  has(event: OffloadEventName): boolean {
    return this.emitter.listenerCount(event) > 0;
  }

  emit<E extends OffloadEventName>(event: E, payload: OffloadEvents[E]): void {
    const listeners = this.emitter.listeners(event);
    for (const listener of listeners) {
      try {
        (listener as (p: OffloadEvents[E]) => void)(payload);
      } catch (error) {
        this.onListenerError(event, error);
      }
    }
  }
}
