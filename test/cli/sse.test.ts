import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseEventStream, type ServerSentEvent } from "../../src/cli/sse.js";

async function parse(chunks: readonly (string | Uint8Array)[]): Promise<ServerSentEvent[]> {
  const encoder = new TextEncoder();
  async function* body() {
    for (const chunk of chunks) yield typeof chunk === "string" ? encoder.encode(chunk) : chunk;
  }
  const events: ServerSentEvent[] = [];
  for await (const event of parseEventStream(body())) events.push(event);
  return events;
}

describe("parseEventStream", () => {
  it("reads named events, joins data lines, skips comments and keeps the last id", async () => {
    const events = await parse([": keep-alive\n\nevent: progress\nid: 7\ndata: {\"a\":1}\n\ndata: line 1\ndata:line 2\n\n"]);
    assert.deepEqual(events, [
      { data: '{"a":1}', event: "progress", id: "7" },
      { data: "line 1\nline 2", event: "message", id: "7" },
    ]);
  });

  it("accepts CRLF and CR line ends, also when a CRLF or a character is split across chunks", async () => {
    const euro = new TextEncoder().encode("data: 5 €\r\n\r\n");
    const events = await parse(["event: state\r", "\ndata: x\r\r", "data: y\r\n", "\r\n", euro.slice(0, 9), euro.slice(9)]);
    assert.deepEqual(events, [
      { data: "x", event: "state", id: "" },
      { data: "y", event: "message", id: "" },
      { data: "5 €", event: "message", id: "" },
    ]);
  });

  it("drops an event without data, and an unfinished one when the stream ends", async () => {
    const events = await parse(["\uFEFFevent: nothing\n\nid: 1\n\ndata: last\n\ndata: cut off"]);
    assert.deepEqual(events, [{ data: "last", event: "message", id: "1" }]);
  });
});
