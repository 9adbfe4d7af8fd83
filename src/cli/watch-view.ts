import type { JobView } from "../index.js";
import { formatDuration } from "../job/duration.js";
import { clock, compactJson, describeError, describeProgress, painter, truncate, type Paint } from "./format.js";
import { ProgressThrottle } from "./progress-printer.js";
import type { JobSnapshot } from "./source.js";

/** Options of {@link WatchView}. */
export interface WatchViewOptions {
  /** ANSI colours. Default off. */
  color?: boolean;
  /** Width of the terminal, read at each redraw (it may be resized). Default 80. */
  columns?: () => number | undefined;
  /** The clock, injectable for tests. Default `Date.now`. */
  now?: () => number;
  /** Redraw one line in place (a terminal), or print a line per change (a pipe, a log file). */
  tty: boolean;
  /** Receives raw text, newlines included. */
  write: (text: string) => void;
}

/** A terminal redraws at most this often: faster is invisible and costs writes. */
const REDRAW_MS = 50;
const CLEAR_LINE = "\r\x1b[2K";

/**
 * The live view of `offload enqueue --watch`: a progress bar (percent,
 * processed/failed/total, message) redrawn in place on a terminal, or plain
 * lines otherwise (each status change, and progress in 10 % steps as
 * `offload start` prints it), then one summary line: final status,
 * duration, attempts, and the result or error.
 */
export class WatchView {
  private readonly paint: Paint;
  private readonly now: () => number;
  private readonly throttle = new ProgressThrottle();
  private latest: JobSnapshot | null = null;
  /** TTY: what the line shows now. Lines: the last status and attempt printed. */
  private drawn = "";
  private lastStatus = "";
  private drawnAt = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly options: WatchViewOptions) {
    this.paint = painter(options.color ?? false);
    this.now = options.now ?? Date.now;
  }

  /** The job's state changed. */
  update(job: JobSnapshot): void {
    this.latest = job;
    if (this.options.tty) this.redrawSoon();
    else this.printLine(job);
  }

  /** The job finished: the last state, then the summary line. */
  finish(job: JobView): void {
    this.cancelTimer();
    if (this.options.tty) {
      this.draw(job);
      this.options.write("\n");
    } else if (`${job.status}/${job.attempt}` !== this.lastStatus) {
      this.options.write(`${this.describeLine(job)}\n`);
    }
    this.drawn = "";
    this.options.write(`${summaryLine(job, this.paint)}\n`);
  }

  /** Watching stopped before the job finished (Ctrl-C): end the redrawn line so the shell prompt starts clean. */
  stop(): void {
    this.cancelTimer();
    if (this.options.tty && this.latest) this.draw(this.latest);
    if (this.options.tty && this.drawn) this.options.write("\n");
    this.drawn = "";
  }

  private redrawSoon(): void {
    const wait = this.drawnAt + REDRAW_MS - this.now();
    if (wait <= 0) {
      this.cancelTimer();
      this.draw(this.latest!);
      return;
    }
    this.timer ??= setTimeout(() => {
      this.timer = null;
      if (this.latest) this.draw(this.latest);
    }, wait);
    this.timer.unref();
  }

  private cancelTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** Rewrites the terminal's line, cut to its width: a wrapped line could not be redrawn in place. */
  private draw(job: JobSnapshot): void {
    const width = Math.max(20, (this.options.columns?.() ?? 80) - 1);
    const text = this.describe(job, width);
    this.drawnAt = this.now();
    if (text === this.drawn) return;
    this.drawn = text;
    this.options.write(CLEAR_LINE + text);
  }

  private printLine(job: JobSnapshot): void {
    const statusChanged = `${job.status}/${job.attempt}` !== this.lastStatus;
    if (!statusChanged) {
      const decision = this.throttle.offer(job.id, job.progress, this.now());
      if (!decision?.print) {
        // A change the throttle holds back is shown by a later line or the summary; a job rarely stalls on one.
        if (decision) this.scheduleLine(decision.retryAt);
        return;
      }
    } else {
      this.throttle.forget(job.id);
      this.throttle.offer(job.id, job.progress, this.now());
    }
    this.cancelTimer();
    this.lastStatus = `${job.status}/${job.attempt}`;
    const line = this.describeLine(job);
    if (line === this.drawn) return;
    this.drawn = line;
    this.options.write(`${line}\n`);
  }

  private scheduleLine(at: number): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.latest) this.printLine(this.latest);
    }, Math.max(0, at - this.now()));
    this.timer.unref();
  }

  private describeLine(job: JobSnapshot): string {
    return `${this.paint("dim", clock(this.now()))}  ${this.describe(job, Infinity)}`;
  }

  /** `running  attempt 1/3  ▮▮▮▯▯▯▯▯▯▯ 30%  15/50  transcribing 0:09 / 0:30` */
  private describe(job: JobSnapshot, width: number): string {
    const attempt = job.attempt > 0 ? `  attempt ${job.attempt}/${job.maxAttempts}` : "";
    // A waiting job's stored progress is its last attempt's: only a running or finished job's is news.
    const progress = job.status === "queued" || job.status === "scheduled" ? "" : describeProgress(job.progress);
    const plain = `${job.status}${attempt}${progress ? `  ${progress}` : ""}`;
    const cut = plain.length > width ? truncate(plain, width) : plain;
    // Colour is applied after cutting, so escape codes never count against the width.
    return cut.startsWith(job.status) ? this.paint(statusStyle(job.status), job.status) + cut.slice(job.status.length) : cut;
  }
}

function statusStyle(status: string) {
  return status === "completed" ? "green" : status === "failed" ? "red" : status === "cancelled" ? "yellow" : "bold";
}

/**
 * `completed  in 3.12s  attempt 1 of 3  → {"segments":5}`; failures end with
 * the error instead. The duration runs from enqueue to the end.
 */
export function summaryLine(job: JobView, paint: Paint = painter(false)): string {
  const end = job.finishedAt === null ? Date.now() : Date.parse(job.finishedAt);
  const parts = [paint(statusStyle(job.status), job.status), `in ${formatDuration(Math.max(0, end - Date.parse(job.createdAt)))}`];
  parts.push(job.attempt === 0 ? "never started" : `attempt ${job.attempt} of ${job.maxAttempts}`);
  if (job.status === "completed") parts.push(`→ ${compactJson(job.result, 200)}`);
  else if (job.error) parts.push(describeError(job.error));
  return parts.join("  ");
}
