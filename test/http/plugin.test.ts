import assert from "node:assert/strict";
import { describe, it } from "node:test";
import Fastify from "fastify";
import { z } from "zod";
import { offloadHttp } from "../../src/http/index.js";
import { createOffload, OffloadError } from "../../src/index.js";
import { tempSqlite } from "../helpers.js";

describe("offloadHttp plugin", () => {
  it("mounts under a prefix in the application's own server, leaving its other routes alone", async (t) => {
    const db = tempSqlite("offload-plugin");
    const offload = createOffload({ database: db.url, logger: false });
    offload.define("mail", { schema: z.object({ to: z.string() }) }, async () => null);
    const app = Fastify();
    app.post("/own", async (request) => ({ got: request.body }));
    await app.register(offloadHttp, { offload, prefix: "/jobs", tokens: "k=admin" });
    await app.listen({ host: "127.0.0.1", port: 0 });
    t.after(async () => {
      await app.close();
      await offload.close();
      db.cleanup();
    });
    const address = app.server.address() as { port: number };
    const base = `http://127.0.0.1:${address.port}`;
    const headers = { authorization: "Bearer k", "content-type": "application/json" };
    const created = await fetch(`${base}/jobs/api/jobs`, { body: JSON.stringify({ payload: { to: "a" }, type: "mail" }), headers, method: "POST" });
    assert.equal(created.status, 201);
    assert.match(created.headers.get("location") ?? "", /^\/jobs\/api\/jobs\//);
    const missing = await fetch(`${base}/jobs/api/nothing`, { headers });
    assert.deepEqual(((await missing.json()) as any).error.code, "OFFLOAD_ERR_NOT_FOUND");
    // The application's own route keeps Fastify's parser and has no token check.
    const own = await fetch(`${base}/own`, { body: JSON.stringify({ x: 1 }), headers: { "content-type": "application/json" }, method: "POST" });
    assert.deepEqual(await own.json(), { got: { x: 1 } });
    const doc = (await (await fetch(`${base}/jobs/api/openapi.json`)).json()) as { paths: Record<string, unknown> };
    assert.ok("/jobs/api/jobs" in doc.paths);
  });

  it("refuses bad options, naming the field", async () => {
    const app = Fastify();
    await assert.rejects(
      async () => void (await app.register(offloadHttp, { offload: {} as never }).ready()),
      (error: unknown) => error instanceof OffloadError && /options\.offload/.test(error.message),
    );
    const app2 = Fastify();
    const offload = createOffload({ database: "sqlite::memory:", logger: false });
    await assert.rejects(async () => void (await app2.register(offloadHttp, { offload, payloadLimit: -1 }).ready()), /options\.payloadLimit/);
    await assert.rejects(async () => void (await Fastify().register(offloadHttp, { offload, tokens: "k=superuser" }).ready()), /unknown role "superuser"/);
    await offload.close();
  });
});
