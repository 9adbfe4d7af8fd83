import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { tempSqlite, waitFor } from "../helpers.js";
import { startServer, TOKENS } from "./server-fixture.js";

/** Every error body has exactly this shape. */
function assertError(response: { body: any; status: number }, status: number, code: string): void {
  assert.equal(response.status, status, JSON.stringify(response.body));
  assert.deepEqual(Object.keys(response.body), ["error"]);
  assert.equal(response.body.error.code, code);
  assert.equal(typeof response.body.error.message, "string");
  for (const key of Object.keys(response.body.error)) assert.ok(["code", "details", "message"].includes(key), key);
}

describe("HTTP API routes", () => {
  it("enqueues a job (201), reads it whole and as a status, lists it, and runs it to completion", async (t) => {
    const { api } = await startServer(t);
    const created = await api("POST", "/api/jobs", { body: { payload: { value: "x" }, priority: 3, type: "test.echo" } });
    assert.equal(created.status, 201);
    assert.equal(created.body.deduplicated, false);
    assert.equal(created.body.priority, 3);
    assert.equal(created.headers.get("location"), `/api/jobs/${created.body.id}`);
    const id = created.body.id as string;
    const done = await waitFor(async () => {
      const r = await api("GET", `/api/jobs/${id}`);
      return r.body.status === "completed" ? r : null;
    });
    assert.deepEqual(done.body.result, { echoed: "x" });
    const status = await api("GET", `/api/jobs/${id}/status`);
    assert.deepEqual(Object.keys(status.body).sort(), ["attempt", "error", "id", "maxAttempts", "progress", "status"]);
    assert.deepEqual([status.body.id, status.body.status, status.body.attempt], [id, "completed", 1]);
    const list = await api("GET", "/api/jobs?status=completed&type=test.echo&queue=default&limit=10");
    assert.deepEqual(list.body.items.map((j: any) => j.id), [id]);
    assert.equal(list.body.nextCursor, null);
  });

  it("pages newest first with an opaque cursor and clamps limit to 1..500", async (t) => {
    const { api } = await startServer(t, { worker: false });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await api("POST", "/api/jobs", { body: { payload: {}, type: "test.echo" } })).body.id);
    const first = await api("GET", "/api/jobs?limit=0");
    assert.deepEqual(first.body.items.map((j: any) => j.id), [ids[2]]);
    const second = await api("GET", `/api/jobs?limit=2&cursor=${encodeURIComponent(first.body.nextCursor)}`);
    assert.deepEqual(second.body.items.map((j: any) => j.id), [ids[1], ids[0]]);
    assert.equal((await api("GET", "/api/jobs?limit=100000")).body.items.length, 3);
    assertError(await api("GET", "/api/jobs?cursor=not-a-cursor"), 400, "OFFLOAD_ERR_INVALID_INPUT");
  });

  it("returns the unfinished job holding a uniqueKey with 200 and deduplicated: true", async (t) => {
    const { api } = await startServer(t, { worker: false });
    const first = await api("POST", "/api/jobs", { body: { payload: {}, type: "test.echo", uniqueKey: "k" } });
    const again = await api("POST", "/api/jobs", { body: { payload: { value: "other" }, type: "test.echo", uniqueKey: "k" } });
    assert.deepEqual([first.status, again.status, again.body.deduplicated, again.body.id], [201, 200, true, first.body.id]);
  });

  it("replays an Idempotency-Key with the same body, refuses it with another (409), and stores nothing more", async (t) => {
    const { api, offload } = await startServer(t, { worker: false });
    const body = { payload: { value: "v" }, type: "test.echo" };
    const first = await api("POST", "/api/jobs", { body, headers: { "idempotency-key": "order-1" } });
    // The same body with its keys in another order is the same request.
    const again = await api("POST", "/api/jobs", { body: { type: "test.echo", payload: { value: "v" } }, headers: { "idempotency-key": "order-1" } });
    assert.deepEqual([first.status, again.status, again.body.id, again.headers.get("idempotent-replayed")], [201, 201, first.body.id, "true"]);
    assertError(await api("POST", "/api/jobs", { body: { ...body, priority: 1 }, headers: { "idempotency-key": "order-1" } }), 409, "OFFLOAD_ERR_IDEMPOTENCY_CONFLICT");
    // Keys are scoped per owner: bob's order-1 is his own.
    const bob = await api("POST", "/api/jobs", { body, headers: { "idempotency-key": "order-1" }, token: "bob" });
    assert.equal(bob.status, 201);
    assert.notEqual(bob.body.id, first.body.id);
    assert.equal((await offload.listJobs()).items.length, 2);
    assertError(await api("POST", "/api/jobs", { body, headers: { "idempotency-key": "x".repeat(201) } }), 400, "OFFLOAD_ERR_INVALID_INPUT");
  });

  it("keeps Idempotency-Keys in the database: a new server on the same file replays them", async (t) => {
    const first = await startServer(t, { worker: false });
    const body = { payload: {}, type: "test.echo" };
    const created = await first.api("POST", "/api/jobs", { body, headers: { "idempotency-key": "durable" } });
    await first.server.close();
    const { createServer } = await import("../../src/http/index.js");
    const second = await createServer({ offload: first.offload, port: 0, tokens: `${TOKENS.admin}=admin` });
    t.after(() => second.close());
    const response = await fetch(`${second.url}/api/jobs`, {
      body: JSON.stringify(body),
      headers: { authorization: `Bearer ${TOKENS.admin}`, "content-type": "application/json", "idempotency-key": "durable" },
      method: "POST",
    });
    assert.equal(((await response.json()) as { id: string }).id, created.body.id);
  });

  it("cancels, retries and deletes jobs, refusing what the state does not allow (409)", async (t) => {
    const { api } = await startServer(t, { worker: false });
    const id = (await api("POST", "/api/jobs", { body: { payload: {}, type: "test.echo" } })).body.id;
    assertError(await api("DELETE", `/api/jobs/${id}`), 409, "OFFLOAD_ERR_INVALID_STATE");
    assertError(await api("POST", `/api/jobs/${id}/retry`), 409, "OFFLOAD_ERR_INVALID_STATE");
    const cancelled = await api("POST", `/api/jobs/${id}/cancel`);
    assert.deepEqual([cancelled.status, cancelled.body.status], [200, "cancelled"]);
    assertError(await api("POST", `/api/jobs/${id}/cancel`), 409, "OFFLOAD_ERR_INVALID_STATE");
    const retried = await api("POST", `/api/jobs/${id}/retry`, { body: {} });
    assert.deepEqual([retried.status, retried.body.status], [200, "queued"]);
    await api("POST", `/api/jobs/${id}/cancel`);
    const deleted = await api("DELETE", `/api/jobs/${id}`);
    assert.deepEqual([deleted.status, deleted.text], [204, ""]);
    assertError(await api("GET", `/api/jobs/${id}`), 404, "OFFLOAD_ERR_JOB_NOT_FOUND");
  });

  it("reports queues with counts, throughput and oldest age, and pauses and resumes them", async (t) => {
    const { api } = await startServer(t);
    const paused = await api("POST", "/api/queues/default/pause");
    assert.deepEqual([paused.status, paused.body.queue, paused.body.paused, typeof paused.body.pausedAt], [200, "default", true, "string"]);
    const id = (await api("POST", "/api/jobs", { body: { payload: {}, type: "test.echo" } })).body.id;
    const queues = await api("GET", "/api/queues");
    const byName = Object.fromEntries(queues.body.items.map((q: any) => [q.queue, q]));
    assert.deepEqual(Object.keys(byName).sort(), ["default", "gated"]);
    assert.equal(byName.default.paused, true);
    assert.equal(byName.default.counts.queued, 1);
    assert.equal(typeof byName.default.oldestQueuedAgeMs, "number");
    assert.deepEqual(byName.gated.lastMinute, { completed: 0, failed: 0, processed: 0 });
    const resumed = await api("POST", "/api/queues/default/resume");
    assert.deepEqual([resumed.body.paused, resumed.body.pausedAt], [false, null]);
    await waitFor(async () => (await api("GET", `/api/jobs/${id}`)).body.status === "completed");
    const after = (await api("GET", "/api/queues")).body.items.find((q: any) => q.queue === "default");
    assert.deepEqual([after.counts.completed, after.lastMinute.completed, after.lastHour.processed], [1, 1, 1]);
  });

  it("lists job types with their options and payload JSON Schema", async (t) => {
    const { api } = await startServer(t, { worker: false });
    const { body } = await api("GET", "/api/job-types", { token: "reader" });
    assert.deepEqual(body.items.map((j: any) => j.name), ["test.echo", "test.fail", "test.gated"]);
    const echo = body.items[0];
    assert.deepEqual([echo.queue, echo.attempts, echo.priority, echo.timeoutMs, echo.backoff.type], ["default", 3, 0, null, "exponential"]);
    assert.equal(echo.payloadSchema.type, "object");
    assert.deepEqual(echo.payloadSchema.properties.value.type, "string");
  });

  it("answers /healthz, /readyz and /metrics", async (t) => {
    const { api } = await startServer(t, { worker: false });
    assert.deepEqual((await api("GET", "/healthz", { token: null })).body, { status: "ok" });
    assert.deepEqual((await api("GET", "/readyz", { token: null })).body, { status: "ready" });
    const metrics = await api("GET", "/metrics", { token: "reader" });
    assert.equal(metrics.status, 200);
    assert.match(metrics.headers.get("content-type") ?? "", /^text\/plain/);
    assert.match(metrics.text, /^# HELP offload_/m);
    assertError(await api("GET", "/metrics", { token: null }), 401, "OFFLOAD_ERR_UNAUTHORIZED");
  });

  it("answers 503 on /readyz when the database cannot be reached, while /healthz stays up", async (t) => {
    const { createServer } = await import("../../src/http/index.js");
    const { createOffload } = await import("../../src/index.js");
    const db = tempSqlite("offload-unreachable");
    t.after(db.cleanup);
    writeFileSync(join(db.dir, "not-a-directory"), "");
    // The database's directory is a file: every open fails.
    const offload = createOffload({ database: `sqlite:${join(db.dir, "not-a-directory", "x.db")}`, logger: false });
    const server = await createServer({ metrics: false, offload, port: 0 });
    t.after(() => server.close());
    const ready = await fetch(`${server.url}/readyz`);
    const body = (await ready.json()) as any;
    assert.equal(ready.status, 503);
    assert.equal(body.error.code, "OFFLOAD_ERR_NOT_READY");
    assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
    // A database error elsewhere is a 503 too, and names no file.
    const jobs = await fetch(`${server.url}/api/jobs`);
    const text = await jobs.text();
    assert.equal(jobs.status, 503);
    assert.doesNotMatch(text, /not-a-directory|x\.db|sqlite|tmp/i);
  });

  it("answers unknown routes with 404 in the error format", async (t) => {
    const { api } = await startServer(t, { worker: false });
    assertError(await api("GET", "/api/nothing"), 404, "OFFLOAD_ERR_NOT_FOUND");
    assertError(await api("PUT", "/api/jobs"), 404, "OFFLOAD_ERR_NOT_FOUND");
  });
});
