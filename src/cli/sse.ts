/** One server-sent event: its `event` name (`message` when the stream gave none), `data` and last `id`. */
export interface ServerSentEvent {
  data: string;
  event: string;
  id: string;
}

/**
 * Parses a `text/event-stream` body into events, as the HTML standard's
 * "interpret an event stream" describes: lines end in CRLF, LF or CR; `:`
 * starts a comment (the server's keep-alives); `data` lines join with `\n`;
 * a blank line dispatches; an event without data is dropped. `retry` is
 * ignored: the CLI decides itself whether to reconnect.
 */
export async function* parseEventStream(body: AsyncIterable<Uint8Array>): AsyncGenerator<ServerSentEvent> {
  const decoder = new TextDecoder("utf-8");
  let buffer = "";
  let data: string[] = [];
  let event = "";
  let id = "";
  let first = true;

  function* lines(final: boolean): Generator<string> {
    for (;;) {
      const match = /\r\n|\r|\n/.exec(buffer);
      // A CR at the very end may be the first half of a CRLF split across chunks.
      if (!match || (match[0] === "\r" && match.index === buffer.length - 1 && !final)) return;
      const line = buffer.slice(0, match.index);
      buffer = buffer.slice(match.index + match[0].length);
      yield line;
    }
  }

  function* take(line: string): Generator<ServerSentEvent> {
    if (first) {
      first = false;
      if (line.startsWith("\uFEFF")) line = line.slice(1);
    }
    if (line === "") {
      if (data.length > 0) yield { data: data.join("\n"), event: event || "message", id };
      data = [];
      event = "";
      return;
    }
    if (line.startsWith(":")) return;
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") data.push(value);
    else if (field === "event") event = value;
    else if (field === "id" && !value.includes("\0")) id = value;
  }

  for await (const chunk of body) {
    buffer += decoder.decode(chunk, { stream: true });
    for (const line of lines(false)) yield* take(line);
  }
  buffer += decoder.decode();
  for (const line of lines(true)) yield* take(line);
  // An event not followed by a blank line when the stream ends is incomplete and, per the standard, dropped.
}
