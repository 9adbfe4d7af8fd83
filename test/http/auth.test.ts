import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { createServer, parseTokenEntries, tokensFromEnv } from "../../src/http/index.js";
import { createOffload, OffloadError } from "../../src/index.js";
import { tempSqlite } from "../helpers.js";
import { openEvents, startServer, TOKENS } from "./server-fixture.js";

describe("HTTP auth: tokens", () => {
  it("parses token=role entries from OFFLOAD_TOKENS and OFFLOAD_TOKENS_FILE, tokens with = included", (t) => {
    const db = tempSqlite("offload-tokens");
    t.after(db.cleanup);
    const file = join(db.dir, "tokens");
    writeFileSync(file, "# operators\nfile-admin=admin\n\nZm9vYmFy==owner:user=7\n");
    const tokens = tokensFromEnv({ OFFLOAD_TOKENS: "k1=admin, k2=owner:user-42,k3=read-only", OFFLOAD_TOKENS_FILE: file });
    assert.deepEqual(tokens, [
      { role: { kind: "admin" }, token: "k1" },
      { role: { kind: "owner", owner: "user-42" }, token: "k2" },
      { role: { kind: "read-only" }, token: "k3" },
      { role: { kind: "admin" }, token: "file-admin" },
      { role: { kind: "owner", owner: "user=7" }, token: "Zm9vYmFy=" },
    ]);
    assert.deepEqual(tokensFromEnv({}), []);
  });

  it("refuses bad entries naming where they are, never echoing the token", () => {
    for (const [text, pattern] of [
      ["secret-token=root", /entry 1: unknown role "root"/],
      ["no-role-here", /entry 1: expected token=role/],
      ["=admin", /entry 1: expected token=role/],
      ["k1=owner:", /unknown role "owner:": expected admin, read-only or owner:<id>/],
      [`k1=owner:${"x".repeat(201)}`, /owner id must be/],
    ] as const) {
      assert.throws(
        () => parseTokenEntries([{ text, where: "entry 1" }]),
        (error: unknown) => error instanceof OffloadError && pattern.test(error.message) && !error.message.includes("secret-token"),
      );
    }
    assert.throws(() => parseTokenEntries([{ text: "a=admin", where: "x" }, { text: "a=read-only", where: "y" }]), /listed twice/);
    assert.throws(() => tokensFromEnv({ OFFLOAD_TOKENS_FILE: "/nonexistent/tokens" }), /OFFLOAD_TOKENS_FILE: cannot read/);
  });

  it("without tokens listens on loopback only, and refuses another address", async (t) => {
    const offload = createOffload({ database: tempSqliteUrl(t), logger: false });
    await assert.rejects(createServer({ host: "0.0.0.0", offload, port: 0 }), /Refusing to listen on 0\.0\.0\.0 without tokens/);
    const server = await createServer({ offload, port: 0 });
    t.after(() => server.close());
    assert.equal(server.host, "127.0.0.1");
    // No tokens: every local caller is admin.
    assert.equal((await fetch(`${server.url}/api/queues`)).status, 200);
    const withTokens = await createServer({ host: "0.0.0.0", offload, port: 0, tokens: "k=admin" });
    await withTokens.close();
    // Tokens text without a single entry is no tokens: every caller would be admin.
    for (const tokens of [",", " , ", [] as const]) {
      const open = createServer({ host: "0.0.0.0", offload, port: 0, tokens }).then(async (s) => {
        await s.close();
        throw new Error(`listened on 0.0.0.0 with tokens ${JSON.stringify(tokens)}, every caller admin`);
      });
      await assert.rejects(open, /Refusing to listen on 0\.0\.0\.0 without tokens/);
    }
  });
});

function tempSqliteUrl(t: { after: (fn: () => void) => void }): string {
  const db = tempSqlite("offload-auth");
  t.after(db.cleanup);
  return db.url;
}

describe("HTTP auth: roles", () => {
  it("answers 401 without a token or with an unknown one, with WWW-Authenticate", async (t) => {
    const { api } = await startServer(t, { worker: false });
    for (const token of [null, "wrong", `${TOKENS.admin}x`]) {
      const response = await api("GET", "/api/jobs", { token });
      assert.equal(response.status, 401);
      assert.equal(response.body.error.code, "OFFLOAD_ERR_UNAUTHORIZED");
      assert.match(response.headers.get("www-authenticate") ?? "", /^Bearer/);
    }
    const basic = await api("GET", "/api/jobs", { headers: { authorization: `Basic ${TOKENS.admin}` }, token: null });
    assert.equal(basic.status, 401);
  });

  it("slows down an address after many failed tokens (429 with Retry-After)", async (t) => {
    const { api } = await startServer(t, { worker: false });
    let last = await api("GET", "/api/jobs", { token: "guess-0" });
    for (let i = 1; i <= 40 && last.status === 401; i++) last = await api("GET", "/api/jobs", { token: `guess-${i}` });
    assert.equal(last.status, 429);
    assert.equal(last.body.error.code, "OFFLOAD_ERR_RATE_LIMITED");
    assert.ok(Number(last.headers.get("retry-after")) >= 1);
  });

  it("lets a read-only token read everything and change nothing (403)", async (t) => {
    const { api } = await startServer(t, { worker: false });
    const id = (await api("POST", "/api/jobs", { body: { owner: "alice", payload: {}, type: "test.echo" } })).body.id;
    for (const path of [`/api/jobs/${id}`, `/api/jobs/${id}/status`, "/api/jobs", "/api/queues", "/api/job-types", "/metrics"]) {
      assert.equal((await api("GET", path, { token: "reader" })).status, 200, path);
    }
    for (const [method, path, body] of [
      ["POST", "/api/jobs", { payload: {}, type: "test.echo" }],
      ["POST", `/api/jobs/${id}/cancel`, undefined],
      ["POST", `/api/jobs/${id}/retry`, undefined],
      ["DELETE", `/api/jobs/${id}`, undefined],
      ["POST", "/api/queues/default/pause", undefined],
      ["POST", "/api/queues/default/resume", undefined],
    ] as const) {
      const response = await api(method, path, { body, token: "reader" });
      assert.equal(response.status, 403, `${method} ${path}`);
      assert.equal(response.body.error.code, "OFFLOAD_ERR_FORBIDDEN");
    }
    assert.equal((await api("GET", `/api/jobs/${id}`)).body.status, "queued");
  });

  it("keeps queue controls to admin tokens and queue figures away from owner tokens", async (t) => {
    const { api } = await startServer(t, { worker: false });
    assert.equal((await api("POST", "/api/queues/default/pause", { token: "alice" })).status, 403);
    assert.equal((await api("GET", "/api/queues", { token: "alice" })).status, 403);
    assert.equal((await api("GET", "/metrics", { token: "alice" })).status, 403);
    assert.equal((await api("GET", "/api/job-types", { token: "alice" })).status, 200);
  });
});

describe("HTTP auth: owner scoping", () => {
  it("never lets owner A read, cancel, retry, delete, list or stream owner B's job: 404 as if it did not exist", async (t) => {
    const { api, url } = await startServer(t, { worker: false });
    const bobs = (await api("POST", "/api/jobs", { body: { payload: {}, type: "test.echo" }, token: "bob" })).body;
    assert.equal(bobs.owner, "bob");
    const missing = "01a20000-0000-7000-8000-000000000000";
    for (const [method, path] of [
      ["GET", `/api/jobs/${bobs.id}`],
      ["GET", `/api/jobs/${bobs.id}/status`],
      ["GET", `/api/jobs/${bobs.id}/events`],
      ["POST", `/api/jobs/${bobs.id}/cancel`],
      ["POST", `/api/jobs/${bobs.id}/retry`],
      ["DELETE", `/api/jobs/${bobs.id}`],
    ] as const) {
      const theirs = await api(method, path, { token: "alice" });
      const none = await api(method, path.replace(bobs.id, missing), { token: "alice" });
      assert.equal(theirs.status, 404, `${method} ${path}`);
      assert.deepEqual(theirs.body.error.code, "OFFLOAD_ERR_JOB_NOT_FOUND");
      // Word for word the answer for a job that does not exist, but for the id.
      assert.equal(theirs.text.replace(bobs.id, "ID"), none.text.replace(missing, "ID"));
    }
    assert.deepEqual((await api("GET", "/api/jobs", { token: "alice" })).body.items, []);
    assert.deepEqual((await api("GET", "/api/jobs?owner=bob", { token: "alice" })).body.items, []);
    assert.deepEqual((await api("GET", "/api/jobs?owner=bob", { token: "bob" })).body.items.map((j: any) => j.id), [bobs.id]);
    // Bob's job still waits, untouched.
    assert.equal((await api("GET", `/api/jobs/${bobs.id}`, { token: "bob" })).body.status, "queued");
    // Alice's stream of every event does not carry Bob's.
    const stream = await openEvents(`${url}/api/events`, TOKENS.alice);
    t.after(stream.close);
    await api("POST", `/api/jobs/${bobs.id}/cancel`, { token: "bob" });
    const alices = (await api("POST", "/api/jobs", { body: { payload: {}, type: "test.echo" }, token: "alice" })).body;
    const seen = await stream.next((e) => e.event === "job:enqueued");
    assert.equal(seen.data.id, alices.id);
    assert.ok(stream.events.every((e) => e.data.id !== bobs.id));
  });

  it("creates jobs only as the token's owner, and hides a uniqueKey held by another owner's job", async (t) => {
    const { api } = await startServer(t, { worker: false });
    const own = await api("POST", "/api/jobs", { body: { payload: {}, type: "test.echo", uniqueKey: "shared" }, token: "alice" });
    assert.deepEqual([own.status, own.body.owner], [201, "alice"]);
    const asBob = await api("POST", "/api/jobs", { body: { owner: "bob", payload: {}, type: "test.echo" }, token: "alice" });
    assert.deepEqual([asBob.status, asBob.body.error.code], [403, "OFFLOAD_ERR_FORBIDDEN"]);
    const clash = await api("POST", "/api/jobs", { body: { payload: {}, type: "test.echo", uniqueKey: "shared" }, token: "bob" });
    assert.equal(clash.status, 409);
    assert.ok(!clash.text.includes(own.body.id), "the other owner's job id is not revealed");
    // Admins create jobs for anyone.
    assert.equal((await api("POST", "/api/jobs", { body: { owner: "bob", payload: {}, type: "test.echo" } })).body.owner, "bob");
  });

  it("does not name another owner's job in an Idempotency-Key conflict (the key's first request met that job's uniqueKey)", async (t) => {
    const { api } = await startServer(t, { worker: false });
    const bobs = (await api("POST", "/api/jobs", { body: { payload: {}, type: "test.echo", uniqueKey: "shared" }, token: "bob" })).body;
    const headers = { "idempotency-key": "k-1" };
    const first = await api("POST", "/api/jobs", { body: { payload: {}, type: "test.echo", uniqueKey: "shared" }, headers, token: "alice" });
    assert.equal(first.status, 409);
    assert.ok(!first.text.includes(bobs.id), `the other owner's job id is not revealed: ${first.text}`);
    // Nothing of that request was stored, its key included: the key is still free, not a conflict naming bob's job.
    const other = await api("POST", "/api/jobs", { body: { payload: { value: "other" }, type: "test.echo", uniqueKey: "shared" }, headers, token: "alice" });
    assert.equal(other.status, 409);
    assert.notEqual(other.body.error.code, "OFFLOAD_ERR_IDEMPOTENCY_CONFLICT");
    assert.ok(!other.text.includes(bobs.id), `the other owner's job id is not revealed: ${other.text}`);
    const fresh = await api("POST", "/api/jobs", { body: { payload: { value: "fresh" }, type: "test.echo" }, headers, token: "alice" });
    assert.deepEqual([fresh.status, fresh.body.owner], [201, "alice"]);
    // A conflict on the caller's own job still names it.
    const own = (await api("POST", "/api/jobs", { body: { payload: {}, type: "test.echo" }, headers: { "idempotency-key": "k-2" }, token: "alice" })).body;
    const ownConflict = await api("POST", "/api/jobs", { body: { payload: { value: "x" }, type: "test.echo" }, headers: { "idempotency-key": "k-2" }, token: "alice" });
    assert.equal(ownConflict.status, 409);
    assert.equal(ownConflict.body.error.details.jobId, own.id);
  });
});
