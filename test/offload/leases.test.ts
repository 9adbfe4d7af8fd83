import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { z } from "zod";
import type { JobView, Offload } from "../../src/index.js";
import { nextEvent, waitFor } from "../helpers.js";
import { eventsOf, gate, openOffload, recordEvents, spyOn, waitForJob, whenAborted } from "./fixture.js";

const schema = z.object({ n: z.number() });

/** Far enough ahead that every lease handed out in a test has expired: the database clock is injected, nobody sleeps. */
const LATER = () => Date.now() + 3_600_000;

function jobStatus(offload: Offload, id: string, status: JobView["status"]): Promise<JobView> {
  return waitForJob(offload, id, (v) => v.status === status, `job ${id} to be ${status}`);
}

describe("leases", () => {
  it("counts the attempt at claim: a running job shows attempt 1 and its start time", async (t) => {
    const offload = openOffload(t);
    const release = gate();
    const job = offload.define("task", { schema }, async () => release.promise);
    const { id, attempt } = await job.enqueue({ n: 1 });
    assert.equal(attempt, 0);
    const started = nextEvent(offload, "job:started", (e) => e.id === id);
    await offload.start({ concurrency: 1 });
    assert.equal((await started).attempt, 1);
    const running = (await offload.getJob(id))!;
    assert.equal(running.status, "running");
    assert.equal(running.attempt, 1);
    assert.ok(running.startedAt !== null);
    release.open();
  });

  for (const ending of ["completes", "throws"] as const) {
    it(`does not let a stale worker whose lease was rescued write progress or an outcome when its handler ${ending}`, async (t) => {
      const offload = openOffload(t);
      const backend = await offload.backend();
      const progressWrites = spyOn(backend, "jobProgressMany");
      const acks = spyOn(backend, "jobAckMany");
      // Outcomes are written alone or riding on the worker's next claim.
      const acksWithClaim = spyOn(backend, "jobAckAndClaim");
      const ackCalls = () => [
        ...acks.calls.map((c) => ({ acks: c.args[0].acks, result: c.result })),
        ...acksWithClaim.calls.map((c) => ({ acks: c.args[0].acks, result: c.result.acks })),
      ];
      const staleMayFinish = gate();
      const job = offload.define("task", { attempts: 5, backoff: { delay: 1, type: "fixed" }, schema }, async (_p, ctx) => {
        await ctx.progress({ message: "stale: before the takeover" });
        await staleMayFinish.promise;
        await ctx.progress({ message: "stale: after the takeover" });
        // Hold the outcome until the stale progress write has been tried, so both writes are exercised.
        await waitFor(() => progressWrites.calls.some((c) => c.args[0].updates.some((u) => u.progress.message === "stale: after the takeover")));
        if (ending === "throws") throw new Error("stale failure");
        return { by: "stale" };
      });
      const events = recordEvents(offload);
      // Heartbeats far apart: the stale worker does not learn of the takeover before it finishes.
      await offload.start({ concurrency: 1, heartbeatInterval: "5s", leaseDuration: "10s", progressInterval: "10ms" });
      const { id } = await job.enqueue({ n: 1 });
      await waitFor(async () => (await offload.getJob(id))?.progress.message === "stale: before the takeover", { message: "the first attempt's progress" });

      // The lease is declared expired (database clock injected) and a newer attempt claims the job.
      const rescued = await backend.jobRescueExpired({ limit: 10, now: LATER() });
      assert.deepEqual(
        rescued.requeued.map((r) => r.id),
        [id],
      );
      const [newer] = await backend.jobClaim({ leaseMs: 60_000, queues: [{ limit: 1, queue: "default" }], workerId: "newer-worker" });
      assert.equal(newer?.id, id);
      assert.equal(newer.job.attempt, 2);
      assert.deepEqual(await progressWrites.original({ updates: [{ id, leaseToken: newer.leaseToken, progress: { ...newer.job.progress, message: "newer" } }] }), [id]);

      staleMayFinish.open();
      const staleAck = await waitFor(() => ackCalls().find((c) => c.acks.some((a) => a.id === id)), { message: "the stale worker's ack" });
      assert.deepEqual(staleAck.result, [{ applied: false, id, status: null }]);
      const staleProgress = progressWrites.calls.filter((c) => c.args[0].updates.some((u) => u.progress.message === "stale: after the takeover"));
      assert.ok(staleProgress.length > 0);
      assert.ok(
        staleProgress.every((c) => !c.result.includes(id)),
        "the stale progress write was fenced off",
      );

      const during = (await offload.getJob(id))!;
      assert.equal(during.status, "running");
      assert.equal(during.attempt, 2);
      assert.equal(during.progress.message, "newer");
      assert.equal(during.result, null);
      assert.deepEqual(
        during.errors.map((e) => e.code),
        ["lease_expired"],
        "the stale failure was not recorded",
      );
      assert.deepEqual(eventsOf(events, "job:completed"), []);
      assert.deepEqual(eventsOf(events, "job:retrying"), []);

      const [applied] = await acks.original({ acks: [{ id, leaseToken: newer.leaseToken, outcome: "completed", resultJson: JSON.stringify({ by: "newer" }) }] });
      assert.equal(applied?.applied, true);
      const final = (await offload.getJob(id))!;
      assert.equal(final.status, "completed");
      assert.deepEqual(final.result, { by: "newer" });
      assert.equal(final.progress.message, "newer");
    });
  }

  it("aborts the handler with LeaseLostError when a heartbeat finds the lease taken over, and writes nothing for it", async (t) => {
    const offload = openOffload(t);
    const backend = await offload.backend();
    const reasons: string[] = [];
    const job = offload.define("task", { attempts: 3, schema }, async (_p, ctx) => {
      if (ctx.attempt > 1) return "second attempt";
      reasons.push((await whenAborted(ctx.signal)).name);
      throw new Error("must not be recorded");
    });
    await offload.start({ concurrency: 1, heartbeatInterval: "50ms", leaseDuration: "10s" });
    const started = nextEvent(offload, "job:started");
    const { id } = await job.enqueue({ n: 1 });
    await started;
    const completed = nextEvent(offload, "job:completed", (e) => e.id === id);
    const rescued = await backend.jobRescueExpired({ limit: 10, now: LATER() });
    assert.equal(rescued.requeued.length, 1);
    // The same worker picks the job up again once the aborted handler frees its slot.
    assert.equal((await completed).attempt, 2);
    assert.deepEqual(reasons, ["LeaseLostError"]);
    const view = (await offload.getJob(id))!;
    assert.deepEqual(
      view.errors.map((e) => [e.attempt, e.code]),
      [[1, "lease_expired"]],
    );
  });

  it("aborts the handler with LeaseLostError when it cannot renew its lease before expiry", async (t) => {
    const offload = openOffload(t);
    const backend = await offload.backend();
    const heartbeats = spyOn(backend, "jobHeartbeatMany");
    const aborts: { attempt: number; name: string; afterMs: number }[] = [];
    const job = offload.define("task", { attempts: 3, schema }, async (_p, ctx) => {
      if (ctx.attempt > 1) return "second attempt";
      const startedAt = Date.now();
      heartbeats.fail = new Error("database unreachable");
      const reason = await whenAborted(ctx.signal);
      aborts.push({ afterMs: Date.now() - startedAt, attempt: ctx.attempt, name: reason.name });
      heartbeats.fail = null;
    });
    await offload.start({ concurrency: 1, heartbeatInterval: "50ms", leaseDuration: "300ms", sweepInterval: "50ms" });
    const completed = nextEvent(offload, "job:completed");
    const { id } = await job.enqueue({ n: 1 });
    assert.equal((await completed).attempt, 2);
    assert.equal(aborts.length, 1);
    assert.equal(aborts[0]!.name, "LeaseLostError");
    assert.ok(aborts[0]!.afterMs >= 250, `aborted ${aborts[0]!.afterMs}ms in, before the 300ms lease could have expired`);
    // The abandoned attempt wrote nothing; the sweeper recorded the expiry.
    assert.deepEqual(
      (await offload.getJob(id))!.errors.map((e) => [e.attempt, e.code]),
      [[1, "lease_expired"]],
    );
  });

  it("keeps a long job's lease alive with heartbeats, one batched write for all running jobs", async (t) => {
    const offload = openOffload(t);
    const backend = await offload.backend();
    const heartbeats = spyOn(backend, "jobHeartbeatMany");
    const release = gate();
    const job = offload.define("task", { attempts: 1, schema }, async () => release.promise);
    await offload.start({ concurrency: 4, heartbeatInterval: "50ms", leaseDuration: "300ms", sweepInterval: "50ms" });
    const events = recordEvents(offload);
    const jobs = await job.enqueueMany([{ n: 1 }, { n: 2 }, { n: 3 }, { n: 4 }]);
    await waitFor(() => eventsOf(events, "job:started").length === 4);
    const startedAt = Date.now();
    const before = heartbeats.calls.length;
    // Well past the 300ms lease, renewed by heartbeats while the sweeper runs every 50ms.
    await waitFor(() => heartbeats.calls.length >= before + 8 && Date.now() - startedAt > 450, { message: "eight heartbeats past the lease" });
    const batches = heartbeats.calls.slice(before);
    assert.ok(
      batches.every((c) => c.args[0].leases.length === 4 && c.result.every((r) => r.renewed)),
      "each heartbeat renews all four leases in one call",
    );
    for (const { id } of jobs) assert.equal((await offload.getJob(id))!.status, "running");
    release.open();
    await waitFor(() => eventsOf(events, "job:completed").length === 4);
    for (const { id } of jobs) assert.deepEqual((await offload.getJob(id))!.errors, []);
  });
});

describe("the sweeper", () => {
  it("returns a job whose worker crashed to its queue, counting the attempt, and fails it when none are left", async (t) => {
    const offload = openOffload(t);
    const backend = await offload.backend();
    offload.define("task", { attempts: 3, queue: "orphans", schema }, async () => null);
    const events = recordEvents(offload);
    const { id } = await offload.enqueue("task", { n: 1 });
    // This worker does not serve "orphans": it only sweeps, so every state the sweeper leaves is visible.
    offload.define("idle", { queue: "elsewhere", schema }, async () => null); // a worker serves only queues its types use
    await offload.start({ concurrency: { elsewhere: 1 }, sweepInterval: "50ms" });
    for (let attempt = 1; attempt <= 3; attempt++) {
      // A worker claims the job and crashes: its lease is never renewed.
      const [claimed] = await backend.jobClaim({ leaseMs: 1, queues: [{ limit: 1, queue: "orphans" }], workerId: `crashing-worker-${attempt}` });
      assert.equal(claimed?.job.attempt, attempt);
      const view = await jobStatus(offload, id, attempt < 3 ? "queued" : "failed");
      assert.equal(view.attempt, attempt);
      assert.equal(view.errors.length, attempt);
      assert.equal(view.errors.at(-1)!.code, "lease_expired");
      assert.ok(view.errors.at(-1)!.message.includes(`crashing-worker-${attempt}`), view.errors.at(-1)!.message);
    }
    const final = (await offload.getJob(id))!;
    assert.ok(final.finishedAt !== null);
    assert.deepEqual(
      eventsOf(events, "job:failed", id).map((e) => [e.attempt, e.error.code]),
      [[3, "lease_expired"]],
    );
  });

  it("ends a crashed job cancelled when its cancellation was requested", async (t) => {
    const offload = openOffload(t);
    const backend = await offload.backend();
    offload.define("task", { attempts: 3, queue: "orphans", schema }, async () => null);
    const { id } = await offload.enqueue("task", { n: 1 });
    await backend.jobClaim({ leaseMs: 1, queues: [{ limit: 1, queue: "orphans" }], workerId: "crashing-worker" });
    assert.equal((await offload.cancel(id)).cancelRequested, true);
    const cancelled = nextEvent(offload, "job:cancelled", (e) => e.id === id);
    offload.define("idle", { queue: "elsewhere", schema }, async () => null); // a worker serves only queues its types use
    await offload.start({ concurrency: { elsewhere: 1 }, sweepInterval: "50ms" });
    assert.equal((await cancelled).attempt, 1);
    assert.equal((await offload.getJob(id))!.status, "cancelled");
  });

  it("leaves a running job with a live lease alone", async (t) => {
    const offload = openOffload(t);
    const backend = await offload.backend();
    offload.define("task", { queue: "orphans", schema }, async () => null);
    const { id } = await offload.enqueue("task", { n: 1 });
    await backend.jobClaim({ leaseMs: 60_000, queues: [{ limit: 1, queue: "orphans" }], workerId: "live-worker" });
    const sweeps = spyOn(backend, "jobRescueExpired");
    offload.define("idle", { queue: "elsewhere", schema }, async () => null); // a worker serves only queues its types use
    await offload.start({ concurrency: { elsewhere: 1 }, sweepInterval: "20ms" });
    await waitFor(() => sweeps.calls.length >= 3, { message: "three sweeps" });
    assert.ok(sweeps.calls.every((c) => c.result.requeued.length + c.result.failed.length + c.result.cancelled.length === 0));
    assert.equal((await offload.getJob(id))!.status, "running");
  });
});
