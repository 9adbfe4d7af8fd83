/**
 * An incremental `text/event-stream` parser, as the HTML standard defines
 * it: lines end in CR, LF or CRLF (also split across chunks), `:` starts a
 * comment, `data` lines join with a newline, a blank line dispatches. The
 * browser's `EventSource` cannot send an `Authorization` header, so the
 * dashboard reads streams with `fetch` and this. No DOM: the Node tests use
 * it directly.
 */

/** One dispatched event. */
export interface SseMessage {
  data: string;
  /** `message` when the stream named none. */
  event: string;
  /** The last `id` seen, or "" for none. */
  id: string;
}

/** Parses one stream; feed it text as it arrives with {@link SseParser.push}. */
export class SseParser {
  private buffer = "";
  private data: string[] = [];
  private event = "";
  private lastId = "";
  /** The previous chunk ended in CR: a LF starting the next one belongs to it. */
  private skipLf = false;
  /** The server's `retry` field, in ms, or null. */
  retryMs: number | null = null;

  /** Feeds decoded text; returns the events it completed, in order. */
  push(chunk: string): SseMessage[] {
    const out: SseMessage[] = [];
    const text = this.buffer + chunk;
    let start = 0;
    if (this.skipLf && text.charCodeAt(0) === 10) start = 1;
    this.skipLf = false;
    const length = text.length;
    // Native searches, not a loop over characters: thousands of events a second arrive through here.
    // Servers rarely send CR, so its position is searched again only once passed (else each line would rescan the text).
    let cr = text.indexOf("\r", start);
    while (start < length) {
      if (cr !== -1 && cr < start) cr = text.indexOf("\r", start);
      const lf = text.indexOf("\n", start);
      let end = lf === -1 ? cr : cr === -1 ? lf : Math.min(lf, cr);
      if (end === -1) break;
      this.line(text.slice(start, end), out);
      if (text.charCodeAt(end) === 13) {
        if (end + 1 === length) {
          this.skipLf = true;
          start = length;
          break;
        }
        if (text.charCodeAt(end + 1) === 10) end++;
      }
      start = end + 1;
    }
    this.buffer = start >= length ? "" : text.slice(start);
    return out;
  }

  private line(line: string, out: SseMessage[]): void {
    if (line === "") {
      if (this.data.length > 0) out.push({ data: this.data.join("\n"), event: this.event || "message", id: this.lastId });
      this.data = [];
      this.event = "";
      return;
    }
    if (line.charCodeAt(0) === 58) return; // ":" comment
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32) value = value.slice(1);
    switch (field) {
      case "data":
        this.data.push(value);
        break;
      case "event":
        this.event = value;
        break;
      case "id":
        if (!value.includes("\0")) this.lastId = value;
        break;
      case "retry":
        if (/^\d+$/.test(value)) this.retryMs = Number(value);
        break;
      default:
      // Unknown fields are ignored, as the standard says.
    }
  }
}
