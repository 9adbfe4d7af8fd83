/**
 * Keeps the page responsive under thousands of events a second: events are
 * queued and applied together at most once per interval, and figures that
 * are re-read from the API (queues, throughput, workers) are re-read at most
 * once per interval however many events say they changed.
 */

/** Collects items and hands them to `apply` in one call, at most once per `intervalMs`. */
export class Batcher<T> {
  private items: T[] = [];
  private lastFlush = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly apply: (items: T[]) => void,
    private readonly intervalMs = 200,
  ) {}

  push(item: T): void {
    this.items.push(item);
    if (this.timer !== null) return;
    const wait = Math.max(0, this.lastFlush + this.intervalMs - performance.now());
    this.timer = setTimeout(() => this.flush(), wait);
  }

  flush(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.lastFlush = performance.now();
    if (this.items.length === 0) return;
    const items = this.items;
    this.items = [];
    this.apply(items);
  }

  dispose(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.items = [];
  }
}

/**
 * Re-reads something from the API: on `poke()` at most once per
 * `minIntervalMs` (never two reads at once), and every `pollMs` regardless,
 * since workers in other processes send no events to this server's stream.
 */
export class Refresher {
  /** Events arrived during a read: read again, keeping to the interval. */
  private again = false;
  /** The user changed something during a read: read again at once. */
  private againNow = false;
  private disposed = false;
  private lastRun = -Infinity;
  private pending: ReturnType<typeof setTimeout> | null = null;
  private readonly poll: ReturnType<typeof setInterval>;
  private running = false;

  constructor(
    private readonly run: () => Promise<void>,
    private readonly minIntervalMs = 1_000,
    pollMs = 5_000,
  ) {
    // A hidden tab polls nothing; events still refresh it, and a poll follows once it is shown.
    this.poll = setInterval(() => {
      if (!document.hidden) this.poke();
    }, pollMs);
  }

  /** Runs now (the first load, or after the user changed something); if a read is under way, once more when it ends. */
  now(): Promise<void> {
    if (this.running) {
      this.againNow = true;
      return Promise.resolve();
    }
    if (this.pending !== null) clearTimeout(this.pending);
    this.pending = null;
    return this.execute();
  }

  poke(): void {
    if (this.disposed || this.pending !== null) return;
    if (this.running) {
      this.again = true;
      return;
    }
    const wait = Math.max(0, this.lastRun + this.minIntervalMs - performance.now());
    this.pending = setTimeout(() => {
      this.pending = null;
      void this.execute();
    }, wait);
  }

  private async execute(): Promise<void> {
    if (this.disposed) return;
    this.running = true;
    this.lastRun = performance.now();
    try {
      await this.run();
    } catch {
      // The view shows its own error; the next poke or poll tries again.
    } finally {
      this.running = false;
      if (this.againNow) {
        this.againNow = this.again = false;
        void this.now();
      } else if (this.again) {
        this.again = false;
        this.poke();
      }
    }
  }

  dispose(): void {
    this.disposed = true;
    clearInterval(this.poll);
    if (this.pending !== null) clearTimeout(this.pending);
  }
}
