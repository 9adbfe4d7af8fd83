import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { z } from "zod";
import { PermanentError } from "../../src/index.js";
import { Maintenance } from "../../src/maintenance/maintenance.js";
import { OffloadEventBus } from "../../src/observability/events.js";
import { createSilentLogger } from "../../src/observability/logger.js";
import { resolveWorkerOptions } from "../../src/worker/worker-options.js";
import { nextEvent, waitFor } from "../helpers.js";
import { gate, openOffload, openPgOffload } from "./fixture.js";

const schema = z.object({ fail: z.boolean().optional(), hold: z.boolean().optional() });
const DAY = 86_400_000;

describe("pruning", () => {
  it("deletes completed and cancelled jobs after their configured age, keeps failed ones longer and never touches unfinished ones", async (t) => {
    const offload = openOffload(t);
    const release = gate();
    const work = offload.define("work", { attempts: 1, schema }, async ({ fail, hold }) => {
      if (hold) await release.promise;
      if (fail) throw new PermanentError("broken");
      return "ok";
    });
    const parked = offload.define("parked", { queue: "parked", schema }, async () => null);

    const waiting = await parked.enqueue({}); // queued in a queue no worker serves
    const later = await work.enqueue({}, { delay: "1h" });
    const cancelled = await parked.enqueue({});
    await offload.cancel(cancelled.id);

    // Only "default" is served; the pruner runs every 50ms.
    await offload.start({ concurrency: { default: 2 }, prune: { cancelled: "50ms", completed: "50ms", interval: "50ms" } });
    const running = await work.enqueue({ hold: true });
    const failedEvent = nextEvent(offload, "job:failed");
    const failed = await work.enqueue({ fail: true });
    await failedEvent;
    // Completes after the failed job finished: when it is pruned, the older failed job would have been too, were it not kept longer.
    const completedEvent = nextEvent(offload, "job:completed", (e) => e.result === "ok");
    const completed = await work.enqueue({});
    await completedEvent;

    await waitFor(async () => (await offload.getJob(completed.id)) === null && (await offload.getJob(cancelled.id)) === null, {
      message: "the completed and cancelled jobs to be pruned",
    });
    assert.equal((await offload.getJob(failed.id))?.status, "failed");
    assert.equal((await offload.getJob(waiting.id))?.status, "queued");
    assert.equal((await offload.getJob(later.id))?.status, "scheduled");
    assert.equal((await offload.getJob(running.id))?.status, "running");
    release.open();
  });

  it("deletes failed jobs after their own configured age", async (t) => {
    const offload = openOffload(t);
    const work = offload.define("work", { attempts: 1, schema }, async ({ fail }) => {
      if (fail) throw new PermanentError("broken");
      return "ok";
    });
    await offload.start({ concurrency: 1, prune: { failed: "50ms", interval: "50ms" } });
    const completedEvent = nextEvent(offload, "job:completed");
    const completed = await work.enqueue({});
    await completedEvent;
    const failedEvent = nextEvent(offload, "job:failed");
    const failed = await work.enqueue({ fail: true });
    await failedEvent;
    await waitFor(async () => (await offload.getJob(failed.id)) === null, { message: "the failed job to be pruned" });
    assert.equal((await offload.getJob(completed.id))?.status, "completed", "completed jobs keep their 7-day default");
  });

  it("keeps completed and cancelled jobs 7 days and failed jobs 30 days by default", async (t) => {
    const offload = openOffload(t);
    const work = offload.define("work", { attempts: 1, schema }, async ({ fail }) => {
      if (fail) throw new PermanentError("broken");
      return "ok";
    });
    const backend = await offload.backend();
    // The defaults the worker runs its pruner with, on a clock moved forward instead of waiting days.
    const pruner = new Maintenance(backend, new OffloadEventBus(() => {}), createSilentLogger(), resolveWorkerOptions({}));
    await offload.start({ concurrency: 1 });
    const cancelled = await work.enqueue({}, { delay: "1h" });
    await offload.cancel(cancelled.id);
    const completedEvent = nextEvent(offload, "job:completed");
    const completed = await work.enqueue({});
    await completedEvent;
    const failedEvent = nextEvent(offload, "job:failed");
    const failed = await work.enqueue({ fail: true });
    await failedEvent;
    const unfinished = await work.enqueue({}, { delay: "300d" });
    const finishedAt = Date.now();
    const exists = async () => [
      (await offload.getJob(completed.id)) !== null,
      (await offload.getJob(cancelled.id)) !== null,
      (await offload.getJob(failed.id)) !== null,
      (await offload.getJob(unfinished.id)) !== null,
    ];

    await pruner.prune(finishedAt + 6 * DAY);
    assert.deepEqual(await exists(), [true, true, true, true], "after 6 days");
    await pruner.prune(finishedAt + 8 * DAY);
    assert.deepEqual(await exists(), [false, false, true, true], "after 8 days");
    await pruner.prune(finishedAt + 29 * DAY);
    assert.deepEqual(await exists(), [false, false, true, true], "after 29 days");
    await pruner.prune(finishedAt + 31 * DAY);
    assert.deepEqual(await exists(), [false, false, false, true], "after 31 days");
    await pruner.prune(finishedAt + 1_000 * DAY);
    assert.deepEqual(await exists(), [false, false, false, true], "an unfinished job is never pruned");
  });

  for (const engine of ["sqlite", "postgres"] as const) {
    it(`with completed: 0, deletes each job as it completes and keeps the others (${engine})`, async (t) => {
      const offload = engine === "sqlite" ? openOffload(t) : openPgOffload(t, "prune_zero");
      const work = offload.define("work", { attempts: 1, schema: z.object({ fail: z.boolean().optional(), n: z.number() }) }, async ({ fail, n }) => {
        if (fail) throw new PermanentError("broken");
        return { n };
      });
      // A pruner that would not run during the test: the acks must delete the jobs themselves.
      await offload.start({ concurrency: 4, prune: { completed: 0, interval: "1h" } });
      const results = new Map<string, unknown>();
      offload.on("job:completed", (e) => results.set(e.id, e.result));
      const failedEvent = nextEvent(offload, "job:failed");
      const jobs = await work.enqueueMany(Array.from({ length: 20 }, (_, n) => ({ n })));
      const failed = await work.enqueue({ fail: true, n: -1 });
      await waitFor(() => results.size === 20, { message: "20 completions" });
      await failedEvent;
      assert.deepEqual(
        jobs.map((j) => results.get(j.id)),
        jobs.map((_, n) => ({ n })),
        "each completion's event carries its result",
      );
      for (const job of jobs) assert.equal(await offload.getJob(job.id), null, `completed job ${job.id} is deleted`);
      assert.equal((await offload.getJob(failed.id))?.status, "failed", "a failed job is kept");
      const page = await offload.listJobs({});
      assert.deepEqual(
        page.items.map((j) => j.id),
        [failed.id],
      );
    });
  }
});
