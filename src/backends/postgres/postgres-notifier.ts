import { EventEmitter } from "node:events";
import pg from "pg";
import type { Notifier } from "../../backend/backend.js";
import type { ClaimedJob } from "../../backend/types.js";
import type { Logger } from "../../observability/logger.js";
import { briefError } from "./brief-error.js";

/** Reconnect delays of the listener: doubling from the first to the last. */
const RECONNECT_FIRST_MS = 100;
const RECONNECT_MAX_MS = 5_000;

/**
 * Wake-ups through LISTEN/NOTIFY, a hint only: workers keep polling, so a
 * notification lost while the listener is down delays a job by at most one
 * poll interval. The listener holds one connection of its own (not from the
 * pool: a pooled connection cannot stay in LISTEN), opened when the first
 * worker subscribes, and reconnects by itself with a doubling delay; once
 * connected (first time or again) it wakes every subscriber once, since jobs
 * may have arrived before it heard.
 *
 * Jobs are announced by the statements that make them ready (`pg_notify` in
 * the insert, retry and rescue statements), so a job enqueued inside the
 * application's own transaction is announced when, and only if, it commits.
 */
export class PostgresNotifier implements Notifier {
  private readonly emitter = new EventEmitter();
  private client: pg.Client | null = null;
  private closed = false;
  private connecting = false;
  private reconnectDelay = RECONNECT_FIRST_MS;
  private reconnectTimer: NodeJS.Timeout | null = null;
  /** Connections opened so far (the first and every reconnect): for tests and logs. */
  connects = 0;

  /**
   * @param ownSession tells whether a server process id is one of this
   *   process's own pool connections. Their job notifications are dropped:
   *   whatever sent them (enqueue, retry, rescue) already woke this process's
   *   workers directly, and hearing them again cost every local enqueue a
   *   second, empty claim. Jobs committed by the application's own connection
   *   (transactional enqueue) come from other sessions and are heard.
   */
  constructor(
    private readonly clientConfig: pg.ClientConfig,
    readonly channel: string,
    readonly cancelChannel: string,
    private readonly logger: Logger | null,
    private readonly ownSession: (processId: number) => boolean = () => false,
    /** This process's own channel, on which enqueues elsewhere send the jobs they hand to its waiting worker; with their parser. */
    private readonly handOff: { channel: string; deaf: () => Promise<void>; parse: (payload: string) => ClaimedJob } | null = null,
  ) {
    this.emitter.setMaxListeners(0);
  }

  notifyJobsReady(queues: readonly string[]): void {
    // Other processes hear of the jobs through pg_notify at commit; this process's workers at once.
    for (const queue of queues) this.emitter.emit("ready", queue);
  }

  onJobsReady(listener: (queue: string | null) => void): () => void {
    return this.subscribe("ready", listener);
  }

  onCancelRequested(listener: (jobId: string) => void): () => void {
    return this.subscribe("cancel", listener);
  }

  onHandOff(listener: (claimed: ClaimedJob) => void): () => void {
    return this.subscribe("handOff", listener);
  }

  private subscribe<T>(event: "cancel" | "handOff" | "ready", listener: (value: T) => void): () => void {
    this.emitter.on(event, listener);
    if (!this.client && !this.connecting && !this.reconnectTimer) void this.connect();
    return () => {
      this.emitter.off(event, listener);
    };
  }

  /** True while the LISTEN connection is up. */
  get listening(): boolean {
    return this.client !== null;
  }

  /**
   * Resolves once the LISTEN session that a subscriber opened is up (at once
   * if it is, or if none is being opened), or after `timeoutMs`.
   */
  whenListening(timeoutMs: number): Promise<void> {
    if (this.client || this.closed || (!this.connecting && !this.reconnectTimer)) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.emitter.off("up", done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.emitter.on("up", done);
    });
  }

  /** The server process id of the LISTEN session, while it is up. */
  get listenerPid(): number | null {
    return (this.client as (pg.Client & { processID?: number | null }) | null)?.processID ?? null;
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    this.connecting = true;
    const client = new pg.Client(this.clientConfig);
    // Without a listener, an 'error' on a dropped connection would crash the process.
    client.on("error", (error) => this.lost(client, error));
    client.on("end", () => this.lost(client, null));
    client.on("notification", (message) => {
      if (message.channel === this.channel) {
        if (!this.ownSession(message.processId)) this.emitter.emit("ready", message.payload || null);
      }
      else if (message.channel === this.cancelChannel && message.payload) this.emitter.emit("cancel", message.payload);
      else if (this.handOff && message.channel === this.handOff.channel && message.payload) this.handedOff(message.payload);
    });
    try {
      await client.connect();
      await client.query(`LISTEN "${this.channel}"; LISTEN "${this.cancelChannel}"${this.handOff ? `; LISTEN "${this.handOff.channel}"` : ""}`);
      if (this.closed) {
        await client.end().catch(() => undefined);
        return;
      }
      const reconnected = this.connects > 0;
      this.connects++;
      this.client = client;
      this.reconnectDelay = RECONNECT_FIRST_MS;
      if (reconnected) this.logger?.info({ channel: this.channel }, "LISTEN connection restored");
      this.emitter.emit("up");
      // Jobs may have arrived before the listener heard: wake every subscriber once. A waiting worker
      // also writes its rows again then, since it hears hand-offs now.
      this.emitter.emit("ready", null);
    } catch (error) {
      client.removeAllListeners("end");
      client.end().catch(() => undefined);
      this.scheduleReconnect(error);
    } finally {
      this.connecting = false;
    }
  }

  /** A job an enqueue claimed for this process's worker. One that cannot be read is rescued when its lease expires. */
  private handedOff(payload: string): void {
    let claimed: ClaimedJob;
    try {
      claimed = this.handOff!.parse(payload);
    } catch (error) {
      this.logger?.error({ err: briefError(error) }, "could not read a job handed over; it will be rescued when its lease expires");
      return;
    }
    this.emitter.emit("handOff", claimed);
  }

  private lost(client: pg.Client, error: Error | null): void {
    if (this.client !== client) return;
    this.client = null;
    client.removeAllListeners("end");
    client.end().catch(() => undefined);
    const retryInMs = this.reconnectDelay;
    this.scheduleReconnect(error, false);
    // Jobs handed over now would not be heard: this process's workers stop waiting for them first (they
    // write their rows again once they hear again), and only then is the loss reported.
    const deaf = this.handOff ? this.handOff.deaf() : Promise.resolve();
    void deaf.finally(() => {
      if (!this.closed) this.logger?.warn({ err: briefError(error), retryInMs }, "LISTEN connection lost; reconnecting (workers keep polling meanwhile)");
    });
  }

  private scheduleReconnect(error: unknown, log = true): void {
    if (this.closed || this.reconnectTimer) return;
    if (log) this.logger?.warn({ err: briefError(error), retryInMs: this.reconnectDelay }, "LISTEN connection lost; reconnecting (workers keep polling meanwhile)");
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      void this.connect();
    }, this.reconnectDelay);
    this.reconnectTimer.unref();
    this.reconnectDelay = Math.min(RECONNECT_MAX_MS, this.reconnectDelay * 2);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    this.emitter.removeAllListeners();
    const client = this.client;
    this.client = null;
    if (client) {
      client.removeAllListeners("end");
      await client.end().catch(() => undefined);
    }
  }
}
