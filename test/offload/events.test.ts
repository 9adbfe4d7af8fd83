import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { z } from "zod";
import { PermanentError } from "../../src/index.js";
import { nextEvent, waitFor } from "../helpers.js";
import { eventsOf, openOffload, recordEvents, whenAborted } from "./fixture.js";

const schema = z.object({ n: z.number() });
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

describe("lifecycle events", () => {
  it("announces enqueued, started, progress and completed with their documented payloads, in order", async (t) => {
    const offload = openOffload(t);
    const job = offload.define("export", { queue: "exports", schema }, async ({ n }, ctx) => {
      await ctx.progress({ processed: 1, total: 2 });
      return { file: `export-${n}.csv` };
    });
    const events = recordEvents(offload);
    await offload.start({ concurrency: 1 });
    const completed = nextEvent(offload, "job:completed");
    const enqueued = await job.enqueue({ n: 7 }, { owner: "ann" });
    await completed;
    const { id } = enqueued;
    const base = { id, queue: "exports", type: "export" };

    assert.deepEqual(
      events.map((e) => e.name),
      ["job:enqueued", "job:started", "job:progress", "job:completed"],
    );
    const { deduplicated, ...view } = enqueued;
    assert.equal(deduplicated, false);
    const [announced] = eventsOf(events, "job:enqueued");
    // The event's job also carries enqueue's `deduplicated` flag, beyond the documented JobView; compared without it.
    const { deduplicated: _flag, ...announcedJob } = announced!.job as typeof enqueued;
    assert.deepEqual({ ...announced, job: announcedJob }, { ...base, job: view });
    assert.deepEqual(eventsOf(events, "job:started"), [{ ...base, attempt: 1, maxAttempts: 3, runAt: view.runAt, workerId: offload.workerId }]);
    assert.match(offload.workerId!, /\S/);
    assert.deepEqual(eventsOf(events, "job:progress"), [
      { ...base, attempt: 1, progress: { failed: null, message: null, percent: 50, processed: 1, total: 2 } },
    ]);
    const [done] = eventsOf(events, "job:completed");
    assert.deepEqual(done, { ...base, attempt: 1, durationMs: done!.durationMs, result: { file: "export-7.csv" } });
    assert.ok(Number.isFinite(done!.durationMs) && done!.durationMs >= 0);
  });

  it("announces retrying with the error and the next runAt, then failed after the last attempt", async (t) => {
    const offload = openOffload(t);
    const job = offload.define("flaky", { attempts: 2, backoff: { delay: 1, type: "fixed" }, schema }, async (_p, ctx) => {
      throw new Error(`boom ${ctx.attempt}`);
    });
    const events = recordEvents(offload, ["job:failed", "job:retrying", "job:started"]);
    await offload.start({ concurrency: 1 });
    const failed = nextEvent(offload, "job:failed");
    const { id } = await job.enqueue({ n: 1 });
    await failed;
    const base = { id, queue: "default", type: "flaky" };
    assert.deepEqual(
      events.map((e) => [e.name, (e.payload as { attempt: number }).attempt]),
      [
        ["job:started", 1],
        ["job:retrying", 1],
        ["job:started", 2],
        ["job:failed", 2],
      ],
    );
    const [retrying] = eventsOf(events, "job:retrying");
    assert.match(retrying!.runAt, ISO);
    assert.deepEqual(retrying, {
      ...base,
      attempt: 1,
      durationMs: retrying!.durationMs,
      error: { ...retrying!.error, attempt: 1, code: "error", message: "boom 1" },
      runAt: retrying!.runAt,
    });
    const [fail] = eventsOf(events, "job:failed");
    assert.deepEqual(fail, { ...base, attempt: 2, durationMs: fail!.durationMs, error: { ...fail!.error, attempt: 2, code: "error", message: "boom 2" } });
    for (const e of [retrying!, fail!]) assert.ok(Number.isFinite(e.durationMs) && e.durationMs! >= 0, "an attempt's run time rides on its outcome");
    const [, secondStart] = eventsOf(events, "job:started");
    // The stored runAt is the database's now plus the backoff; the retrying event's is this process's: a millisecond apart at most here.
    assert.ok(Math.abs(Date.parse(secondStart!.runAt) - Date.parse(retrying!.runAt)) <= 5, "job:started tells when the attempt became due: here the backoff's end");
    assert.deepEqual((await offload.getJob(id))!.errors.at(-1), fail!.error, "the event carries the stored error");
  });

  it("announces failed for a PermanentError and cancelled for a cancelled running job", async (t) => {
    const offload = openOffload(t);
    const job = offload.define("task", { attempts: 3, schema }, async ({ n }, ctx) => {
      if (n === 1) throw new PermanentError("no such file");
      await whenAborted(ctx.signal);
    });
    const events = recordEvents(offload, ["job:cancelled", "job:completed", "job:failed", "job:retrying"]);
    await offload.start({ concurrency: 2 });
    const failed = nextEvent(offload, "job:failed");
    const started = nextEvent(offload, "job:started", (e) => e.type === "task" && e.attempt === 1);
    const permanent = await job.enqueue({ n: 1 });
    const cancelMe = await job.enqueue({ n: 2 });
    await failed;
    await started;
    await waitFor(async () => (await offload.getJob(cancelMe.id))!.status === "running");
    const cancelled = nextEvent(offload, "job:cancelled");
    await offload.cancel(cancelMe.id);
    await cancelled;
    assert.deepEqual(
      events.map((e) => [e.name, e.payload.id]),
      [
        ["job:failed", permanent.id],
        ["job:cancelled", cancelMe.id],
      ],
    );
    assert.equal(eventsOf(events, "job:failed")[0]!.error.code, "permanent");
    assert.deepEqual(eventsOf(events, "job:cancelled")[0], { attempt: 1, id: cancelMe.id, queue: "default", type: "task" });
  });

  it("keeps working when a listener throws, and stops calling a listener removed with off()", async (t) => {
    const offload = openOffload(t);
    const job = offload.define("task", { schema }, async ({ n }) => n);
    const seen: number[] = [];
    const listener = (e: { result: unknown }) => seen.push(e.result as number);
    offload.on("job:started", () => {
      throw new Error("a broken listener");
    });
    offload.on("job:completed", listener);
    await offload.start({ concurrency: 1 });
    const first = nextEvent(offload, "job:completed");
    await job.enqueue({ n: 1 });
    await first;
    offload.off("job:completed", listener);
    const second = nextEvent(offload, "job:completed");
    await job.enqueue({ n: 2 });
    assert.equal((await second).result, 2);
    assert.deepEqual(seen, [1]);
  });
});
