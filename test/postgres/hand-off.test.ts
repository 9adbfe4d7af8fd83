import assert from "node:assert/strict";
import { describe, it } from "node:test";
import pg from "pg";
import { z } from "zod";
import { nextEvent, waitFor } from "../helpers.js";
import { gate, openPgOffload, recordEvents } from "../offload/fixture.js";

/**
 * An enqueue made where this process's own worker idles on the job's queue
 * stores the job already claimed for that worker (one statement), on
 * PostgreSQL; otherwise it is stored queued for any worker.
 */
describe("PostgreSQL: an enqueue hands its job to the process's own idle worker", () => {
  it("stores the job claimed for the local worker, which runs it with no claim of its own, and keeps the lifecycle and slots right", async (t) => {
    const offload = openPgOffload(t, "handoff");
    const held = gate();
    let running = 0;
    let maxRunning = 0;
    const task = offload.define("task", { schema: z.object({ hold: z.boolean() }) }, async ({ hold }) => {
      maxRunning = Math.max(maxRunning, ++running);
      if (hold) await held.promise;
      running--;
      return "done";
    });
    // Polls every 10 minutes: a job that starts at once was handed over, not found by a claim.
    await offload.start({ concurrency: 1, pollInterval: "10m" });
    const events = recordEvents(offload, ["job:enqueued", "job:started", "job:completed"]);

    const first = await task.enqueue({ hold: true });
    // Held until the gate opens, so its completion cannot be missed. (Not the next job:completed of any
    // job: the two jobs' outcomes may be written by two batches in flight, in either order.)
    const completed = nextEvent(offload, "job:completed", (e) => e.id === first.id);
    assert.equal(first.status, "running", "stored already claimed");
    assert.equal(first.attempt, 1);
    // The slot is taken: the next enqueue is stored queued, for a claim once the slot frees.
    const second = await task.enqueue({ hold: false });
    assert.equal(second.status, "queued");
    held.open();
    await completed;
    await waitFor(async () => (await offload.getJob(second.id))?.status === "completed");
    assert.equal(maxRunning, 1);
    assert.deepEqual(
      events.filter((e) => e.payload.id === first.id).map((e) => e.name),
      ["job:enqueued", "job:started", "job:completed"],
    );
    // A paused queue takes nothing, even from its own process.
    await offload.pauseQueue("default");
    const paused = await task.enqueue({ hold: false });
    assert.equal(paused.status, "queued");
    await offload.resumeQueue("default");
  });

  it("starts the job once it is committed, before the enqueue has waited for the flush and answered", async (t) => {
    const offload = openPgOffload(t, "handoffearly");
    const started = gate();
    const task = offload.define("task", { schema: z.object({}) }, async () => {
      started.open();
    });
    await offload.start({ concurrency: 1, pollInterval: "10m" });
    // The wait for the flush is held back until the handler has started: were the job started only
    // after the enqueue's answer, neither would ever happen.
    const query = pg.Client.prototype.query;
    pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
      const config = args[0] as { text?: string };
      const send = () => (query as (...a: unknown[]) => unknown).apply(this, args);
      return typeof config === "object" && config.text?.includes("txid_current()") ? started.promise.then(send) : send();
    } as typeof query;
    t.after(() => {
      pg.Client.prototype.query = query;
    });
    let timer: NodeJS.Timeout | undefined;
    const job = await Promise.race([
      task.enqueue({}),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error("the handler did not start before the enqueue's flush")), 5_000);
      }),
    ]).finally(() => clearTimeout(timer));
    assert.equal(job.status, "running");
  });
});
