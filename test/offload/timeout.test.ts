import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { z } from "zod";
import { nextEvent } from "../helpers.js";
import { eventsOf, gate, openOffload, recordEvents, whenAborted } from "./fixture.js";

const schema = z.object({ n: z.number() });

describe("timeout", () => {
  it("aborts the signal at the deadline with TimeoutError and retries by the policy", async (t) => {
    const offload = openOffload(t);
    const seen: { attempt: number; elapsedMs: number; reason: string }[] = [];
    const job = offload.define("slow", { attempts: 3, backoff: { delay: 1, type: "fixed" }, schema, timeout: "150ms" }, async (_p, ctx) => {
      if (ctx.attempt === 2) return "fast enough";
      const startedAt = Date.now();
      const reason = await whenAborted(ctx.signal);
      seen.push({ attempt: ctx.attempt, elapsedMs: Date.now() - startedAt, reason: reason.name });
      throw reason; // what fetch and streams do with an aborted signal
    });
    const events = recordEvents(offload);
    await offload.start({ concurrency: 1 });
    const completed = nextEvent(offload, "job:completed");
    const { id } = await job.enqueue({ n: 1 });
    assert.equal((await completed).attempt, 2);

    assert.equal(seen.length, 1);
    assert.equal(seen[0]!.reason, "TimeoutError");
    assert.ok(seen[0]!.elapsedMs >= 140, `aborted after ${seen[0]!.elapsedMs}ms, before the 150ms deadline`);
    assert.ok(seen[0]!.elapsedMs < 1_000, `aborted ${seen[0]!.elapsedMs}ms after start, long past the deadline`);
    const [retry] = eventsOf(events, "job:retrying", id);
    assert.equal(retry?.error.code, "timeout");
    const view = (await offload.getJob(id))!;
    assert.equal(view.status, "completed");
    assert.deepEqual(
      view.errors.map((e) => [e.attempt, e.code]),
      [[1, "timeout"]],
    );
  });

  it("fails the job with code timeout when the last attempt times out; per-job timeout and attempts apply", async (t) => {
    const offload = openOffload(t);
    const reasons: string[] = [];
    // No timeout on the type: the enqueue option sets one.
    const job = offload.define("slow", { attempts: 5, schema }, async (_p, ctx) => {
      reasons.push((await whenAborted(ctx.signal)).name);
    });
    await offload.start({ concurrency: 1 });
    const failed = nextEvent(offload, "job:failed");
    const { id } = await job.enqueue({ n: 1 }, { attempts: 1, timeout: "50ms" });
    const event = await failed;
    assert.equal(event.attempt, 1);
    assert.equal(event.error.code, "timeout");
    assert.deepEqual(reasons, ["TimeoutError"]);
    const view = (await offload.getJob(id))!;
    assert.equal(view.status, "failed");
    assert.equal(view.error?.code, "timeout");
  });

  it("ends the attempt at the deadline even when the handler ignores its signal", async (t) => {
    const offload = openOffload(t);
    const never = gate();
    let returned = false;
    const job = offload.define("stubborn", { attempts: 1, schema, timeout: "100ms" }, async () => {
      await never.promise;
      returned = true;
    });
    await offload.start({ concurrency: 1 });
    const failed = nextEvent(offload, "job:failed");
    const { id } = await job.enqueue({ n: 1 });
    assert.equal((await failed).error.code, "timeout");
    assert.equal(returned, false, "the job failed while the handler was still running");
    assert.equal((await offload.getJob(id))!.status, "failed");
    never.open();
  });

  it("runs without a deadline when the enqueue option is null, overriding the type's timeout", async (t) => {
    const offload = openOffload(t);
    const job = offload.define("slow", { attempts: 1, schema, timeout: "50ms" }, async (_p, ctx) => {
      // Outlives the type's 50ms timeout by doing real (timer-driven) work.
      await new Promise((resolve) => setTimeout(resolve, 150));
      return ctx.signal.aborted;
    });
    await offload.start({ concurrency: 1 });
    const completed = nextEvent(offload, "job:completed");
    const { id } = await job.enqueue({ n: 1 }, { timeout: null });
    assert.equal((await completed).result, false);
    assert.equal((await offload.getJob(id))!.status, "completed");
  });
});
