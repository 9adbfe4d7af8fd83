import { formatDuration } from "../job/duration.js";
import type { JobProgress, Offload, OffloadEventName, OffloadEvents } from "../index.js";
import { clock, compactJson, describeError, describeProgress, painter, shortId, type Paint } from "./format.js";

/** Options of {@link ProgressThrottle}. */
export interface ThrottleOptions {
  /** Shortest gap between two progress lines of one job. Default 500 ms. */
  minGapMs?: number;
  /** After this long without a line, any change is printed even within the same 10 % step. Default 5 s. */
  quietMs?: number;
}

/** What {@link ProgressThrottle.offer} decides: print now, or look again at `retryAt` (epoch ms); `null`: nothing new. */
export type ThrottleDecision = { print: true } | { print: false; retryAt: number } | null;

/**
 * Decides which progress reports of a job become terminal lines. A handler
 * may report thousands of times a second; a person reads a line a second at
 * best. A line is printed when the percent reaches a new 10 % step or after
 * `quietMs` of other changes, and never within `minGapMs` of the previous one,
 * so a 30 s job with 50 reports prints about ten lines.
 */
export class ProgressThrottle {
  private readonly minGapMs: number;
  private readonly quietMs: number;
  private readonly last = new Map<string, { at: number; key: string; step: number | null }>();

  constructor(options: ThrottleOptions = {}) {
    this.minGapMs = options.minGapMs ?? 500;
    this.quietMs = options.quietMs ?? 5_000;
  }

  offer(id: string, progress: JobProgress, now: number): ThrottleDecision {
    const key = JSON.stringify(progress);
    const step = progress.percent === null ? null : Math.floor(progress.percent / 10);
    const last = this.last.get(id);
    if (last && last.key === key) return null;
    if (last) {
      const gap = now - last.at;
      if (gap < this.minGapMs) return { print: false, retryAt: last.at + this.minGapMs };
      if (step === last.step && gap < this.quietMs) return { print: false, retryAt: last.at + this.quietMs };
    }
    this.last.set(id, { at: now, key, step });
    return { print: true };
  }

  /** Forgets a job, so the first report of its next attempt prints at once. */
  forget(id: string): void {
    this.last.delete(id);
  }
}

/** Options of {@link ProgressPrinter}. */
export interface ProgressPrinterOptions extends ThrottleOptions {
  /** ANSI colours. Default off. */
  color?: boolean;
  /** The clock, injectable for tests. Default `Date.now`. */
  now?: () => number;
  /** Where lines go, one call per line without its newline. */
  write: (line: string) => void;
}

interface Tracked {
  maxAttempts: number | null;
  pending: JobProgress | null;
  timer: NodeJS.Timeout | null;
  timerAt: number;
  type: string;
}

/**
 * Prints one readable line per lifecycle event of the jobs this process
 * enqueues or runs: `14:02:03  demo.transcribe  0192…a1b2  ▮▮▮▮▮▯▯▯▯▯ 52%  26/50  …`.
 * Progress lines are throttled per job; the latest report is printed when
 * the throttle allows, unless the job finishes first.
 */
export class ProgressPrinter {
  private readonly throttle: ProgressThrottle;
  private readonly paint: Paint;
  private readonly now: () => number;
  private readonly jobs = new Map<string, Tracked>();
  /** Jobs this process has started and not yet seen finish or retry: id → type. */
  readonly running = new Map<string, string>();
  private typeWidth = 0;

  constructor(private readonly options: ProgressPrinterOptions) {
    this.throttle = new ProgressThrottle(options);
    this.paint = painter(options.color ?? false);
    this.now = options.now ?? Date.now;
  }

  /** Subscribes to `offload`'s events; returns a function that unsubscribes. */
  attach(offload: Offload): () => void {
    for (const name of offload.jobTypes.keys()) this.typeWidth = Math.max(this.typeWidth, name.length);
    const subscriptions: [OffloadEventName, (payload: never) => void][] = [];
    const on = <E extends OffloadEventName>(event: E, listener: (payload: OffloadEvents[E]) => void) => {
      offload.on(event, listener);
      subscriptions.push([event, listener as (payload: never) => void]);
    };
    on("job:enqueued", (e) => this.onEnqueued(e));
    on("job:started", (e) => this.onStarted(e));
    on("job:progress", (e) => this.onProgress(e));
    on("job:retrying", (e) => this.onRetrying(e));
    on("job:completed", (e) => this.onCompleted(e));
    on("job:failed", (e) => this.onFailed(e));
    on("job:cancelled", (e) => this.onCancelled(e));
    return () => {
      for (const [event, listener] of subscriptions) offload.off(event, listener as (payload: OffloadEvents[typeof event]) => void);
      for (const job of this.jobs.values()) if (job.timer) clearTimeout(job.timer);
    };
  }

  /** Prints a line about a job in the same columns as event lines. */
  line(type: string, id: string, text: string): void {
    this.typeWidth = Math.max(this.typeWidth, type.length);
    this.options.write(`${this.paint("dim", clock(this.now()))}  ${this.paint("cyan", type.padEnd(this.typeWidth))}  ${this.paint("dim", shortId(id))}  ${text}`);
  }

  onEnqueued(e: OffloadEvents["job:enqueued"]): void {
    const when = e.job.status === "scheduled" ? `, runs at ${clock(Date.parse(e.job.runAt))}` : "";
    this.line(e.type, e.id, `enqueued  ${e.id}  ${compactJson(e.job.payload, 60)}${when}`);
  }

  onStarted(e: OffloadEvents["job:started"]): void {
    this.running.set(e.id, e.type);
    const job = this.track(e.id, e.type);
    job.maxAttempts = e.maxAttempts;
    this.line(e.type, e.id, `${this.paint("bold", "started")}  attempt ${e.attempt}/${e.maxAttempts}`);
  }

  onProgress(e: OffloadEvents["job:progress"]): void {
    const job = this.track(e.id, e.type);
    job.pending = e.progress;
    this.flush(e.id, job);
  }

  onRetrying(e: OffloadEvents["job:retrying"]): void {
    const job = this.settle(e.id, e.type);
    const wait = Math.max(0, Date.parse(e.runAt) - this.now());
    this.line(
      e.type,
      e.id,
      `${this.paint("yellow", "retrying")}  attempt ${e.attempt}${job.maxAttempts ? `/${job.maxAttempts}` : ""} failed: ${describeError(e.error)}; next attempt in ${formatDuration(wait)}`,
    );
  }

  onCompleted(e: OffloadEvents["job:completed"]): void {
    this.settle(e.id, e.type);
    this.jobs.delete(e.id);
    this.line(e.type, e.id, `${this.paint("green", "completed")}  in ${formatDuration(e.durationMs)}  → ${compactJson(e.result)}`);
  }

  onFailed(e: OffloadEvents["job:failed"]): void {
    const job = this.settle(e.id, e.type);
    this.jobs.delete(e.id);
    const of = job.maxAttempts ? `/${job.maxAttempts}` : "";
    this.line(e.type, e.id, `${this.paint("red", "failed")}  attempt ${e.attempt}${of}: ${describeError(e.error)}`);
  }

  onCancelled(e: OffloadEvents["job:cancelled"]): void {
    this.settle(e.id, e.type);
    this.jobs.delete(e.id);
    this.line(e.type, e.id, `${this.paint("yellow", "cancelled")}${e.attempt > 0 ? `  during attempt ${e.attempt}` : ""}`);
  }

  private track(id: string, type: string): Tracked {
    let job = this.jobs.get(id);
    if (!job) {
      job = { maxAttempts: null, pending: null, timer: null, timerAt: Infinity, type };
      this.jobs.set(id, job);
    }
    return job;
  }

  /** An attempt ended: its unprinted progress is superseded by the line that follows. */
  private settle(id: string, type: string): Tracked {
    this.running.delete(id);
    const job = this.track(id, type);
    if (job.timer) clearTimeout(job.timer);
    job.timer = null;
    job.timerAt = Infinity;
    job.pending = null;
    this.throttle.forget(id);
    return job;
  }

  private flush(id: string, job: Tracked): void {
    if (!job.pending) return;
    const now = this.now();
    const decision = this.throttle.offer(id, job.pending, now);
    if (decision === null) {
      job.pending = null;
    } else if (decision.print) {
      const text = describeProgress(job.pending);
      job.pending = null;
      if (job.timer) clearTimeout(job.timer);
      job.timer = null;
      job.timerAt = Infinity;
      if (text) this.line(job.type, id, text);
    } else if (decision.retryAt < job.timerAt) {
      if (job.timer) clearTimeout(job.timer);
      job.timerAt = decision.retryAt;
      job.timer = setTimeout(() => {
        job.timer = null;
        job.timerAt = Infinity;
        this.flush(id, job);
      }, decision.retryAt - now);
      // A pending progress line must not keep a stopping process alive.
      job.timer.unref();
    }
  }
}
