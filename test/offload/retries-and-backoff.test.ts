import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { z } from "zod";
import { PermanentError, type JobView } from "../../src/index.js";
import { nextEvent, waitFor } from "../helpers.js";
import { eventsOf, openOffload, recordEvents, rejectsWithCode } from "./fixture.js";

const schema = z.object({ n: z.number() });

/** Slack allowed between the end of an attempt and the write of its retry. */
const WRITE_SLACK_MS = 150;

describe("retries and backoff", () => {
  it("schedules a retry after a fixed backoff: scheduled, runAt = failure + delay", async (t) => {
    const offload = openOffload(t);
    const job = offload.define("flaky", { attempts: 3, backoff: { delay: "1h", jitter: false, type: "fixed" }, schema }, async () => {
      throw new Error("boom");
    });
    await offload.start({ concurrency: 1 });
    const retrying = nextEvent(offload, "job:retrying");
    const { id } = await job.enqueue({ n: 1 });
    const event = await retrying;
    const view = (await offload.getJob(id))!;
    assert.equal(view.status, "scheduled");
    assert.equal(view.attempt, 1);
    const failedAt = Date.parse(view.errors[0]!.at);
    const wait = Date.parse(view.runAt) - failedAt;
    assert.ok(wait >= 3_600_000 && wait < 3_600_000 + WRITE_SLACK_MS, `runAt is failure + 1h, got failure + ${wait}ms`);
    assert.ok(Math.abs(Date.parse(event.runAt) - Date.parse(view.runAt)) < WRITE_SLACK_MS, "job:retrying announces the stored runAt");
    assert.deepEqual(view.error, { code: "error", message: "boom", stack: view.errors[0]!.stack });
  });

  it("does not run the retry before its backoff has passed, and fails the job after the last attempt", async (t) => {
    const offload = openOffload(t);
    const starts: number[] = [];
    const job = offload.define("flaky", { attempts: 3, backoff: { delay: 200, jitter: false, type: "fixed" }, schema }, async (_p, ctx) => {
      starts.push(Date.now());
      throw new Error(`boom ${ctx.attempt}`);
    });
    const events = recordEvents(offload);
    await offload.start({ concurrency: 1 });
    const failed = nextEvent(offload, "job:failed");
    const { id } = await job.enqueue({ n: 1 });
    assert.equal((await failed).attempt, 3);

    const retries = eventsOf(events, "job:retrying", id);
    assert.deepEqual(
      retries.map((r) => r.attempt),
      [1, 2],
    );
    for (let i = 0; i < retries.length; i++) {
      const dueAt = Date.parse(retries[i]!.runAt);
      const wait = dueAt - Date.parse(retries[i]!.error.at);
      assert.ok(wait >= 200 && wait < 200 + WRITE_SLACK_MS, `retry ${i + 1} waits ${wait}ms, expected the fixed 200ms`);
      assert.ok(starts[i + 1]! >= dueAt - 5, `attempt ${i + 2} started ${dueAt - starts[i + 1]!}ms before its runAt`);
    }
    const view = (await offload.getJob(id))!;
    assert.equal(view.status, "failed");
    assert.equal(view.attempt, 3);
    assert.ok(view.finishedAt !== null);
    assert.deepEqual(
      view.errors.map((e) => [e.attempt, e.code, e.message]),
      [
        [1, "error", "boom 1"],
        [2, "error", "boom 2"],
        [3, "error", "boom 3"],
      ],
    );
    assert.ok(view.errors.every((e) => typeof e.stack === "string" && e.stack.includes("boom")));
    assert.deepEqual(view.error, { code: "error", message: "boom 3", stack: view.errors[2]!.stack });
    assert.equal(eventsOf(events, "job:started", id).length, 3);
  });

  it("waits delay x 2^(attempt-1) with exponential backoff, capped at max", async (t) => {
    const offload = openOffload(t);
    const job = offload.define("flaky", { attempts: 4, backoff: { delay: 100, jitter: false, max: 250, type: "exponential" }, schema }, async () => {
      throw new Error("boom");
    });
    const waits: number[] = [];
    offload.on("job:retrying", (e) => waits.push(Date.parse(e.runAt) - Date.parse(e.error.at)));
    await offload.start({ concurrency: 1 });
    const failed = nextEvent(offload, "job:failed");
    await job.enqueue({ n: 1 });
    await failed;
    const expected = [100, 200, 250];
    assert.equal(waits.length, expected.length);
    for (let i = 0; i < expected.length; i++) {
      assert.ok(waits[i]! >= expected[i]! && waits[i]! < expected[i]! + WRITE_SLACK_MS, `retry ${i + 1} waited ${waits[i]}ms, expected ${expected[i]}ms`);
    }
  });

  it("calls a backoff function with the failed attempt and its error, and waits what it returns", async (t) => {
    const offload = openOffload(t);
    const calls: { attempt: number; message: unknown }[] = [];
    const job = offload.define(
      "flaky",
      {
        attempts: 3,
        backoff: (attempt, error) => {
          calls.push({ attempt, message: (error as { message?: unknown }).message });
          return attempt * 120;
        },
        schema,
      },
      async (_p, ctx) => {
        throw new Error(`boom ${ctx.attempt}`);
      },
    );
    const waits: number[] = [];
    offload.on("job:retrying", (e) => void offload.getJob(e.id).then((v) => waits.push(Date.parse(v!.runAt) - Date.parse(e.error.at))));
    await offload.start({ concurrency: 1 });
    const failed = nextEvent(offload, "job:failed");
    const { id } = await job.enqueue({ n: 1 });
    await failed;
    assert.deepEqual(calls, [
      { attempt: 1, message: "boom 1" },
      { attempt: 2, message: "boom 2" },
    ]);
    assert.equal(waits.length, 2);
    for (const [i, ms] of [120, 240].entries()) {
      assert.ok(waits[i]! >= ms && waits[i]! < ms + WRITE_SLACK_MS, `retry ${i + 1}: stored runAt is failure + ${waits[i]}ms, expected ${ms}ms`);
    }
    assert.equal((await offload.getJob(id))!.errors.length, 3);
  });

  it("completes a job that succeeds on a later attempt, keeping the earlier errors", async (t) => {
    const offload = openOffload(t);
    const job = offload.define("flaky", { attempts: 5, backoff: { delay: 1, jitter: false, type: "fixed" }, schema }, async (p, ctx) => {
      if (ctx.attempt <= 2) throw new Error(`boom ${ctx.attempt}`);
      return { doubled: p.n * 2 };
    });
    await offload.start({ concurrency: 1 });
    const completed = nextEvent(offload, "job:completed");
    const { id } = await job.enqueue({ n: 21 });
    assert.equal((await completed).attempt, 3);
    const view = (await offload.getJob(id))!;
    assert.equal(view.status, "completed");
    assert.deepEqual(view.result, { doubled: 42 });
    assert.deepEqual(
      view.errors.map((e) => e.message),
      ["boom 1", "boom 2"],
    );
    // Each failed attempt keeps when it started (the job's startedAt is the last attempt's): in order, before its failure.
    const starts = view.errors.map((e) => Date.parse(e.startedAt!));
    assert.ok(starts.every((start, i) => Number.isFinite(start) && start <= Date.parse(view.errors[i]!.at)), JSON.stringify(view.errors));
    assert.ok(starts[0]! <= starts[1]! && starts[1]! <= Date.parse(view.startedAt!));
  });

  it("fails at once on a PermanentError, with attempts left, keeping its code", async (t) => {
    const offload = openOffload(t);
    const job = offload.define("strict", { attempts: 5, backoff: { delay: 1, type: "fixed" }, schema }, async () => {
      throw new PermanentError("the file is gone", { code: "file_missing" });
    });
    const events = recordEvents(offload);
    await offload.start({ concurrency: 1 });
    const failed = nextEvent(offload, "job:failed");
    const { id } = await job.enqueue({ n: 1 });
    const event = await failed;
    assert.equal(event.attempt, 1);
    assert.equal(event.error.code, "file_missing");
    const view = (await offload.getJob(id))!;
    assert.equal(view.status, "failed");
    assert.equal(view.attempt, 1);
    assert.equal(view.maxAttempts, 5);
    assert.deepEqual(
      view.errors.map((e) => [e.attempt, e.code, e.message]),
      [[1, "file_missing", "the file is gone"]],
    );
    assert.deepEqual(eventsOf(events, "job:retrying"), []);
  });

  it("honours per-job attempts: attempts 1 fails on the first error", async (t) => {
    const offload = openOffload(t);
    const job = offload.define("flaky", { attempts: 5, backoff: { delay: 1, type: "fixed" }, schema }, async () => {
      throw Object.assign(new Error("rate limited"), { code: "E_RATE" });
    });
    await offload.start({ concurrency: 1 });
    const failed = nextEvent(offload, "job:failed");
    const { id } = await job.enqueue({ n: 1 }, { attempts: 1 });
    const event = await failed;
    assert.equal(event.attempt, 1);
    assert.equal(event.error.code, "E_RATE", "an error's own string code is kept");
    assert.equal((await offload.getJob(id))!.maxAttempts, 1);
  });

  it("retry() runs a failed job again with a fresh set of attempts; other states are refused", async (t) => {
    const offload = openOffload(t);
    let fail = true;
    const job = offload.define("flaky", { attempts: 1, schema }, async () => {
      if (fail) throw new Error("not yet");
      return "ok";
    });
    await offload.start({ concurrency: 1 });
    const failed = nextEvent(offload, "job:failed");
    const { id } = await job.enqueue({ n: 1 });
    await failed;
    fail = false;
    const completed = nextEvent(offload, "job:completed", (e) => e.id === id);
    const retried = await offload.retry(id);
    assert.equal(retried.status, "queued");
    assert.equal(retried.attempt, 0);
    assert.equal((await completed).attempt, 1);
    const view: JobView = (await offload.getJob(id))!;
    assert.equal(view.status, "completed");
    assert.equal(view.result, "ok");
    await rejectsWithCode(offload.retry(id), "OFFLOAD_ERR_INVALID_STATE", "completed");
    await rejectsWithCode(offload.retry("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"), "OFFLOAD_ERR_JOB_NOT_FOUND");
    await waitFor(async () => (await offload.getJob(id))!.status === "completed");
  });
});
