import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import Fastify from "fastify";
import { DASHBOARD_HEADERS, findDashboardDirectory, offloadDashboard } from "../../src/http/dashboard.js";
import { startServer } from "../http/server-fixture.js";

const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

describe("serving the dashboard", () => {
  it("serves the page at / without a token, with the CSP, nosniff, no-referrer and an ETag that answers 304", async (t) => {
    assert.ok(findDashboardDirectory(), "dist/dashboard is built (npm run build)");
    const { url } = await startServer(t);
    const page = await fetch(`${url}/`);
    assert.equal(page.status, 200);
    assert.equal(page.headers.get("content-type"), "text/html; charset=utf-8");
    assert.equal(page.headers.get("content-security-policy"), CSP);
    assert.equal(page.headers.get("x-content-type-options"), "nosniff");
    assert.equal(page.headers.get("referrer-policy"), "no-referrer");
    assert.equal(page.headers.get("cache-control"), "no-cache");
    const html = await page.text();
    assert.match(html, /<script type="module" src="\/dashboard\/main\.js"><\/script>/);
    const etag = page.headers.get("etag")!;
    assert.match(etag, /^"[\w-]+"$/);
    const again = await fetch(`${url}/`, { headers: { "if-none-match": etag } });
    assert.equal(again.status, 304);
    assert.equal(again.headers.get("content-security-policy"), CSP);
    assert.equal(await again.text(), "");

    for (const [path, type] of [
      ["/dashboard/main.js", "text/javascript; charset=utf-8"],
      ["/dashboard/style.css", "text/css; charset=utf-8"],
      ["/dashboard/favicon.svg", "image/svg+xml"],
    ] as const) {
      const asset = await fetch(url + path);
      assert.equal(asset.status, 200, path);
      assert.equal(asset.headers.get("content-type"), type, path);
      assert.ok((await asset.arrayBuffer()).byteLength > 100, path);
    }
    // The API still wants its token: the page is public, the data is not.
    assert.equal((await fetch(`${url}/api/jobs`)).status, 401);
  });

  it("serves only its fixed files: other paths, traversal and methods get the API's 404", async (t) => {
    const { url } = await startServer(t);
    for (const path of ["/dashboard/", "/dashboard/main.ts", "/dashboard/..%2f..%2fpackage.json", "/dashboard/%2e%2e/%2e%2e/package.json", "/index.html", "/dashboard/tsconfig.json"]) {
      const response = await fetch(url + path);
      assert.equal(response.status, 404, path);
      assert.equal(((await response.json()) as { error: { code: string } }).error.code, "OFFLOAD_ERR_NOT_FOUND", path);
    }
    const post = await fetch(`${url}/`, { method: "POST" });
    assert.equal(post.status, 404);
  });

  it("is left out with dashboard: false", async (t) => {
    const { url } = await startServer(t, { dashboard: false });
    assert.equal((await fetch(`${url}/`)).status, 404);
  });

  it("answers 503 in plain text saying to run npm run build when the dashboard is not built", async () => {
    const empty = mkdtempSync(join(tmpdir(), "offload-no-dashboard-"));
    const app = Fastify();
    try {
      await app.register(offloadDashboard, { directory: empty });
      const response = await app.inject({ method: "GET", url: "/" });
      assert.equal(response.statusCode, 503);
      assert.match(response.headers["content-type"] as string, /^text\/plain/);
      assert.match(response.body, /npm run build/);
      for (const [name, value] of Object.entries(DASHBOARD_HEADERS)) assert.equal(response.headers[name], value, name);
    } finally {
      await app.close();
      rmSync(empty, { force: true, recursive: true });
    }
  });
});
