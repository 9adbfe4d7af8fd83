import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { z } from "zod";
import { OffloadError } from "../../src/index.js";
import { nextEvent, waitFor } from "../helpers.js";
import { sqliteFixture } from "./fixture.js";

describe("queue controls", () => {
  it("a queue paused from another process is not claimed from within a second, and runs again once resumed", async (t) => {
    const db = sqliteFixture(t);
    const worker = db.open();
    const admin = db.open(); // another process's client, sharing only the database file
    const started: string[] = [];
    const echo = worker.define("echo", { queue: "media", schema: z.object({ n: z.number() }) }, async ({ n }) => n);
    worker.on("job:started", ({ id }) => started.push(id));
    await worker.start({ pollInterval: 50 });
    await admin.pauseQueue("media");
    const job = await echo.enqueue({ n: 1 });
    // Nothing announces a claim that did not happen: give the worker several polls and wake-ups.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    assert.deepEqual(started, []);
    assert.equal((await worker.getJob(job.id))?.status, "queued");
    const [stats] = await admin.queueStats();
    assert.deepEqual([stats?.queue, stats?.paused, stats?.counts.queued], ["media", true, 1]);
    const completed = nextEvent(worker, "job:completed", (e) => e.id === job.id);
    await admin.resumeQueue("media");
    await completed;
  });

  it("lists the queues of defined types without jobs, and counts completions and failures of the last minute", async (t) => {
    const offload = sqliteFixture(t).open();
    const ok = offload.define("ok", { schema: z.object({}) }, async () => "done");
    offload.define("idle", { queue: "idle", schema: z.object({}) }, async () => null);
    const bad = offload.define("bad", { attempts: 1, schema: z.object({}) }, async () => {
      throw new Error("no");
    });
    await offload.start({ pollInterval: 50 });
    const jobs = [await ok.enqueue({}), await ok.enqueue({}), await bad.enqueue({})];
    await waitFor(async () => {
      const views = await Promise.all(jobs.map((j) => offload.getJob(j.id)));
      return views.every((v) => v?.finishedAt);
    });
    const stats = await offload.queueStats();
    assert.deepEqual(
      stats.map((s) => [s.queue, s.counts.completed, s.counts.failed, s.lastMinute, s.lastHour, s.oldestQueuedAgeMs, s.paused]),
      [
        ["default", 2, 1, { completed: 2, failed: 1, processed: 3 }, { completed: 2, failed: 1, processed: 3 }, null, false],
        ["idle", 0, 0, { completed: 0, failed: 0, processed: 0 }, { completed: 0, failed: 0, processed: 0 }, null, false],
      ],
    );
  });

  it("rejects a bad queue name, naming the field", async (t) => {
    const offload = sqliteFixture(t).open();
    await assert.rejects(offload.pauseQueue("bad name!"), (error: unknown) => error instanceof OffloadError && error.code === "OFFLOAD_ERR_INVALID_INPUT" && /queue/.test(error.message));
  });
});

describe("enqueueIdempotent", () => {
  it("returns the first job for the same key and request, refuses another request, and keeps scopes apart", async (t) => {
    const offload = sqliteFixture(t).open();
    offload.define("mail", { schema: z.object({ to: z.string() }) }, async () => null);
    const first = await offload.enqueueIdempotent("mail", { to: "a" }, { priority: 1 }, { key: "k", scope: "alice" });
    const again = await offload.enqueueIdempotent("mail", { to: "a" }, { priority: 1 }, { key: "k", scope: "alice" });
    assert.deepEqual([first.replayed, again.replayed, again.id], [false, true, first.id]);
    await assert.rejects(
      offload.enqueueIdempotent("mail", { to: "b" }, { priority: 1 }, { key: "k", scope: "alice" }),
      (error: unknown) => error instanceof OffloadError && error.code === "OFFLOAD_ERR_IDEMPOTENCY_CONFLICT" && error.status === 409,
    );
    const bob = await offload.enqueueIdempotent("mail", { to: "b" }, { priority: 1 }, { key: "k", scope: "bob" });
    assert.notEqual(bob.id, first.id);
    assert.equal((await offload.listJobs()).items.length, 2);
  });
});
