import assert from "node:assert/strict";
import { request as httpRequest } from "node:http";
import { connect } from "node:net";
import { describe, it } from "node:test";
import { startServer, TOKENS, type ServerFixture } from "./server-fixture.js";

/** Sends bytes as they are and returns the raw response text. */
function rawHttp(url: string, text: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.write(text));
    let out = "";
    socket.on("data", (chunk) => (out += chunk.toString()));
    socket.on("end", () => resolve(out));
    socket.on("close", () => resolve(out));
    socket.on("error", reject);
    socket.setTimeout(5_000, () => socket.destroy());
  });
}

/** POSTs a body in chunks of 64 KiB with Transfer-Encoding: chunked (no Content-Length). */
function postChunked(url: string, total: number): Promise<{ body: any; status: number }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${url}/api/jobs`, {
      headers: { authorization: `Bearer ${TOKENS.admin}`, "content-type": "application/json", "transfer-encoding": "chunked" },
      method: "POST",
    });
    req.on("response", (res) => {
      let text = "";
      res.on("data", (c) => (text += c));
      res.on("end", () => resolve({ body: JSON.parse(text), status: res.statusCode! }));
    });
    req.on("error", (error: NodeJS.ErrnoException) => (error.code === "EPIPE" || error.code === "ECONNRESET" ? undefined : reject(error)));
    const chunk = "x".repeat(64 * 1024);
    req.write('{"type":"test.echo","payload":{"value":"');
    let sent = 0;
    const pump = () => {
      while (sent < total) {
        sent += chunk.length;
        if (!req.write(chunk)) return void req.once("drain", pump);
      }
      req.end('"}}');
    };
    pump();
  });
}

async function expectRejected(api: ServerFixture["api"], status: number, code: string, init: Parameters<ServerFixture["api"]>[2], pathPattern?: RegExp, path = "/api/jobs", method = "POST") {
  const response = await api(method, path, init);
  assert.equal(response.status, status, `${JSON.stringify(init).slice(0, 200)} -> ${response.text.slice(0, 300)}`);
  assert.equal(response.body?.error?.code, code, response.text);
  if (pathPattern) assert.match(JSON.stringify(response.body.error.details?.issues ?? response.body.error.message), pathPattern);
  assert.doesNotMatch(response.text, /\n\s+at |node_modules|\/src\/|\.ts:\d/);
  return response;
}

describe("HTTP bad input", () => {
  it("rejects each bad request with a clear 4xx naming the field, and stores nothing", async (t) => {
    const { api, offload } = await startServer(t, { worker: false });
    const job = (extra: Record<string, unknown>) => ({ body: { payload: {}, type: "test.echo", ...extra } });
    const raw = (text: string, contentType = "application/json") => ({ headers: { "content-type": contentType }, raw: text });

    // Malformed JSON, and bodies that are not JSON objects of the expected shape.
    await expectRejected(api, 400, "OFFLOAD_ERR_INVALID_INPUT", raw('{"type": "test.echo", "payload": {}'), /Malformed JSON/);
    await expectRejected(api, 400, "OFFLOAD_ERR_INVALID_INPUT", raw("[]"));
    await expectRejected(api, 400, "OFFLOAD_ERR_INVALID_INPUT", raw('"text"'));
    await expectRejected(api, 400, "OFFLOAD_ERR_INVALID_INPUT", raw(""));
    // Wrong content type or charset.
    await expectRejected(api, 415, "OFFLOAD_ERR_UNSUPPORTED_MEDIA_TYPE", raw('{"type":"test.echo","payload":{}}', "text/plain"));
    await expectRejected(api, 415, "OFFLOAD_ERR_UNSUPPORTED_MEDIA_TYPE", raw("type=test.echo", "application/x-www-form-urlencoded"));
    await expectRejected(api, 415, "OFFLOAD_ERR_UNSUPPORTED_MEDIA_TYPE", raw('{"type":"test.echo","payload":{}}', "application/json; charset=latin1"));
    await expectRejected(api, 415, "OFFLOAD_ERR_UNSUPPORTED_MEDIA_TYPE", { raw: '{"type":"test.echo","payload":{}}' });
    // Prototype keys, NUL characters, deep nesting, numbers out of range.
    await expectRejected(api, 400, "OFFLOAD_ERR_INVALID_INPUT", raw('{"type":"test.echo","payload":{"__proto__":{"admin":true}}}'), /payload\.__proto__/);
    await expectRejected(api, 400, "OFFLOAD_ERR_INVALID_INPUT", raw('{"__proto__":{},"type":"test.echo","payload":{}}'), /__proto__/);
    await expectRejected(api, 400, "OFFLOAD_ERR_INVALID_INPUT", raw('{"type":"test.echo","payload":{"constructor":{"prototype":{}}}}'), /constructor/);
    await expectRejected(api, 400, "OFFLOAD_ERR_INVALID_INPUT", job({ payload: { value: "a\u0000b" } }), /payload\.value/);
    await expectRejected(api, 400, "OFFLOAD_ERR_INVALID_INPUT", job({ payload: { "a\u0000": "b" } }), /NUL/);
    await expectRejected(api, 400, "OFFLOAD_ERR_INVALID_INPUT", job({ type: "test.echo\u0000" }), /type/);
    await expectRejected(api, 400, "OFFLOAD_ERR_INVALID_INPUT", raw(`{"type":"test.echo","payload":${"[".repeat(100)}${"]".repeat(100)}}`), /nested deeper/);
    await expectRejected(api, 400, "OFFLOAD_ERR_INVALID_INPUT", raw(`{"type":"test.echo","payload":${"[".repeat(200_000)}`), /nested deeper/);
    await expectRejected(api, 400, "OFFLOAD_ERR_INVALID_INPUT", raw('{"type":"test.echo","payload":{"value":1e400}}'), /out of range/);
    await expectRejected(api, 400, "OFFLOAD_ERR_INVALID_INPUT", job({ priority: 10_000_000 }), /"priority"/);
    await expectRejected(api, 400, "OFFLOAD_ERR_INVALID_INPUT", job({ priority: 1.5 }), /"priority"/);
    await expectRejected(api, 400, "OFFLOAD_ERR_INVALID_INPUT", job({ attempts: 0 }), /"attempts"/);
    await expectRejected(api, 400, "OFFLOAD_ERR_INVALID_INPUT", job({ attempts: "3" }), /"attempts"/);
    // Durations and dates out of range.
    await expectRejected(api, 400, "OFFLOAD_ERR_INVALID_INPUT", job({ delay: "-5s" }), /"delay"/);
    await expectRejected(api, 400, "OFFLOAD_ERR_INVALID_INPUT", job({ delay: "forever" }), /"delay"/);
    await expectRejected(api, 400, "OFFLOAD_ERR_INVALID_INPUT", job({ timeout: 0 }), /"timeout"/);
    await expectRejected(api, 400, "OFFLOAD_ERR_INVALID_INPUT", job({ timeout: "100d" }), /"timeout"/);
    await expectRejected(api, 400, "OFFLOAD_ERR_INVALID_INPUT", job({ runAt: "2030-02-31T00:00:00Z" }), /"runAt"/);
    await expectRejected(api, 400, "OFFLOAD_ERR_INVALID_INPUT", job({ delay: "1s", runAt: "2030-01-01T00:00:00Z" }), /runAt/);
    // Unknown fields, in the body and in the payload (the type's schema is strict).
    await expectRejected(api, 400, "OFFLOAD_ERR_INVALID_INPUT", job({ color: "red" }), /unknown field \\"color\\"/);
    await expectRejected(api, 400, "OFFLOAD_ERR_INVALID_PAYLOAD", job({ payload: { color: "red" } }), /payload/);
    await expectRejected(api, 400, "OFFLOAD_ERR_INVALID_PAYLOAD", job({ payload: { value: 5 } }), /payload\.value/);
    await expectRejected(api, 400, "OFFLOAD_ERR_INVALID_INPUT", { body: { type: "test.echo" } }, /"payload"/);
    // Bad names and ids.
    await expectRejected(api, 400, "OFFLOAD_ERR_INVALID_INPUT", job({ type: "bad name" }), /"type"/);
    await expectRejected(api, 400, "OFFLOAD_ERR_INVALID_INPUT", job({ type: "" }), /"type"/);
    await expectRejected(api, 400, "OFFLOAD_ERR_UNKNOWN_JOB_TYPE", job({ type: "no.such.type" }));
    await expectRejected(api, 400, "OFFLOAD_ERR_INVALID_INPUT", job({ queue: "gated" }), /"queue"/);
    await expectRejected(api, 400, "OFFLOAD_ERR_INVALID_INPUT", job({ owner: "" }), /"owner"/);
    await expectRejected(api, 400, "OFFLOAD_ERR_INVALID_INPUT", job({ uniqueKey: "x".repeat(201) }), /"uniqueKey"/);
    await expectRejected(api, 400, "OFFLOAD_ERR_INVALID_INPUT", {}, /"id"/, "/api/jobs/not-a-uuid", "GET");
    await expectRejected(api, 400, "OFFLOAD_ERR_INVALID_INPUT", {}, /"name"/, "/api/queues/bad%20name!/pause");
    await expectRejected(api, 400, "OFFLOAD_ERR_INVALID_INPUT", {}, /"status"/, "/api/jobs?status=done", "GET");
    await expectRejected(api, 400, "OFFLOAD_ERR_INVALID_INPUT", {}, /"status"/, "/api/jobs?status=queued&status=running", "GET");
    await expectRejected(api, 400, "OFFLOAD_ERR_INVALID_INPUT", {}, /"queue"/, "/api/events?queue=a%00b", "GET");
    await expectRejected(api, 400, "OFFLOAD_ERR_INVALID_INPUT", { body: { force: true } }, /force/, "/api/queues/default/pause");
    assert.deepEqual((await offload.listJobs()).items, []);
  });

  it("answers 413 for bodies over the limit, with Content-Length or chunked, and for payloads over the per-job limit", async (t) => {
    const { api, offload, url } = await startServer(t, { bodyLimit: 512 * 1024, worker: false });
    await expectRejected(api, 413, "OFFLOAD_ERR_PAYLOAD_TOO_LARGE", { body: { payload: { value: "x".repeat(600 * 1024) }, type: "test.echo" } });
    const chunked = await postChunked(url, 2 * 1024 * 1024);
    assert.equal(chunked.status, 413);
    assert.equal(chunked.body.error.code, "OFFLOAD_ERR_PAYLOAD_TOO_LARGE");
    // Under the body limit, over the 256 KiB payload limit.
    const response = await expectRejected(api, 413, "OFFLOAD_ERR_PAYLOAD_TOO_LARGE", { body: { payload: { value: "x".repeat(300 * 1024) }, type: "test.echo" } });
    assert.deepEqual(response.body.error.details.limit, 256 * 1024);
    assert.equal((await api("POST", "/api/jobs", { body: { payload: { value: "x".repeat(200 * 1024) }, type: "test.echo" } })).status, 201);
    assert.equal((await offload.listJobs()).items.length, 1);
  });

  it("answers malformed HTTP and oversized headers in the error format, and closes the connection", async (t) => {
    const { url } = await startServer(t, { worker: false });
    const garbage = await rawHttp(url, "NOT HTTP AT ALL\r\n\r\n");
    assert.match(garbage, /^HTTP\/1\.1 400 /);
    assert.match(garbage, /"code":"OFFLOAD_ERR_INVALID_INPUT"/);
    const huge = await rawHttp(url, `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${"y".repeat(20_000)}\r\n\r\n`);
    assert.match(huge, /^HTTP\/1\.1 431 /);
    assert.match(huge, /"code":"OFFLOAD_ERR_HEADERS_TOO_LARGE"/);
    const badLength = await rawHttp(url, `POST /api/jobs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKENS.admin}\r\nContent-Type: application/json\r\nContent-Length: abc\r\n\r\n{}`);
    assert.match(badLength, /^HTTP\/1\.1 400 /);
  });
});
