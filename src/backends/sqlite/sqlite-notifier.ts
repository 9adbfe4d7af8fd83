import { EventEmitter } from "node:events";
import type Database from "better-sqlite3";
import type { Notifier } from "../../backend/backend.js";

/**
 * SQLite has no LISTEN/NOTIFY. Within a process, enqueue wakes workers
 * directly through an emitter (sub-millisecond). Across processes, this polls
 * `PRAGMA data_version`, which changes whenever another connection commits: a
 * read of one page header, cheap enough at 20 Hz, that tells idle workers to
 * look for work without running a claim query on every tick.
 */
export class SqliteNotifier implements Notifier {
  private readonly emitter = new EventEmitter();
  private timer: NodeJS.Timeout | null = null;
  private lastVersion = -1;

  constructor(
    private readonly db: Database.Database,
    private readonly pollMs: number,
  ) {
    this.emitter.setMaxListeners(0);
  }

  notifyJobsReady(queues: readonly string[]): void {
    for (const queue of queues) this.emitter.emit("ready", queue);
  }

  onJobsReady(listener: (queue: string | null) => void): () => void {
    this.emitter.on("ready", listener);
    this.startPolling();
    return () => {
      this.emitter.off("ready", listener);
      if (this.emitter.listenerCount("ready") === 0) this.stopPolling();
    };
  }

  /** Cross-process cancellation reaches SQLite workers through their heartbeats; in-process, Offload.cancel aborts directly. */
  onCancelRequested(_listener: (jobId: string) => void): () => void {
    return () => undefined;
  }

  private startPolling(): void {
    if (this.timer || this.pollMs <= 0) return;
    this.lastVersion = this.dataVersion();
    this.timer = setInterval(() => {
      const version = this.dataVersion();
      if (version !== this.lastVersion) {
        this.lastVersion = version;
        this.emitter.emit("ready", null);
      }
    }, this.pollMs);
    this.timer.unref();
  }

  private stopPolling(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private dataVersion(): number {
    try {
      return this.db.pragma("data_version", { simple: true }) as number;
    } catch {
      return this.lastVersion; // closed or busy: try again next tick
    }
  }

  async close(): Promise<void> {
    this.stopPolling();
    this.emitter.removeAllListeners();
  }
}
