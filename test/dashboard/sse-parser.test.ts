import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { SseParser, type SseMessage } from "../../src/dashboard/sse-parser.js";

function parseAll(chunks: string[]): SseMessage[] {
  const parser = new SseParser();
  return chunks.flatMap((chunk) => parser.push(chunk));
}

describe("the dashboard's event-stream parser", () => {
  it("reads named events with JSON data, skips comments, and joins data lines with a newline", () => {
    const text = ": offload event stream\n\nevent: job\ndata: {\"id\":1}\n\n: keep-alive\n\ndata: a\ndata: b\n\nevent: progress\nid: 7\ndata: {}\n\n";
    assert.deepEqual(parseAll([text]), [
      { data: '{"id":1}', event: "job", id: "" },
      { data: "a\nb", event: "message", id: "" },
      { data: "{}", event: "progress", id: "7" },
    ]);
  });

  it("accepts CR, LF and CRLF line ends, a CRLF split across chunks included", () => {
    assert.deepEqual(parseAll(["event: a\r\ndata: 1\r", "\n\r", "\nevent: b\rdata: 2\r\r"]), [
      { data: "1", event: "a", id: "" },
      { data: "2", event: "b", id: "" },
    ]);
  });

  it("holds an event back until its blank line arrives, and keeps the server's retry", () => {
    const parser = new SseParser();
    assert.deepEqual(parser.push("retry: 2500\nevent: job\ndata: {\"a\""), []);
    assert.deepEqual(parser.push(":1}\n"), []);
    assert.deepEqual(parser.push("\n"), [{ data: '{"a":1}', event: "job", id: "" }]);
    assert.equal(parser.retryMs, 2500);
  });

  it("gives the same events however the stream is cut into chunks", () => {
    const event = fc.record({
      data: fc.array(fc.string({ unit: fc.constantFrom("a", "é", "{", "}", ":", " ", "😀", "x") }), { minLength: 1, maxLength: 3 }),
      name: fc.constantFrom("job", "progress", "job:enqueued"),
    });
    fc.assert(
      fc.property(fc.array(event, { maxLength: 8 }), fc.constantFrom("\n", "\r\n", "\r"), fc.array(fc.nat(), { maxLength: 10 }), (events, eol, cuts) => {
        const text = events.map((e) => `: c${eol}event: ${e.name}${eol}${e.data.map((d) => `data: ${d}${eol}`).join("")}${eol}`).join("");
        const points = [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b);
        const chunks = [0, ...points, text.length].slice(1).map((end, i, all) => text.slice(i === 0 ? 0 : all[i - 1], end));
        const expected = events.map((e) => ({ data: e.data.join("\n"), event: e.name, id: "" }));
        assert.deepEqual(parseAll(chunks), expected);
      }),
      { numRuns: 300 },
    );
  });

  it("reads a long stream in 16 KiB chunks, events cut anywhere, without losing or merging one", (t) => {
    const line = (i: number) => `event: job:progress\ndata: {"id":"01a2045c-c4a5-7148-9a21-484ed1416e90","progress":{"processed":${i}}}\n\n`;
    const text = Array.from({ length: 50_000 }, (_, i) => line(i)).join("");
    const parser = new SseParser();
    const started = performance.now();
    const seen: number[] = [];
    for (let i = 0; i < text.length; i += 16_384) for (const message of parser.push(text.slice(i, i + 16_384))) seen.push(JSON.parse(message.data).progress.processed);
    t.diagnostic(`50,000 events parsed in ${(performance.now() - started).toFixed(0)} ms`);
    assert.equal(seen.length, 50_000);
    assert.ok(seen.every((n, i) => n === i));
  });
});
