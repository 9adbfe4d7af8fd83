import type { ServerResponse } from "node:http";
import type { FastifyReply, FastifyRequest } from "fastify";

/** A comment line every this often keeps idle proxies and the socket's own timeout from closing a quiet stream. */
const KEEP_ALIVE_MS = 15_000;

/**
 * One server-sent events response. The reply is taken over from Fastify
 * (hijacked): headers go out at once, and each event is written as it comes
 * with Nagle's algorithm off, so it leaves within a millisecond of `send`.
 * Closes when the client goes, or on `close()`.
 */
export class SseStream {
  private closed = false;
  private readonly keepAlive: NodeJS.Timeout;
  private readonly closeListeners: (() => void)[] = [];
  private readonly res: ServerResponse;
  /** Coalesced events waiting for the socket to drain, by key: only the latest of each is kept. */
  private readonly pending = new Map<string, string>();
  private waitingForDrain = false;

  constructor(request: FastifyRequest, reply: FastifyReply, extraHeaders: Record<string, string> = {}) {
    reply.hijack();
    this.res = reply.raw;
    const socket = request.raw.socket;
    socket.setNoDelay(true);
    // A stream lasts as long as its job; keep-alive comments stand in for activity.
    socket.setTimeout(0);
    this.res.writeHead(200, {
      ...extraHeaders,
      "cache-control": "no-cache, no-transform",
      connection: "keep-alive",
      "content-type": "text/event-stream; charset=utf-8",
      // Tells nginx not to buffer the stream.
      "x-accel-buffering": "no",
    });
    this.res.write(": offload event stream\n\n");
    this.keepAlive = setInterval(() => this.write(": keep-alive\n\n"), KEEP_ALIVE_MS);
    this.keepAlive.unref();
    const onGone = () => this.close();
    this.res.on("close", onGone);
    this.res.on("error", onGone);
    // A client that left while the route was still checking (token, job) fired "close" before anyone listened.
    if (socket.destroyed || this.res.destroyed) this.close();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Sends one event; its data is JSON on one line. Returns false once the stream is closed. */
  send(event: string, data: unknown): boolean {
    this.flushPending();
    return this.write(frame(event, data));
  }

  /**
   * Sends an event that a later one of the same `key` makes obsolete (a job's
   * progress). While the client keeps up, every one is sent at once; while
   * the socket's buffer is full, only the latest of each key waits for it to
   * drain, so a handler reporting progress in a tight loop cannot fill the
   * server's memory through a slow client.
   */
  sendLatest(key: string, event: string, data: unknown): boolean {
    if (this.closed || this.res.destroyed) return false;
    if (!this.res.writableNeedDrain && this.pending.size === 0) return this.write(frame(event, data));
    this.pending.delete(key); // re-inserted last: the waiting events keep the order of their latest versions
    this.pending.set(key, frame(event, data));
    if (!this.waitingForDrain) {
      this.waitingForDrain = true;
      this.res.once("drain", () => {
        this.waitingForDrain = false;
        this.flushPending();
      });
    }
    return true;
  }

  private flushPending(): void {
    if (this.pending.size === 0) return;
    const frames = [...this.pending.values()];
    this.pending.clear();
    for (const text of frames) this.write(text);
  }

  /** Runs `listener` once, when the stream closes for any reason. */
  onClose(listener: () => void): void {
    if (this.closed) listener();
    else this.closeListeners.push(listener);
  }

  close(): void {
    if (this.closed) return;
    this.flushPending();
    this.closed = true;
    clearInterval(this.keepAlive);
    for (const listener of this.closeListeners.splice(0)) {
      try {
        listener();
      } catch {
        // one listener's failure must not keep the others from running
      }
    }
    this.res.end();
  }

  private write(text: string): boolean {
    if (this.closed || this.res.destroyed) return false;
    this.res.write(text);
    return true;
  }
}

function frame(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}
