import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { z } from "zod";
import { waitFor } from "../helpers.js";
import { openOffload, sqliteFixture } from "./fixture.js";

const schema = z.object({ label: z.string() });

/**
 * How late a due job may start in the process that scheduled it. The worker
 * polls only every second (the default, kept on purpose in these tests), so a
 * start within this bound shows it was woken at the job's runAt.
 */
const PROMPT_MS = 400;

describe("delayed jobs", () => {
  it("does not run a delayed job before its runAt, and runs it promptly after", async (t) => {
    const offload = openOffload(t);
    const starts = new Map<string, number>();
    const job = offload.define("task", { schema }, async ({ label }) => void starts.set(label, Date.now()));
    await offload.start({ concurrency: 2 });
    const byDelay = await job.enqueue({ label: "delay" }, { delay: "300ms" });
    const byRunAt = await job.enqueue({ label: "runAt" }, { runAt: new Date(Date.now() + 200) });
    for (const view of [byDelay, byRunAt]) assert.equal(view.status, "scheduled");
    // The delay counts from the enqueue call; createdAt is the (slightly later) write.
    const sinceCreated = Date.parse(byDelay.runAt) - Date.parse(byDelay.createdAt);
    assert.ok(sinceCreated <= 300 && sinceCreated > 250, `runAt is createdAt + ${sinceCreated}ms, expected about 300ms`);
    assert.equal((await offload.getJob(byDelay.id))!.status, "scheduled");

    await waitFor(() => starts.size === 2, { message: "both delayed jobs to start" });
    for (const view of [byDelay, byRunAt]) {
      const late = starts.get(view.payload.label)! - Date.parse(view.runAt);
      assert.ok(late >= 0, `${view.payload.label} started ${-late}ms before its runAt`);
      assert.ok(late < PROMPT_MS, `${view.payload.label} started ${late}ms after its runAt`);
    }
  });

  it("runs each of several delayed jobs promptly at its own time", async (t) => {
    const offload = openOffload(t);
    const starts = new Map<string, number>();
    const job = offload.define("task", { schema }, async ({ label }) => void starts.set(label, Date.now()));
    await offload.start({ concurrency: 4 });
    // Enqueued earliest first, so every later runAt arrives while a wake-up for an earlier one is pending.
    const views = [];
    for (const ms of [100, 250, 400]) views.push(await job.enqueue({ label: `+${ms}ms` }, { delay: ms }));
    await waitFor(() => starts.size === views.length, { message: "all delayed jobs to start" });
    for (const view of views) {
      const late = starts.get(view.payload.label)! - Date.parse(view.runAt);
      assert.ok(late >= 0 && late < PROMPT_MS, `${view.payload.label} started ${late}ms after its runAt`);
    }
  });

  it("runs a retry promptly when its backoff ends, retry after retry", async (t) => {
    const offload = openOffload(t);
    const starts: number[] = [];
    const retryDue: number[] = [];
    const job = offload.define("flaky", { attempts: 4, backoff: { delay: 1, jitter: false, type: "fixed" }, schema }, async (_p, ctx) => {
      starts.push(Date.now());
      if (ctx.attempt < 4) throw new Error("again");
    });
    offload.on("job:retrying", (e) => retryDue.push(Date.parse(e.runAt)));
    await offload.start({ concurrency: 1 });
    await job.enqueue({ label: "x" });
    await waitFor(() => starts.length === 4, { message: "four attempts" });
    for (let i = 0; i < 3; i++) {
      const late = starts[i + 1]! - retryDue[i]!;
      assert.ok(late < PROMPT_MS, `attempt ${i + 2} started ${late}ms after its backoff ended`);
    }
  });

  it("runs a job delayed by another Offload instance on the same file within a poll interval of its runAt", async (t) => {
    const db = sqliteFixture(t);
    const worker = db.open();
    const starts = new Map<string, number>();
    worker.define("task", { schema }, async ({ label }) => void starts.set(label, Date.now()));
    await worker.start({ concurrency: 1, pollInterval: "50ms" });
    const client = db.open();
    client.define("task", { schema }, async () => null);
    const view = await client.enqueue("task", { label: "elsewhere" }, { delay: "150ms" });
    await waitFor(() => starts.has("elsewhere"));
    const late = starts.get("elsewhere")! - Date.parse(view.runAt);
    assert.ok(late >= 0 && late < PROMPT_MS, `started ${late}ms after its runAt`);
  });

  it("queues a job whose runAt is already past", async (t) => {
    const offload = openOffload(t);
    const job = offload.define("task", { schema }, async () => null);
    const past = await job.enqueue({ label: "past" }, { runAt: "2020-01-01T00:00:00Z" });
    assert.equal(past.status, "queued");
    assert.equal(past.runAt, "2020-01-01T00:00:00.000Z");
  });
});
