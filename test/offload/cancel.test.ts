import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { z } from "zod";
import { nextEvent } from "../helpers.js";
import { eventsOf, openOffload, recordEvents, rejectsWithCode, sqliteFixture, waitForJob, whenAborted } from "./fixture.js";

const schema = z.object({ n: z.number() });
const UNKNOWN_ID = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b";

describe("cancel", () => {
  it("cancels a queued job at once, and the worker never runs it", async (t) => {
    const offload = openOffload(t);
    const ran: number[] = [];
    const job = offload.define("task", { schema }, async ({ n }) => void ran.push(n));
    const events = recordEvents(offload, ["job:cancelled"]);
    const victim = await job.enqueue({ n: 1 });
    const view = await offload.cancel(victim.id);
    assert.equal(view.status, "cancelled");
    assert.equal(view.cancelRequested, false);
    assert.ok(view.finishedAt !== null);
    assert.deepEqual(events, [{ name: "job:cancelled", payload: { attempt: 0, id: victim.id, queue: "default", type: "task" } }]);

    await offload.start({ concurrency: 1 });
    const completed = nextEvent(offload, "job:completed");
    await job.enqueue({ n: 2 });
    await completed;
    assert.deepEqual(ran, [2], "the cancelled job was not run");
    const after = (await offload.getJob(victim.id))!;
    assert.equal(after.status, "cancelled");
    assert.equal(after.attempt, 0);
  });

  it("cancels a scheduled job at once", async (t) => {
    const offload = openOffload(t);
    const job = offload.define("task", { schema }, async () => null);
    const later = await job.enqueue({ n: 1 }, { delay: "1h" });
    assert.equal(later.status, "scheduled");
    assert.equal((await offload.cancel(later.id)).status, "cancelled");
    assert.equal((await offload.getJob(later.id))!.status, "cancelled");
  });

  it("aborts a running job's signal and ends it cancelled, never retried, with attempts left", async (t) => {
    const offload = openOffload(t);
    const reasons: string[] = [];
    const job = offload.define("task", { attempts: 5, backoff: { delay: 1, type: "fixed" }, schema }, async (_p, ctx) => {
      const reason = await whenAborted(ctx.signal);
      reasons.push(reason.name);
      throw reason; // as an aborted fetch would
    });
    const events = recordEvents(offload);
    await offload.start({ concurrency: 1 });
    const started = nextEvent(offload, "job:started");
    const { id } = await job.enqueue({ n: 1 });
    await started;
    const cancelled = nextEvent(offload, "job:cancelled", (e) => e.id === id);
    const requested = await offload.cancel(id);
    assert.equal(requested.status, "running");
    assert.equal(requested.cancelRequested, true);
    assert.deepEqual(await cancelled, { attempt: 1, id, queue: "default", type: "task" });
    assert.deepEqual(reasons, ["CancelledError"]);
    const view = (await offload.getJob(id))!;
    assert.equal(view.status, "cancelled");
    assert.equal(view.attempt, 1);
    assert.ok(view.finishedAt !== null);
    assert.deepEqual(eventsOf(events, "job:retrying"), []);
    assert.deepEqual(eventsOf(events, "job:failed"), []);
    assert.equal(eventsOf(events, "job:started").length, 1);
  });

  it("ends a running job cancelled even if its handler ignores the signal", async (t) => {
    const offload = openOffload(t);
    let release!: () => void;
    const job = offload.define("task", { attempts: 3, schema }, async () => new Promise<string>((resolve) => (release = () => resolve("late"))));
    await offload.start({ concurrency: 1 });
    const started = nextEvent(offload, "job:started");
    const { id } = await job.enqueue({ n: 1 });
    await started;
    const cancelled = nextEvent(offload, "job:cancelled");
    await offload.cancel(id);
    await cancelled;
    release();
    const view = (await offload.getJob(id))!;
    assert.equal(view.status, "cancelled");
    assert.equal(view.result, null, "a late return does not complete a cancelled job");
  });

  it("refuses to cancel a finished job with OFFLOAD_ERR_INVALID_STATE, and an unknown id with OFFLOAD_ERR_JOB_NOT_FOUND", async (t) => {
    const offload = openOffload(t);
    const job = offload.define("task", { schema }, async () => "done");
    await offload.start({ concurrency: 1 });
    const completed = nextEvent(offload, "job:completed");
    const { id } = await job.enqueue({ n: 1 });
    await completed;
    const error = await rejectsWithCode(offload.cancel(id), "OFFLOAD_ERR_INVALID_STATE", "completed");
    assert.equal(error.status, 409);
    assert.equal((await offload.getJob(id))!.status, "completed");

    const queued = await job.enqueue({ n: 2 }, { delay: "1h" });
    await offload.cancel(queued.id);
    await rejectsWithCode(offload.cancel(queued.id), "OFFLOAD_ERR_INVALID_STATE", "cancelled");

    const missing = await rejectsWithCode(offload.cancel(UNKNOWN_ID), "OFFLOAD_ERR_JOB_NOT_FOUND", UNKNOWN_ID);
    assert.equal(missing.status, 404);
    await rejectsWithCode(offload.cancel(""), "OFFLOAD_ERR_INVALID_INPUT", "id");
  });

  it("cancels a job running in another Offload instance on the same file, through its heartbeat", async (t) => {
    const db = sqliteFixture(t);
    const workerSide = db.open();
    const reasons: string[] = [];
    const job = workerSide.define("task", { attempts: 5, schema }, async (_p, ctx) => {
      reasons.push((await whenAborted(ctx.signal)).name);
    });
    await workerSide.start({ concurrency: 1, heartbeatInterval: "50ms", leaseDuration: "2s" });
    const started = nextEvent(workerSide, "job:started");
    const { id } = await job.enqueue({ n: 1 });
    await started;

    const otherSide = db.open(); // no job types, no worker: a client, as the HTTP API or CLI would be
    const cancelledOnWorkerSide = nextEvent(workerSide, "job:cancelled", (e) => e.id === id);
    const requested = await otherSide.cancel(id);
    assert.equal(requested.cancelRequested, true);
    assert.equal(requested.status, "running");
    await cancelledOnWorkerSide;
    assert.deepEqual(reasons, ["CancelledError"]);
    const view = await waitForJob(otherSide, id, (v) => v.status === "cancelled");
    assert.equal(view.attempt, 1);
  });
});
