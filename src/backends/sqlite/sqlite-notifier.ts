import { watch, type FSWatcher } from "node:fs";
import { EventEmitter } from "node:events";
import type Database from "better-sqlite3";
import type { Notifier } from "../../backend/backend.js";

/**
 * SQLite has no LISTEN/NOTIFY. Within a process, enqueue wakes workers
 * directly through an emitter (sub-millisecond). Across processes, a commit
 * by another connection changes `PRAGMA data_version` (a read of shared
 * memory). This process learns of such commits two ways: the file system
 * tells it when the WAL file is written (inotify on Linux, kqueue or
 * FSEvents elsewhere: within a fraction of a millisecond), and a poll at
 * 20 Hz stays as the safety net where watching is not available (network
 * file systems) or misses an event. Either way idle workers run a claim only
 * when data_version moved, not on every tick.
 */
export class SqliteNotifier implements Notifier {
  private readonly emitter = new EventEmitter();
  private timer: NodeJS.Timeout | null = null;
  private watcher: FSWatcher | null = null;
  private checkQueued = false;
  private lastVersion = -1;

  /** `walFile`: the database's `-wal` file to watch, or null to poll only. */
  constructor(
    private readonly db: Database.Database,
    private readonly pollMs: number,
    private readonly walFile: string | null = null,
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
    this.timer = setInterval(() => this.check(), this.pollMs);
    this.timer.unref();
    this.watch();
  }

  /** Checks data_version on every write to the WAL file (this process's own writes included: they leave it unchanged). */
  private watch(): void {
    if (this.walFile === null || this.watcher) return;
    try {
      this.watcher = watch(this.walFile, { persistent: false }, () => {
        // A busy worker writes the WAL thousands of times a second: one check per turn of the event loop.
        if (this.checkQueued) return;
        this.checkQueued = true;
        setImmediate(() => {
          this.checkQueued = false;
          if (this.timer) this.check();
        });
      });
      // The file vanished (the last connection closed it) or the watch broke: the poll carries on alone.
      this.watcher.on("error", () => this.unwatch());
    } catch {
      this.watcher = null; // no WAL file yet, or no watching here: polling only
    }
  }

  private unwatch(): void {
    this.watcher?.close();
    this.watcher = null;
  }

  private check(): void {
    const version = this.dataVersion();
    if (version !== this.lastVersion) {
      this.lastVersion = version;
      this.emitter.emit("ready", null);
    }
  }

  private stopPolling(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.unwatch();
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
