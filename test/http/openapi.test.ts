import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Validator } from "@seriousme/openapi-schema-validator";
import { startServer } from "./server-fixture.js";

/** Every route the server serves: the document must list each, and nothing else. */
const ROUTES = [
  "DELETE /api/jobs/{id}",
  "GET /api/events",
  "GET /api/job-types",
  "GET /api/jobs",
  "GET /api/jobs/{id}",
  "GET /api/jobs/{id}/events",
  "GET /api/jobs/{id}/status",
  "GET /api/openapi.json",
  "GET /api/queues",
  "GET /api/queues/throughput",
  "GET /api/session",
  "GET /api/workers",
  "GET /healthz",
  "GET /metrics",
  "GET /readyz",
  "POST /api/jobs",
  "POST /api/jobs/{id}/cancel",
  "POST /api/jobs/{id}/retry",
  "POST /api/jobs/{id}/run-now",
  "POST /api/queues/{name}/pause",
  "POST /api/queues/{name}/resume",
];

describe("HTTP OpenAPI document", () => {
  it("validates as OpenAPI 3.1, lists every route, and each listed route exists on the server", async (t) => {
    const { api, url: base } = await startServer(t, { worker: false });
    const { body: document, status } = await api("GET", "/api/openapi.json", { token: null });
    assert.equal(status, 200);
    const validator = new Validator();
    const result = await validator.validate(document);
    assert.deepEqual(result.errors ?? [], []);
    assert.equal(result.valid, true);
    assert.equal(validator.version, "3.1");
    const listed = Object.entries(document.paths as Record<string, Record<string, unknown>>).flatMap(([path, item]) => Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`));
    assert.deepEqual(listed.sort(), [...ROUTES].sort());
    for (const route of ROUTES) {
      const [method, path] = route.split(" ") as [string, string];
      const url = path.replace("{id}", "01a20000-0000-7000-8000-000000000000").replace("{name}", "default");
      if (route === "GET /api/events") {
        // A stream that stays open: its headers are answer enough.
        const controller = new AbortController();
        const response = await fetch(base + url, { headers: { authorization: "Bearer admin-token-1" }, signal: controller.signal });
        assert.equal(response.status, 200);
        controller.abort();
        continue;
      }
      const response = await api(method, url);
      if (response.body?.error) assert.notEqual(response.body.error.code, "OFFLOAD_ERR_NOT_FOUND", route);
    }
  });

  it("gives the routes under a plugin's prefix", async () => {
    const { buildOpenApiDocument } = await import("../../src/http/openapi.js");
    const document = buildOpenApiDocument({ prefix: "/jobs/", version: "1.0.0" }) as { paths: Record<string, unknown> };
    assert.ok("/jobs/api/jobs" in document.paths && "/jobs/healthz" in document.paths);
  });
});
