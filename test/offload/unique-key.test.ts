import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { z } from "zod";
import { nextEvent } from "../helpers.js";
import { gate, openOffload, recordEvents } from "./fixture.js";

const schema = z.object({ n: z.number() });

describe("uniqueKey", () => {
  it("returns the queued job marked deduplicated and stores nothing new", async (t) => {
    const offload = openOffload(t);
    const report = offload.define("report", { schema }, async () => null);
    const events = recordEvents(offload, ["job:enqueued"]);
    const first = await report.enqueue({ n: 1 }, { uniqueKey: "daily" });
    assert.equal(first.deduplicated, false);
    const second = await report.enqueue({ n: 2 }, { uniqueKey: "daily", priority: 9 });
    assert.equal(second.deduplicated, true);
    assert.equal(second.id, first.id);
    assert.deepEqual(second.payload, { n: 1 }, "the existing job is returned as stored, not the new payload");
    assert.equal(second.priority, 0);
    const { items } = await offload.listJobs();
    assert.deepEqual(
      items.map((j) => j.id),
      [first.id],
    );
    assert.equal(events.length, 1, "no job:enqueued for a deduplicated enqueue");
  });

  it("keys by type: the same key on another type, or another key, stores a new job", async (t) => {
    const offload = openOffload(t);
    const report = offload.define("report", { schema }, async () => null);
    const other = offload.define("other", { schema }, async () => null);
    const a = await report.enqueue({ n: 1 }, { uniqueKey: "k" });
    const b = await other.enqueue({ n: 1 }, { uniqueKey: "k" });
    const c = await report.enqueue({ n: 1 }, { uniqueKey: "k2" });
    const d = await report.enqueue({ n: 1 });
    const e = await report.enqueue({ n: 1 });
    assert.ok([a, b, c, d, e].every((j) => !j.deduplicated));
    assert.equal(new Set([a, b, c, d, e].map((j) => j.id)).size, 5);
  });

  it("deduplicates against a scheduled job and a running one", async (t) => {
    const offload = openOffload(t);
    const release = gate();
    const report = offload.define("report", { schema }, async () => release.promise);
    const scheduled = await report.enqueue({ n: 1 }, { delay: "1h", uniqueKey: "later" });
    const again = await report.enqueue({ n: 2 }, { uniqueKey: "later" });
    assert.equal(again.deduplicated, true);
    assert.equal(again.id, scheduled.id);
    assert.equal(again.status, "scheduled");

    const started = nextEvent(offload, "job:started");
    const running = await report.enqueue({ n: 3 }, { uniqueKey: "now" });
    await offload.start({ concurrency: 1 });
    await started;
    const whileRunning = await report.enqueue({ n: 4 }, { uniqueKey: "now" });
    assert.equal(whileRunning.deduplicated, true);
    assert.equal(whileRunning.id, running.id);
    assert.equal(whileRunning.status, "running");
    const completed = nextEvent(offload, "job:completed", (e) => e.id === running.id);
    release.open();
    await completed;
    assert.equal((await offload.listJobs()).items.length, 2);
  });

  it("stores a new job once the one holding the key has finished: completed, failed or cancelled", async (t) => {
    const offload = openOffload(t);
    const report = offload.define("report", { attempts: 1, schema }, async ({ n }) => {
      if (n < 0) throw new Error("negative");
      return n;
    });
    await offload.start({ concurrency: 1 });

    const completed = nextEvent(offload, "job:completed");
    const first = await report.enqueue({ n: 1 }, { uniqueKey: "k" });
    await completed;
    const secondCompleted = nextEvent(offload, "job:completed", (e) => e.result === 2);
    const second = await report.enqueue({ n: 2 }, { uniqueKey: "k" });
    assert.equal(second.deduplicated, false);
    assert.notEqual(second.id, first.id);

    await secondCompleted;
    const failed = nextEvent(offload, "job:failed");
    const third = await report.enqueue({ n: -1 }, { uniqueKey: "f" });
    await failed;
    const fourth = await report.enqueue({ n: 4 }, { uniqueKey: "f" });
    assert.equal(fourth.deduplicated, false);
    assert.notEqual(fourth.id, third.id);

    await offload.stop({ grace: "1s" });
    const fifth = await report.enqueue({ n: 5 }, { uniqueKey: "c" });
    await offload.cancel(fifth.id);
    const sixth = await report.enqueue({ n: 6 }, { uniqueKey: "c" });
    assert.equal(sixth.deduplicated, false);
    assert.notEqual(sixth.id, fifth.id);
  });

  it("deduplicates within one enqueueMany batch against the batch's first job", async (t) => {
    const offload = openOffload(t);
    const report = offload.define("report", { schema }, async () => null);
    const jobs = await report.enqueueMany([{ n: 1 }, { n: 2 }, { n: 3 }], { uniqueKey: "batch" });
    assert.deepEqual(
      jobs.map((j) => j.deduplicated),
      [false, true, true],
    );
    assert.equal(new Set(jobs.map((j) => j.id)).size, 1);
    assert.equal((await offload.listJobs()).items.length, 1);
  });
});
