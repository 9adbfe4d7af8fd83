import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { z } from "zod";
import { OffloadError, type JobProgress, type ProgressUpdate } from "../../src/index.js";
import { nextEvent, waitFor } from "../helpers.js";
import { eventsOf, gate, openOffload, recordEvents, spyOn, waitForJob } from "./fixture.js";

const schema = z.object({ n: z.number() });
const EMPTY: JobProgress = { failed: null, message: null, percent: null, processed: null, total: null };

describe("progress", () => {
  it("merges each reported subset into the stored progress and derives percent from the counts", async (t) => {
    const offload = openOffload(t);
    const job = offload.define("task", { schema }, async (_p, ctx) => {
      await ctx.progress({ total: 10 });
      await ctx.progress({ processed: 3 });
      await ctx.progress({ message: "three done" });
      await ctx.progress({ failed: 1 });
    });
    const events = recordEvents(offload, ["job:progress"]);
    await offload.start({ concurrency: 1, progressInterval: "10ms" });
    const completed = nextEvent(offload, "job:completed");
    const { id, progress } = await job.enqueue({ n: 1 });
    assert.deepEqual(progress, EMPTY);
    await completed;
    assert.deepEqual(
      eventsOf(events, "job:progress", id).map((e) => e.progress),
      [
        { ...EMPTY, percent: 0, total: 10 },
        { ...EMPTY, percent: 30, processed: 3, total: 10 },
        { ...EMPTY, message: "three done", percent: 30, processed: 3, total: 10 },
        { failed: 1, message: "three done", percent: 40, processed: 3, total: 10 },
      ],
    );
    assert.deepEqual((await offload.getJob(id))!.progress, { failed: 1, message: "three done", percent: 40, processed: 3, total: 10 });
  });

  it("keeps a reported percent over the derived one, and leaves percent unset without a total", async (t) => {
    const offload = openOffload(t);
    const job = offload.define("task", { schema }, async ({ n }, ctx) => {
      if (n === 1) await ctx.progress({ percent: 55, processed: 1, total: 10 });
      else await ctx.progress({ processed: 7 });
    });
    await offload.start({ concurrency: 1 });
    const jobs = await job.enqueueMany([{ n: 1 }, { n: 2 }]);
    await waitFor(async () => (await offload.listJobs({ status: "completed" })).items.length === 2);
    assert.equal((await offload.getJob(jobs[0]!.id))!.progress.percent, 55);
    assert.deepEqual((await offload.getJob(jobs[1]!.id))!.progress, { ...EMPTY, processed: 7 });
  });

  it("rejects invalid progress naming the field, and keeps the last valid value", async (t) => {
    const offload = openOffload(t);
    const bad: [string, ProgressUpdate][] = [
      ["progress.percent", { percent: 150 }],
      ["progress.percent", { percent: -1 }],
      ["progress.processed", { processed: -1 }],
      ["progress.total", { total: 1.5 }],
      ["progress.message", { message: "x".repeat(1_001) }],
      ["progress", { done: 3 } as ProgressUpdate],
      ["progress", "half" as unknown as ProgressUpdate],
    ];
    const job = offload.define("task", { schema }, async (_p, ctx) => {
      await ctx.progress({ percent: 20 });
      const outcomes: { code: string; named: boolean }[] = [];
      for (const [field, update] of bad) {
        try {
          await ctx.progress(update);
          outcomes.push({ code: "accepted", named: false });
        } catch (error) {
          outcomes.push({ code: error instanceof OffloadError ? error.code : String(error), named: (error as Error).message.includes(field) });
        }
      }
      return outcomes;
    });
    await offload.start({ concurrency: 1 });
    const completed = nextEvent(offload, "job:completed");
    const { id } = await job.enqueue({ n: 1 });
    assert.deepEqual(
      (await completed).result,
      bad.map(() => ({ code: "OFFLOAD_ERR_INVALID_INPUT", named: true })),
    );
    assert.deepEqual((await offload.getJob(id))!.progress, { ...EMPTY, percent: 20 });
  });

  it("writes progress while the job runs, so others can read it", async (t) => {
    const offload = openOffload(t);
    const release = gate();
    const job = offload.define("task", { schema }, async (_p, ctx) => {
      await ctx.progress({ processed: 5, total: 10 });
      await release.promise;
    });
    await offload.start({ concurrency: 1, progressInterval: "20ms" });
    const { id } = await job.enqueue({ n: 1 });
    const view = await waitForJob(offload, id, (v) => v.progress.processed === 5);
    assert.equal(view.status, "running");
    assert.equal(view.progress.percent, 50);
    release.open();
  });

  it("coalesces 100,000 progress calls into a handful of writes and stores the last value before the job finishes", async (t) => {
    const offload = openOffload(t);
    const backend = await offload.backend();
    const writes = spyOn(backend, "jobProgressMany");
    const CALLS = 100_000;
    const job = offload.define("task", { schema }, async (_p, ctx) => {
      for (let i = 1; i <= CALLS; i++) await ctx.progress({ message: `item ${i}`, processed: i, total: CALLS });
      return "done";
    });
    await offload.start({ concurrency: 1 });
    const completed = nextEvent(offload, "job:completed", () => true, 30_000);
    const { id } = await job.enqueue({ n: 1 });
    await completed;
    // The completion event comes after the outcome is written: the last value must be there now.
    const view = (await offload.getJob(id))!;
    assert.equal(view.status, "completed");
    assert.deepEqual(view.progress, { failed: null, message: `item ${CALLS}`, percent: 100, processed: CALLS, total: CALLS });
    assert.ok(writes.calls.length <= 10, `${writes.calls.length} progress writes for ${CALLS} calls`);
  });

  it("keeps writes bounded by the interval when a handler reports between awaits for a long time", async (t) => {
    const offload = openOffload(t);
    const backend = await offload.backend();
    const writes = spyOn(backend, "jobProgressMany");
    let reports = 0;
    let ranMs = 0;
    const job = offload.define("task", { schema }, async (_p, ctx) => {
      const startedAt = Date.now();
      // Yields to the event loop between reports, so the coalescing timer can fire during the run.
      while (Date.now() - startedAt < 300) {
        await ctx.progress({ processed: ++reports });
        await new Promise((resolve) => setImmediate(resolve));
      }
      ranMs = Date.now() - startedAt;
    });
    await offload.start({ concurrency: 1, progressInterval: "50ms" });
    const completed = nextEvent(offload, "job:completed");
    const { id } = await job.enqueue({ n: 1 });
    await completed;
    assert.ok(reports > 100, `only ${reports} reports`);
    assert.ok(writes.calls.length >= 2, "progress was written during the run");
    assert.ok(writes.calls.length <= Math.ceil(ranMs / 50) + 2, `${writes.calls.length} writes in ${ranMs}ms at one per 50ms`);
    assert.equal((await offload.getJob(id))!.progress.processed, reports);
  });
});
