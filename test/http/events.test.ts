import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { z } from "zod";
import { createOffload } from "../../src/index.js";
import { openEvents, startServer, TOKENS } from "./server-fixture.js";

describe("HTTP event streams", () => {
  it("streams a job: its state at once, each progress report within 100 ms of the handler's, state changes, and the end", async (t) => {
    const { api, gates, reported, url } = await startServer(t);
    const id = (await api("POST", "/api/jobs", { body: { payload: { gate: "g1", steps: 3 }, type: "test.gated" } })).body.id;
    const stream = await openEvents(`${url}/api/jobs/${id}/events`, TOKENS.admin);
    t.after(stream.close);
    assert.equal(stream.response.headers.get("content-type"), "text/event-stream; charset=utf-8");
    const first = await stream.next((e) => e.event === "job");
    assert.equal(first.data.id, id);
    const running = await stream.next((e) => e.event === "job" && e.data.status === "running");
    for (let step = 0; step < 3; step++) {
      const from = stream.events.length;
      await waitForGate(gates, "g1", step);
      gates.get("g1")![step]!.open();
      const event = await stream.next((e) => e.event === "progress", { from });
      assert.deepEqual([event.data.id, event.data.progress.processed, event.data.progress.total], [id, step + 1, 3]);
    }
    const done = await stream.next((e) => e.event === "job" && e.data.status === "completed");
    assert.deepEqual(done.data.result, { steps: 3 });
    assert.equal(done.data.progress.percent, 100);
    await stream.done;
    assert.ok(stream.ended, "the stream ends after the job finished");
    // Latency: the handler's report time against the arrival time of the matching event.
    const arrivals = stream.events.filter((e) => e.event === "progress").map((e) => ({ at: e.at, processed: e.data.progress.processed }));
    assert.deepEqual(arrivals.map((a) => a.processed), [1, 2, 3]);
    for (const report of reported.get(id)!) {
      const arrival = arrivals.find((a) => a.processed === report.processed)!;
      assert.ok(arrival.at - report.at < 100, `progress ${report.processed} arrived ${(arrival.at - report.at).toFixed(1)} ms after the report`);
    }
    assert.ok(stream.events.indexOf(running) < stream.events.findIndex((e) => e.event === "progress"));
  });

  it("ends at once with the job when it is already finished", async (t) => {
    const { api, url } = await startServer(t, { worker: false });
    const id = (await api("POST", "/api/jobs", { body: { payload: {}, type: "test.echo" } })).body.id;
    await api("POST", `/api/jobs/${id}/cancel`);
    const stream = await openEvents(`${url}/api/jobs/${id}/events`, TOKENS.admin);
    await stream.done;
    assert.deepEqual(stream.events.map((e) => [e.event, e.data.status]), [["job", "cancelled"]]);
  });

  it("follows a job run by a worker in another process, through the database", async (t) => {
    // The server's instance runs no worker; a second instance on the same file does, as another process would.
    const { api, database, url } = await startServer(t, { streamPollInterval: "100ms", worker: false });
    const other = createOffload({ database, logger: false });
    const release: (() => void)[] = [];
    other.define("test.gated", { queue: "gated", schema: z.object({ gate: z.string(), steps: z.number() }) }, async ({ steps }, ctx) => {
      for (let i = 1; i <= steps; i++) {
        await new Promise<void>((resolve) => release.push(resolve));
        await ctx.progress({ processed: i, total: steps });
      }
      return { steps };
    });
    t.after(() => other.close({ grace: 0 }));
    const id = (await api("POST", "/api/jobs", { body: { payload: { gate: "x", steps: 2 }, type: "test.gated" } })).body.id;
    const stream = await openEvents(`${url}/api/jobs/${id}/events`, TOKENS.admin);
    t.after(stream.close);
    await stream.next((e) => e.event === "job" && e.data.status === "queued");
    await other.start({ pollInterval: 50 });
    await stream.next((e) => e.event === "job" && e.data.status === "running");
    for (let step = 1; step <= 2; step++) {
      while (release.length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
      release.shift()!();
      if (step < 2) await stream.next((e) => e.event === "progress" && e.data.progress.processed === step);
    }
    const done = await stream.next((e) => e.event === "job" && e.data.status === "completed");
    assert.equal(done.data.progress.processed, 2);
    await stream.done;
  });

  it("streams every event the token may see on /api/events, filtered by queue", async (t) => {
    const { api, url } = await startServer(t);
    const all = await openEvents(`${url}/api/events`, TOKENS.reader);
    const gatedOnly = await openEvents(`${url}/api/events?queue=gated`, TOKENS.admin);
    t.after(() => {
      all.close();
      gatedOnly.close();
    });
    const echo = (await api("POST", "/api/jobs", { body: { payload: {}, type: "test.echo" } })).body.id;
    const failing = (await api("POST", "/api/jobs", { body: { payload: {}, type: "test.fail" } })).body.id;
    const gated = (await api("POST", "/api/jobs", { body: { payload: { gate: "q", steps: 1 }, type: "test.gated" } })).body.id;
    await all.next((e) => e.event === "job:completed" && e.data.id === echo);
    const failed = await all.next((e) => e.event === "job:failed" && e.data.id === failing);
    assert.match(failed.data.error.stack, /failed on purpose\n\s+at /, "operators (read-only) see handlers' stack traces");
    await all.next((e) => e.event === "job:started" && e.data.id === gated);
    await gatedOnly.next((e) => e.event === "job:started" && e.data.id === gated);
    assert.ok(gatedOnly.events.every((e) => e.data.queue === "gated"));
    const enqueued = await all.next((e) => e.event === "job:enqueued" && e.data.id === echo);
    assert.equal(enqueued.data.job.id, echo);
  });

  it("limits open streams per token (429), and ends every stream when the server closes", async (t) => {
    const { api, server, url } = await startServer(t, { maxStreams: 2, worker: false });
    const id = (await api("POST", "/api/jobs", { body: { payload: {}, type: "test.echo" } })).body.id;
    const a = await openEvents(`${url}/api/jobs/${id}/events`, TOKENS.admin);
    const b = await openEvents(`${url}/api/events`, TOKENS.admin);
    await a.next((e) => e.event === "job");
    const third = await api("GET", `/api/jobs/${id}/events`);
    assert.deepEqual([third.status, third.body.error.code], [429, "OFFLOAD_ERR_RATE_LIMITED"]);
    // Another token has its own allowance.
    const reader = await openEvents(`${url}/api/events`, TOKENS.reader);
    assert.equal(reader.response.status, 200);
    const closing = server.close();
    await Promise.all([a.done, b.done, reader.done]);
    await closing;
    assert.ok(a.ended && b.ended && reader.ended);
  });

  it("cleans up a stream whose client left before it opened: no poll of the job, no stream counted", async (t) => {
    const { api, offload, url } = await startServer(t, { maxStreams: 1, streamPollInterval: "20ms", worker: false });
    const id = (await api("POST", "/api/jobs", { body: { payload: {}, type: "test.echo" } })).body.id;
    // The job's first read is slow; the client gives up meanwhile.
    const getJob = offload.getJob.bind(offload);
    let reads = 0;
    let delay = 300;
    offload.getJob = async (jobId: string) => {
      reads++;
      if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
      return getJob(jobId);
    };
    const controller = new AbortController();
    const request = fetch(`${url}/api/jobs/${id}/events`, { headers: { authorization: `Bearer ${TOKENS.admin}` }, signal: controller.signal }).catch(() => null);
    await new Promise((resolve) => setTimeout(resolve, 100));
    controller.abort();
    await request;
    delay = 0;
    await new Promise((resolve) => setTimeout(resolve, 400));
    const before = reads;
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(reads, before, "the stream of a client that left does not poll the job");
    const next = await openEvents(`${url}/api/jobs/${id}/events`, TOKENS.admin);
    t.after(next.close);
    assert.equal(next.response.status, 200, "the stream of a client that left is not counted against maxStreams");
  });
});

async function waitForGate(gates: Map<string, unknown[]>, name: string, step: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!((gates.get(name)?.length ?? 0) > step)) {
    if (Date.now() > deadline) throw new Error(`gate ${name} never opened`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
