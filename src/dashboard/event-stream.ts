import { SseParser, type SseMessage } from "./sse-parser.js";

/** What a stream tells its owner. */
export interface EventStreamOptions {
  /** Headers of each (re)connection: the token may change between them. */
  headers(): Record<string, string>;
  /** The server ended the stream: return true to connect again (after a short pause). */
  onEnd?(): boolean;
  /** An answer that is not a stream: 401, 403, 404. The stream stops. */
  onRefused?(status: number, message: string): void;
  /** Connected (`true`) or waiting to reconnect (`false`), for the live indicator. */
  onState?(connected: boolean): void;
  onMessage(message: SseMessage): void;
  url: string;
}

const FIRST_RETRY_MS = 500;
const MAX_RETRY_MS = 15_000;

/**
 * Reads a server-sent event stream with `fetch`, so it can send the
 * `Authorization` header (`EventSource` cannot). Reconnects after network
 * errors and 429/5xx answers, backing off from 0.5 s to 15 s with jitter;
 * a connection that delivered anything resets the backoff.
 */
export class EventStream {
  private closed = false;
  private controller: AbortController | null = null;
  private retryMs = FIRST_RETRY_MS;
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(private readonly options: EventStreamOptions) {
    void this.connect();
  }

  close(): void {
    this.closed = true;
    this.controller?.abort();
    if (this.timer !== null) clearTimeout(this.timer);
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    const controller = new AbortController();
    this.controller = controller;
    let delivered = false;
    try {
      const response = await fetch(this.options.url, {
        cache: "no-store",
        credentials: "omit",
        headers: { ...this.options.headers(), accept: "text/event-stream" },
        signal: controller.signal,
      });
      if (!response.ok || !response.body) {
        const status = response.status;
        if (status === 429 || status >= 500) throw new Error(`HTTP ${status}`);
        let message = `HTTP ${status}`;
        try {
          message = ((await response.json()) as { error?: { message?: string } }).error?.message ?? message;
        } catch {
          // not JSON
        }
        this.closed = true;
        this.options.onRefused?.(status, message);
        return;
      }
      this.options.onState?.(true);
      const parser = new SseParser();
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        delivered = true;
        for (const message of parser.push(value)) {
          if (this.closed) return;
          this.options.onMessage(message);
        }
      }
      if (this.closed) return;
      if (!(this.options.onEnd?.() ?? true)) {
        this.closed = true;
        return;
      }
      this.retryMs = FIRST_RETRY_MS;
      this.schedule(FIRST_RETRY_MS);
    } catch {
      if (this.closed) return;
      if (delivered) this.retryMs = FIRST_RETRY_MS;
      this.options.onState?.(false);
      this.schedule(this.retryMs * (0.75 + Math.random() / 2));
      this.retryMs = Math.min(MAX_RETRY_MS, this.retryMs * 2);
    }
  }

  private schedule(ms: number): void {
    if (this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.connect();
    }, ms);
  }
}
