import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { describe, it, type TestContext } from "node:test";
import { HttpSource, ServerError } from "../../src/cli/http-source.js";
import { parseServerUrl, resolveTarget, type JobSnapshot } from "../../src/cli/source.js";
import type { JobView } from "../../src/index.js";

const ID = "01a20456-11d9-716d-ba70-da8e7b9ca6c3";

function job(overrides: Partial<JobView>): JobView {
  return {
    attempt: 1,
    cancelRequested: false,
    createdAt: "2030-01-01T00:00:00.000Z",
    error: null,
    errors: [],
    finishedAt: null,
    id: ID,
    maxAttempts: 3,
    owner: null,
    payload: {},
    priority: 0,
    progress: { failed: null, message: null, percent: null, processed: null, total: null },
    queue: "media",
    result: null,
    runAt: "2030-01-01T00:00:00.000Z",
    startedAt: "2030-01-01T00:00:00.000Z",
    status: "running",
    type: "demo.transcribe",
    uniqueKey: null,
    updatedAt: "2030-01-01T00:00:00.000Z",
    ...overrides,
  };
}

/** A stand-in for an Offload server under a path prefix; `handle` answers each request. */
async function fakeServer(t: TestContext, handle: (req: IncomingMessage, res: ServerResponse) => void): Promise<URL> {
  const server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.after(async () => {
    // fetch keeps idle connections for reuse; close them rather than wait out their keep-alive.
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  const { port } = server.address() as { port: number };
  return parseServerUrl(`http://127.0.0.1:${port}/offload`);
}

const progress = (processed: number) => ({ failed: null, message: `segment ${processed}`, percent: processed * 25, processed, total: 4 });

describe("HttpSource", () => {
  it("watches a job over its event stream, reconnects when the stream ends early, and returns the finished job", async (t) => {
    const requests: string[] = [];
    let streams = 0;
    const base = await fakeServer(t, (req, res) => {
      requests.push(`${req.method} ${req.url} ${req.headers.authorization ?? "-"}`);
      if (req.url === `/offload/api/jobs/${ID}/events`) {
        streams++;
        res.writeHead(200, { "content-type": "text/event-stream" });
        if (streams === 1) {
          res.write(`: stream\n\nevent: job\ndata: ${JSON.stringify(job({}))}\n\n`);
          res.end(`event: progress\ndata: ${JSON.stringify({ attempt: 1, id: ID, progress: progress(1) })}\n\n`);
        } else {
          res.write(`event: progress\ndata: ${JSON.stringify({ attempt: 1, id: ID, progress: progress(2) })}\n\n`);
          res.write(`event: job\ndata: ${JSON.stringify(job({ progress: progress(4), status: "completed" }))}\n\n`);
          // Left open: the client stops reading once the job is finished.
        }
        return;
      }
      // The job as stored: untouched before the first stream, at its first progress after it, finished after the second.
      const stored =
        streams === 0 ? {} : streams === 1 ? { progress: progress(1) } : { finishedAt: "2030-01-01T00:00:02.000Z", progress: progress(4), result: { words: 9 }, status: "completed" as const };
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(job(stored)));
    });
    const source = new HttpSource(base, "secret");
    const seen: JobSnapshot[] = [];
    const final = await source.watch(ID, (s) => seen.push(s), new AbortController().signal);
    assert.deepEqual(final.result, { words: 9 });
    assert.deepEqual(
      seen.map((s) => [s.status, s.progress.processed]),
      [
        ["running", null],
        ["running", 1],
        ["running", 2],
        ["completed", 4],
      ],
    );
    assert.equal(streams, 2);
    assert.deepEqual(requests, [
      `GET /offload/api/jobs/${ID} Bearer secret`,
      `GET /offload/api/jobs/${ID}/events Bearer secret`,
      `GET /offload/api/jobs/${ID} Bearer secret`,
      `GET /offload/api/jobs/${ID}/events Bearer secret`,
      `GET /offload/api/jobs/${ID} Bearer secret`,
    ]);
  });

  it("turns the server's error body into the error message, and a non-JSON answer into a clear error", async (t) => {
    const base = await fakeServer(t, (req, res) => {
      if (req.url?.startsWith("/offload/api/jobs?")) {
        res.writeHead(502, { "content-type": "text/html" });
        res.end("<html>bad gateway</html>");
        return;
      }
      res.writeHead(404, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { code: "OFFLOAD_ERR_JOB_NOT_FOUND", message: `No job has id ${ID}` } }));
    });
    const source = new HttpSource(base, null);
    await assert.rejects(source.getJob(ID), (error: unknown) => {
      assert.ok(error instanceof ServerError);
      assert.deepEqual([error.message, error.status, error.code], [`No job has id ${ID}`, 404, "OFFLOAD_ERR_JOB_NOT_FOUND"]);
      return true;
    });
    await assert.rejects(source.listJobs({ limit: 5, status: "failed" }), { message: "GET /offload/api/jobs answered HTTP 502 Bad Gateway" });
  });
});

describe("resolveTarget", () => {
  it("picks the server from --url or env OFFLOAD_URL, unless --database is given, and validates both", () => {
    const env = { OFFLOAD_TOKEN: "t1", OFFLOAD_URL: "http://127.0.0.1:3000" };
    assert.deepEqual(resolveTarget({}, env), { kind: "http", token: "t1", url: new URL("http://127.0.0.1:3000/") });
    assert.deepEqual(resolveTarget({ database: "sqlite::memory:" }, env), { database: "sqlite::memory:", kind: "direct" });
    assert.deepEqual(resolveTarget({ token: "t2", url: "https://jobs.example.com/offload" }, {}), {
      kind: "http",
      token: "t2",
      url: new URL("https://jobs.example.com/offload/"),
    });
    assert.deepEqual(resolveTarget({}, {}), { database: undefined, kind: "direct" });
    const exitsTwo = (message: RegExp) => ({ exitCode: 2, message });
    assert.throws(() => resolveTarget({ database: "sqlite:x.db", url: "http://h" }, {}), exitsTwo(/exclude each other/));
    assert.throws(() => resolveTarget({ url: "http://user:pw@h" }, {}), exitsTwo(/not in the URL/));
    assert.throws(() => resolveTarget({ url: "http://h/?a=1" }, {}), exitsTwo(/without \?query/));
    assert.throws(() => resolveTarget({}, { OFFLOAD_URL: "not a url" }), exitsTwo(/^env OFFLOAD_URL: expected a URL/));
    assert.throws(() => resolveTarget({ token: "has space", url: "http://h" }, {}), exitsTwo(/^--token: expected 1 to 1000 printable characters/));
  });
});
