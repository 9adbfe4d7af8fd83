import assert from "node:assert/strict";
import { connect } from "node:net";
import { describe, it } from "node:test";
import { startServer, TOKENS } from "./server-fixture.js";

describe("HTTP shutdown", () => {
  it("answers 503 in the error format to requests arriving while the server closes, and lets the one in flight finish", async (t) => {
    const { server, url } = await startServer(t, { worker: false });
    const { hostname, port } = new URL(url);
    const socket = connect(Number(port), hostname);
    t.after(() => socket.destroy());
    await new Promise((resolve) => socket.once("connect", resolve));
    let received = "";
    socket.on("data", (chunk) => (received += chunk.toString()));
    const body = JSON.stringify({ payload: {}, type: "test.echo" });
    const head = `POST /api/jobs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKENS.admin}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`;
    // The first request is in flight: headers and half its body sent.
    socket.write(head + body.slice(0, 5));
    await new Promise((resolve) => setTimeout(resolve, 50)); // no event tells when the server has read the headers
    const closed = server.close();
    socket.write(`${body.slice(5)}GET /api/jobs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKENS.admin}\r\n\r\n`);
    await new Promise((resolve) => socket.once("close", resolve));
    await closed;
    const responses = received.split(/(?=HTTP\/1\.1 )/);
    assert.match(responses[0]!, /^HTTP\/1\.1 201 /);
    assert.match(responses[1]!, /^HTTP\/1\.1 503 /);
    assert.match(responses[1]!, /connection: close/i);
    assert.match(responses[1]!, /\{"error":\{"code":"OFFLOAD_ERR_NOT_READY","message":"The server is shutting down"\}\}/);
  });
});
