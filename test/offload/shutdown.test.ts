import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { z } from "zod";
import { nextEvent } from "../helpers.js";
import { eventsOf, gate, openOffload, recordEvents, rejectsWithCode, whenAborted } from "./fixture.js";

const schema = z.object({ n: z.number() });

describe("stop({ grace })", () => {
  it("aborts handlers still running after the grace period with ShutdownError and requeues their jobs without spending an attempt", async (t) => {
    const offload = openOffload(t);
    const aborts: { afterStopMs: number; name: string }[] = [];
    let stopCalledAt = 0;
    let holdOnAttempt2 = true;
    const job = offload.define("task", { attempts: 3, backoff: { delay: 1, type: "fixed" }, schema }, async (_p, ctx) => {
      if (ctx.attempt === 1) throw new Error("first attempt fails");
      if (!holdOnAttempt2) return `done on attempt ${ctx.attempt}`;
      const reason = await whenAborted(ctx.signal);
      aborts.push({ afterStopMs: Date.now() - stopCalledAt, name: reason.name });
      throw reason;
    });
    const events = recordEvents(offload);
    await offload.start({ concurrency: 1 });
    const secondAttempt = nextEvent(offload, "job:started", (e) => e.attempt === 2);
    const { id } = await job.enqueue({ n: 1 });
    await secondAttempt;

    stopCalledAt = Date.now();
    await offload.stop({ grace: "200ms" });
    const stopMs = Date.now() - stopCalledAt;
    assert.deepEqual(
      aborts.map((a) => a.name),
      ["ShutdownError"],
    );
    assert.ok(aborts[0]!.afterStopMs >= 190, `the signal aborted ${aborts[0]!.afterStopMs}ms after stop(), before the 200ms grace`);
    assert.ok(stopMs < 1_500, `stop took ${stopMs}ms`);

    const released = (await offload.getJob(id))!;
    assert.equal(released.status, "queued");
    assert.equal(released.attempt, 1, "back to the attempt count before the claim");
    assert.equal(released.finishedAt, null);
    assert.deepEqual(
      released.errors.map((e) => e.message),
      ["first attempt fails"],
      "shutdown is not recorded as a failure",
    );
    assert.deepEqual(eventsOf(events, "job:failed"), []);
    assert.equal(eventsOf(events, "job:retrying").length, 1);

    // The next worker runs it as attempt 2 again: the refunded attempt was not lost.
    holdOnAttempt2 = false;
    const completed = nextEvent(offload, "job:completed", (e) => e.id === id);
    await offload.start({ concurrency: 1 });
    const done = await completed;
    assert.equal(done.attempt, 2);
    assert.equal(done.result, "done on attempt 2");
  });

  it("lets a job that finishes within the grace period complete normally, and claims nothing new meanwhile", async (t) => {
    const offload = openOffload(t);
    const finish = gate();
    const ran: number[] = [];
    let signalAborted: boolean | null = null;
    const job = offload.define("task", { schema }, async ({ n }, ctx) => {
      ran.push(n);
      if (n === 1) await finish.promise;
      signalAborted = ctx.signal.aborted;
      return n * 10;
    });
    await offload.start({ concurrency: 2 });
    const started = nextEvent(offload, "job:started");
    const first = await job.enqueue({ n: 1 });
    await started;

    const stopping = offload.stop({ grace: "10s" });
    const second = await job.enqueue({ n: 2 }); // a free slot, but the worker is stopping
    const stopAt = Date.now();
    finish.open();
    await stopping;
    assert.ok(Date.now() - stopAt < 2_000, "stop() returned once the running job finished, not at the end of the grace period");

    const view = (await offload.getJob(first.id))!;
    assert.equal(view.status, "completed");
    assert.equal(view.result, 10);
    assert.equal(signalAborted, false);
    assert.deepEqual(ran, [1]);
    const untouched = (await offload.getJob(second.id))!;
    assert.equal(untouched.status, "queued");
    assert.equal(untouched.attempt, 0);
  });

  it("releases the job of a handler that ignores its signal when the grace period ends", async (t) => {
    const offload = openOffload(t);
    const never = gate();
    const job = offload.define("task", { schema }, async () => never.promise);
    await offload.start({ concurrency: 1 });
    const started = nextEvent(offload, "job:started");
    const { id } = await job.enqueue({ n: 1 });
    await started;
    await offload.stop({ grace: "50ms" });
    const view = (await offload.getJob(id))!;
    assert.equal(view.status, "queued");
    assert.equal(view.attempt, 0);
    never.open();
  });

  it("returns at once without a worker, and rejects an invalid grace naming the field", async (t) => {
    const offload = openOffload(t);
    offload.define("task", { schema }, async () => null);
    await offload.stop({ grace: "1s" });
    await rejectsWithCode(offload.stop({ grace: "a moment" }), "OFFLOAD_ERR_INVALID_INPUT", "options.grace");
    await offload.start({ concurrency: 1 });
    await rejectsWithCode(offload.start({ concurrency: 1 }), "OFFLOAD_ERR_WORKER_STATE");
    await offload.stop({ grace: 0 });
    assert.equal(offload.workerId, null);
  });
});

describe("close()", () => {
  it("refuses calls after close with OFFLOAD_ERR_CLOSED, and a second close is harmless", async (t) => {
    const offload = openOffload(t);
    const job = offload.define("task", { schema }, async () => null);
    const { id } = await job.enqueue({ n: 1 });
    await offload.close({ grace: "1s" });
    await rejectsWithCode(job.enqueue({ n: 2 }), "OFFLOAD_ERR_CLOSED");
    await rejectsWithCode(offload.getJob(id), "OFFLOAD_ERR_CLOSED");
    await offload.close();
  });
});
