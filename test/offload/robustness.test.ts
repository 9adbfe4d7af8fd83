import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { z } from "zod";
import { SqliteBackend } from "../../src/backends/sqlite/sqlite-backend.js";
import { waitFor } from "../helpers.js";
import { eventsOf, gate, openOffload, recordEvents, rejectsWithCode, spyOn, sqliteFixture, waitForJob, whenAborted } from "./fixture.js";

const schema = z.object({ n: z.number() });

describe("robustness of the worker", () => {
  it("fails a job whose result serialises to nothing, and keeps working", async (t) => {
    const offload = openOffload(t);
    const job = offload.define("task", { attempts: 3, schema }, async ({ n }) => (n === 0 ? () => "a function" : { n }));
    const events = recordEvents(offload); // a job:completed listener parses results
    await offload.start({ concurrency: 1 });
    const [bad, good] = await job.enqueueMany([{ n: 0 }, { n: 1 }]);
    const failed = await waitForJob(offload, bad!.id, (v) => v.status === "failed");
    assert.equal(failed.error?.code, "invalid_result");
    assert.equal(failed.attempt, 1, "no retry can fix a result that is not JSON");
    const done = await waitForJob(offload, good!.id, (v) => v.status === "completed");
    assert.deepEqual(done.result, { n: 1 });
    assert.deepEqual(eventsOf(events, "job:completed").map((e) => e.id), [good!.id]);
  });

  it("fails a job whose handler returns a thenable that throws, and keeps claiming", async (t) => {
    const offload = openOffload(t);
    const job = offload.define("task", { attempts: 1, schema }, (({ n }: { n: number }) =>
      n === 0
        ? {
            then() {
              throw new Error("broken thenable");
            },
          }
        : Promise.resolve(n)) as unknown as (p: { n: number }) => Promise<number>);
    await offload.start({ concurrency: 1 });
    const [bad, good] = await job.enqueueMany([{ n: 0 }, { n: 7 }]);
    const failed = await waitForJob(offload, bad!.id, (v) => v.status === "failed");
    assert.match(failed.error!.message, /broken thenable/);
    assert.equal((await waitForJob(offload, good!.id, (v) => v.status === "completed")).result, 7);
  });

  it("aborts an attempt this worker still runs when it claims the same job again, and tracks only the new one", async (t) => {
    const { file, open } = sqliteFixture(t);
    const offload = open();
    const firstMayReturn = gate();
    const signals = new Map<number, AbortSignal>();
    const secondMayReturn = gate();
    const job = offload.define("task", { attempts: 5, schema }, async (_p, ctx) => {
      signals.set(ctx.attempt, ctx.signal);
      await (ctx.attempt === 1 ? firstMayReturn.promise : secondMayReturn.promise);
      return { attempt: ctx.attempt };
    });
    const events = recordEvents(offload);
    // Heartbeats far apart: the first attempt does not learn of the takeover from a heartbeat.
    await offload.start({ concurrency: 3, heartbeatInterval: "5s", leaseDuration: "10s" });
    const { id } = await job.enqueue({ n: 1 });
    await waitFor(() => signals.has(1), { message: "the first attempt" });
    // Another process's sweeper decides the lease ran out (its clock far ahead); this worker claims the job again.
    const other = new SqliteBackend({ filename: file });
    t.after(() => other.close());
    await other.migrate();
    assert.deepEqual((await other.jobRescueExpired({ limit: 10, now: Date.now() + 60_000 })).requeued.map((j) => j.id), [id]);
    await waitFor(() => signals.has(2), { message: "the second attempt, in the same worker" });
    assert.equal((await whenAborted(signals.get(1)!)).name, "LeaseLostError");
    firstMayReturn.open();
    secondMayReturn.open();
    const done = await waitForJob(offload, id, (v) => v.status === "completed");
    assert.deepEqual(done.result, { attempt: 2 });
    assert.equal(signals.size, 2, "no third attempt: the second kept its heartbeats");
    assert.deepEqual(eventsOf(events, "job:completed").map((e) => e.attempt), [2]);
    await offload.stop({ grace: 0 }); // resolves: nothing is left pending
  });

  it("stops within about a lease when outcomes cannot be written, leaving the jobs to the sweeper", async (t) => {
    const { open } = sqliteFixture(t);
    const offload = open();
    const backend = await offload.backend();
    const job = offload.define("task", { attempts: 3, schema }, async () => "done");
    await offload.start({ concurrency: 2, leaseDuration: "300ms" });
    const failure = Object.assign(new Error("disk I/O error"), { code: "SQLITE_IOERR" });
    spyOn(backend, "jobAckMany").fail = failure;
    spyOn(backend, "jobAckAndClaim").fail = failure;
    const { id } = await job.enqueue({ n: 1 });
    const started = Date.now();
    await waitForJob(offload, id, (v) => v.status === "running");
    await offload.stop({ grace: 0 });
    assert.ok(Date.now() - started < 10_000, "stop() gave up on writes it could not make");
    // Another worker's sweeper finds the expired lease and the job runs again there.
    const rescuer = open();
    rescuer.define("task", { attempts: 3, schema }, async () => "done again");
    await rescuer.start({ concurrency: 1, sweepInterval: "50ms" });
    const done = await waitForJob(rescuer, id, (v) => v.status === "completed");
    assert.equal(done.result, "done again");
    assert.deepEqual(done.errors.map((e) => e.code), ["lease_expired"]);
  });

  it("keeps leases alive when only a short leaseDuration is given: the default heartbeat shrinks to fit", async (t) => {
    const offload = openOffload(t);
    const job = offload.define("task", { attempts: 3, schema }, async () => new Promise((resolve) => setTimeout(() => resolve("slow"), 900)));
    await offload.start({ concurrency: 1, leaseDuration: "300ms", sweepInterval: "50ms" });
    const { id } = await job.enqueue({ n: 1 });
    const done = await waitForJob(offload, id, (v) => v.status === "completed");
    assert.equal(done.attempt, 1);
    assert.deepEqual(done.errors, []);
  });
});

describe("start and stop", () => {
  it("refuses a second start() made while the first is still opening the database", async (t) => {
    const offload = openOffload(t);
    offload.define("task", { schema }, async () => null);
    const first = offload.start();
    await rejectsWithCode(offload.start(), "OFFLOAD_ERR_WORKER_STATE");
    await first;
    assert.ok(offload.workerId);
  });

  it("stops a worker whose start() had not finished when stop() was called", async (t) => {
    const offload = openOffload(t);
    let runs = 0;
    const job = offload.define("task", { schema }, async () => ++runs);
    const started = offload.start();
    await offload.stop({ grace: 0 });
    await started;
    assert.equal(offload.workerId, null);
    const { id } = await job.enqueue({ n: 1 });
    assert.equal((await offload.getJob(id))?.status, "queued");
    assert.equal(runs, 0);
  });

  it("validates stop() and close() options", async (t) => {
    const offload = openOffload(t);
    await rejectsWithCode(offload.stop(null as never), "OFFLOAD_ERR_INVALID_INPUT");
    await rejectsWithCode(offload.stop({ graceful: true } as never), "OFFLOAD_ERR_INVALID_INPUT", "graceful");
    await rejectsWithCode(offload.stop({ grace: "30d" }), "OFFLOAD_ERR_INVALID_INPUT", "options.grace");
    await rejectsWithCode(offload.close({ grace: -1 }), "OFFLOAD_ERR_INVALID_INPUT", "options.grace");
  });

  it("refuses a concurrency naming no queue, or a queue no defined type uses", async (t) => {
    const offload = openOffload(t);
    offload.define("task", { schema }, async () => null);
    await rejectsWithCode(offload.start({ concurrency: {} }), "OFFLOAD_ERR_INVALID_INPUT", "options.concurrency");
    await rejectsWithCode(offload.start({ concurrency: { defualt: 2 } }), "OFFLOAD_ERR_INVALID_INPUT", "options.concurrency.defualt");
  });
});

describe("durations that become timers", () => {
  it("refuses durations past the longest timer Node.js runs, which it would fire after 1 ms", async (t) => {
    const offload = openOffload(t);
    assert.throws(() => offload.define("slow", { schema, timeout: "30d" }, async () => null), /options\.timeout/);
    assert.throws(() => offload.define("instant", { schema, timeout: 0 }, async () => null), /options\.timeout/);
    const job = offload.define("task", { schema }, async () => null);
    await rejectsWithCode(job.enqueue({ n: 1 }, { timeout: "25d" }), "OFFLOAD_ERR_INVALID_INPUT", "options.timeout");
    for (const option of ["pollInterval", "sweepInterval", "heartbeatInterval"] as const) {
      await rejectsWithCode(offload.start({ [option]: "30d" }), "OFFLOAD_ERR_INVALID_INPUT", `options.${option}`);
    }
    // A long delay is stored, not a timer: it stays allowed.
    assert.equal((await job.enqueue({ n: 1 }, { delay: "300d" })).status, "scheduled");
  });
});

describe("payloads as stored", () => {
  it("validates the payload the worker will see, after its trip through JSON, and stores nothing when that fails", async (t) => {
    const offload = openOffload(t);
    const job = offload.define("task", { schema: z.object({ at: z.date() }) }, async () => null);
    const error = await rejectsWithCode(job.enqueue({ at: new Date() }), "OFFLOAD_ERR_INVALID_PAYLOAD", "payload.at", "stored as JSON");
    assert.ok(error);
    assert.deepEqual((await offload.listJobs()).items, []);
  });

  it("refuses a runAt that is not a real date, or has no time zone", async (t) => {
    const offload = openOffload(t);
    const job = offload.define("task", { schema }, async () => null);
    for (const runAt of ["2030-02-31T00:00:00Z", "2030-01-31T09:00:00", "2030-13-01T00:00:00Z"]) {
      await rejectsWithCode(job.enqueue({ n: 1 }, { runAt }), "OFFLOAD_ERR_INVALID_INPUT", "options.runAt");
    }
    const ok = await job.enqueue({ n: 1 }, { runAt: "2030-01-31T10:00:00+01:00" });
    assert.equal(ok.runAt, "2030-01-31T09:00:00.000Z");
  });
});
