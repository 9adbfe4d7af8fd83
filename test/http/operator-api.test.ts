import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { waitFor } from "../helpers.js";
import { startServer } from "./server-fixture.js";

describe("HTTP API for operators (the dashboard's routes)", () => {
  it("tells a token its role on /api/session", async (t) => {
    const { api } = await startServer(t);
    assert.deepEqual((await api("GET", "/api/session")).body, { owner: null, role: "admin", tokensRequired: true });
    assert.deepEqual((await api("GET", "/api/session", { token: "alice" })).body, { owner: "alice", role: "owner", tokensRequired: true });
    assert.deepEqual((await api("GET", "/api/session", { token: "reader" })).body, { owner: null, role: "read-only", tokensRequired: true });
    assert.equal((await api("GET", "/api/session", { token: null })).status, 401);
    assert.equal((await api("GET", "/api/session?x=1")).status, 400);
  });

  it("shows handlers' stack traces to admin and read-only tokens, never to owner tokens unless told to", async (t) => {
    const { api } = await startServer(t);
    const id = (await api("POST", "/api/jobs", { body: { owner: "alice", payload: {}, type: "test.fail" } })).body.id;
    await waitFor(async () => (await api("GET", `/api/jobs/${id}`)).body.status === "failed");
    for (const token of ["admin", "reader"] as const) {
      const job = (await api("GET", `/api/jobs/${id}`, { token })).body;
      assert.match(job.error.stack, /failed on purpose\n\s+at /, token);
      assert.match(job.errors[0].stack, /failed on purpose/, token);
    }
    const own = (await api("GET", `/api/jobs/${id}`, { token: "alice" })).body;
    assert.equal(own.error.message, "failed on purpose");
    assert.equal(own.error.stack, null);
    assert.equal(own.errors[0].stack, null);

    const hidden = await startServer(t, { exposeErrorStacks: false });
    const other = (await hidden.api("POST", "/api/jobs", { body: { payload: {}, type: "test.fail" } })).body.id;
    await waitFor(async () => (await hidden.api("GET", `/api/jobs/${other}`)).body.status === "failed");
    assert.equal((await hidden.api("GET", `/api/jobs/${other}`)).body.error.stack, null);
  });

  it("refuses changes sent from another origin's page, and takes them from its own and allowed origins", async (t) => {
    const { api, url } = await startServer(t, { allowedOrigins: ["https://admin.example.com"] });
    const body = { payload: {}, type: "test.echo" };
    const foreign = await api("POST", "/api/jobs", { body, headers: { origin: "https://evil.example" } });
    assert.equal(foreign.status, 403);
    assert.equal(foreign.body.error.code, "OFFLOAD_ERR_FORBIDDEN");
    assert.match(foreign.body.error.message, /https:\/\/evil\.example/);
    assert.equal((await api("POST", "/api/jobs", { body, headers: { origin: "null" } })).status, 403, "opaque origin");
    assert.equal((await api("POST", "/api/jobs", { body, headers: { "sec-fetch-site": "cross-site" } })).status, 403);
    assert.equal((await api("POST", "/api/queues/default/pause", { headers: { origin: "http://localhost:1" } })).status, 403);
    // Nothing of those was stored or changed.
    assert.deepEqual((await api("GET", "/api/jobs")).body.items, []);
    assert.equal((await api("GET", "/api/queues")).body.items.find((q: { queue: string }) => q.queue === "default")?.paused ?? false, false);
    // Reads from anywhere are fine (they need the token).
    assert.equal((await api("GET", "/api/jobs", { headers: { origin: "https://evil.example" } })).status, 200);
    // Its own origin, an allowed one, and clients that send no Origin pass.
    assert.equal((await api("POST", "/api/jobs", { body, headers: { origin: url } })).status, 201);
    assert.equal((await api("POST", "/api/jobs", { body, headers: { origin: "https://admin.example.com" } })).status, 201);
    assert.equal((await api("POST", "/api/jobs", { body, headers: { "sec-fetch-site": "same-origin" } })).status, 201);
    assert.equal((await api("POST", "/api/jobs", { body })).status, 201);
  });

  it("runs a scheduled job now (run-now), refusing other states and read-only tokens", async (t) => {
    const { api } = await startServer(t);
    const job = (await api("POST", "/api/jobs", { body: { delay: "1h", payload: {}, type: "test.echo" } })).body;
    assert.equal(job.status, "scheduled");
    assert.equal((await api("POST", `/api/jobs/${job.id}/run-now`, { token: "reader" })).status, 403);
    assert.equal((await api("POST", `/api/jobs/${job.id}/run-now`, { token: "alice" })).status, 404, "another owner's job is not found");
    const ran = await api("POST", `/api/jobs/${job.id}/run-now`);
    assert.equal(ran.status, 200);
    assert.ok(Date.parse(ran.body.runAt) < Date.parse(job.runAt));
    await waitFor(async () => (await api("GET", `/api/jobs/${job.id}`)).body.status === "completed");
    const again = await api("POST", `/api/jobs/${job.id}/run-now`);
    assert.equal(again.status, 409);
    assert.equal(again.body.error.code, "OFFLOAD_ERR_INVALID_STATE");
    assert.equal((await api("POST", "/api/jobs/00000000-0000-7000-8000-000000000000/run-now")).status, 404);
  });

  it("reports throughput and latency per minute, and the workers alive with what they run", async (t) => {
    const { api, gates } = await startServer(t);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await api("POST", "/api/jobs", { body: { payload: {}, type: "test.echo" } })).body.id);
    ids.push((await api("POST", "/api/jobs", { body: { payload: {}, type: "test.fail" } })).body.id);
    await waitFor(async () => (await Promise.all(ids.map(async (id) => (await api("GET", `/api/jobs/${id}`)).body.status))).every((s) => s === "completed" || s === "failed"));

    const series = (await api("GET", "/api/queues/throughput?minutes=5", { token: "reader" })).body;
    assert.equal(series.bucketSeconds, 60);
    assert.equal(series.buckets.length, 5);
    assert.ok(series.buckets.every((b: string, i: number) => i === 0 || Date.parse(b) - Date.parse(series.buckets[i - 1]) === 60_000));
    const byQueue = series.items.find((q: { queue: string }) => q.queue === "default");
    const sum = (list: number[]) => list.reduce((a, b) => a + b, 0);
    assert.equal(sum(byQueue.completed), 3);
    assert.equal(sum(byQueue.failed), 1);
    assert.ok(byQueue.latencyMs.some((v: number | null) => v !== null && v >= 0));
    assert.ok(byQueue.latencyMs.every((v: number | null, i: number) => (v === null) === (byQueue.completed[i] + byQueue.failed[i] === 0)));
    assert.equal((await api("GET", "/api/queues/throughput")).body.buckets.length, 60);
    for (const bad of ["0", "61", "x", "1.5"]) assert.equal((await api("GET", `/api/queues/throughput?minutes=${bad}`)).status, 400, bad);
    assert.equal((await api("GET", "/api/queues/throughput", { token: "alice" })).status, 403);

    const queue = (await api("GET", "/api/queues")).body.items.find((q: { queue: string }) => q.queue === "default");
    assert.equal(typeof queue.latencyMs.lastMinute, "number");
    assert.equal(typeof queue.latencyMs.lastHour, "number");

    // A gated job runs: the worker lists it.
    const gated = (await api("POST", "/api/jobs", { body: { payload: { gate: "w", steps: 1 }, type: "test.gated" } })).body.id;
    await waitFor(async () => (await api("GET", `/api/jobs/${gated}`)).body.status === "running");
    const workers = (await api("GET", "/api/workers", { token: "reader" })).body.items;
    assert.equal(workers.length, 1);
    assert.equal(workers[0].pid, process.pid);
    assert.ok(workers[0].queues.some((q: { queue: string }) => q.queue === "gated"));
    assert.deepEqual(
      workers[0].running.map((r: { id: string; type: string }) => [r.id, r.type]),
      [[gated, "test.gated"]],
    );
    assert.equal((await api("GET", "/api/workers", { token: "alice" })).status, 403);
    gates.get("w")![0]!.open();
    await waitFor(async () => (await api("GET", `/api/jobs/${gated}`)).body.status === "completed");
  });

  it("forgets a worker that stops", async (t) => {
    const { api, offload } = await startServer(t);
    await waitFor(async () => (await api("GET", "/api/workers")).body.items.length === 1);
    await offload.stop();
    assert.deepEqual((await api("GET", "/api/workers")).body.items, []);
  });
});

describe("serverSettingsFromEnv", () => {
  it("reads OFFLOAD_ALLOWED_ORIGINS and refuses what is not an origin", async () => {
    const { serverSettingsFromEnv } = await import("../../src/http/server.js");
    assert.deepEqual(serverSettingsFromEnv({ OFFLOAD_ALLOWED_ORIGINS: " https://a.example , http://b.example:8080 " }).allowedOrigins, [
      "https://a.example",
      "http://b.example:8080",
    ]);
    assert.deepEqual(serverSettingsFromEnv({}).allowedOrigins, []);
    assert.throws(() => serverSettingsFromEnv({ OFFLOAD_ALLOWED_ORIGINS: "https://a.example/path" }), /OFFLOAD_ALLOWED_ORIGINS: expected origins/);
    assert.throws(() => serverSettingsFromEnv({ OFFLOAD_ALLOWED_ORIGINS: "ftp://a.example" }), /OFFLOAD_ALLOWED_ORIGINS/);
  });
});
