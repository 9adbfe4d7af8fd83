import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { z } from "zod";
import { waitFor } from "../helpers.js";
import { openOffload } from "./fixture.js";

const schema = z.object({ label: z.string() });

describe("claim order", () => {
  it("runs higher priority first, then equal priorities in enqueue order (concurrency 1)", async (t) => {
    const offload = openOffload(t);
    const order: string[] = [];
    const job = offload.define("task", { priority: 5, schema }, async ({ label }) => void order.push(label));
    await job.enqueue({ label: "p0-a" }, { priority: 0 });
    await job.enqueue({ label: "p5-type-default-a" });
    await job.enqueue({ label: "p-1" }, { priority: -1 });
    await job.enqueue({ label: "p5-b" }, { priority: 5 });
    await job.enqueue({ label: "p10" }, { priority: 10 });
    await job.enqueue({ label: "p0-b" }, { priority: 0 });
    await job.enqueue({ label: "p5-type-default-c" });
    await offload.start({ concurrency: 1 });
    await waitFor(() => order.length === 7);
    assert.deepEqual(order, ["p10", "p5-type-default-a", "p5-b", "p5-type-default-c", "p0-a", "p0-b", "p-1"]);
  });

  it("runs equal priorities in runAt order before enqueue order", async (t) => {
    const offload = openOffload(t);
    const order: string[] = [];
    const job = offload.define("task", { schema }, async ({ label }) => void order.push(label));
    const now = Date.now();
    await job.enqueue({ label: "due 1s ago" }, { runAt: now - 1_000 });
    await job.enqueue({ label: "due 3s ago" }, { runAt: now - 3_000 });
    await job.enqueue({ label: "due 2s ago" }, { runAt: now - 2_000 });
    // Same runAt (one batch shares the enqueue time): enqueue order decides.
    await job.enqueueMany([{ label: "batch 1" }, { label: "batch 2" }, { label: "batch 3" }]);
    await job.enqueue({ label: "due 2s ago, enqueued last" }, { runAt: now - 2_000 });
    await offload.start({ concurrency: 1 });
    await waitFor(() => order.length === 7);
    assert.deepEqual(order, ["due 3s ago", "due 2s ago", "due 2s ago, enqueued last", "due 1s ago", "batch 1", "batch 2", "batch 3"]);
  });

  it("serves each queue with its own concurrency and leaves unlisted queues alone", async (t) => {
    const offload = openOffload(t);
    let running = 0;
    let peak = 0;
    const media = offload.define("transcode", { queue: "media", schema }, async () => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((resolve) => setImmediate(resolve));
      await new Promise((resolve) => setTimeout(resolve, 5));
      running--;
    });
    const other = offload.define("other", { queue: "other", schema }, async () => null);
    const jobs = await media.enqueueMany(Array.from({ length: 12 }, (_, i) => ({ label: String(i) })));
    const untouched = await other.enqueue({ label: "x" });
    await offload.start({ concurrency: { media: 3 } });
    await waitFor(async () => (await offload.listJobs({ queue: "media", status: "completed" })).items.length === jobs.length);
    assert.ok(peak <= 3, `ran ${peak} media jobs at once with 3 slots`);
    assert.ok(peak >= 2, `never ran media jobs in parallel (peak ${peak})`);
    assert.equal((await offload.getJob(untouched.id))!.status, "queued");
  });
});
