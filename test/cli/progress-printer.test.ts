import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { describeProgress, progressBar, shortId } from "../../src/cli/format.js";
import { ProgressPrinter, ProgressThrottle } from "../../src/cli/progress-printer.js";
import type { JobProgress } from "../../src/index.js";

const progress = (p: Partial<JobProgress>): JobProgress => ({ failed: null, message: null, percent: null, processed: null, total: null, ...p });

describe("progress lines", () => {
  it("formats a bar, the percent, the counts and the message", () => {
    assert.equal(progressBar(52), "▮▮▮▮▮▯▯▯▯▯");
    assert.equal(progressBar(100), "▮▮▮▮▮▮▮▮▮▮");
    assert.equal(describeProgress(progress({ message: "transcribing", percent: 52, processed: 26, total: 50 })), "▮▮▮▮▮▯▯▯▯▯ 52%  26/50  transcribing");
    assert.equal(describeProgress(progress({ failed: 2, percent: 8.3, processed: 1, total: 36 })), "▯▯▯▯▯▯▯▯▯▯ 8.3%  1/36 (2 failed)");
    assert.equal(describeProgress(progress({ message: "calling" })), "calling");
    assert.equal(shortId("01a20456-11d9-716d-ba70-da8e7b9ca6c3"), "01a2…a6c3");
  });

  it("prints a job's progress on each new 10 % step, never twice within the minimum gap", () => {
    const throttle = new ProgressThrottle({ minGapMs: 500, quietMs: 5_000 });
    assert.deepEqual(throttle.offer("a", progress({ percent: 1 }), 0), { print: true });
    assert.deepEqual(throttle.offer("a", progress({ percent: 5 }), 600), { print: false, retryAt: 5_000 }, "same step: wait for the quiet period");
    assert.deepEqual(throttle.offer("a", progress({ percent: 12 }), 300), { print: false, retryAt: 500 }, "new step, but within the gap");
    assert.deepEqual(throttle.offer("a", progress({ percent: 12 }), 700), { print: true });
    assert.equal(throttle.offer("a", progress({ percent: 12 }), 9_000), null, "nothing new");
    assert.deepEqual(throttle.offer("a", progress({ message: "x", percent: 13 }), 5_700), { print: true }, "quiet long enough");
    assert.deepEqual(throttle.offer("b", progress({ percent: 13 }), 5_700), { print: true }, "jobs are throttled apart");
  });

  it("turns a tight loop of reports into a few lines, the latest one printed when the throttle allows", async () => {
    const lines: string[] = [];
    let now = 1_000_000;
    const printer = new ProgressPrinter({ minGapMs: 0, now: () => now, quietMs: 60_000, write: (l) => lines.push(l) });
    const base = { attempt: 1, id: "01a20456-11d9-716d-ba70-da8e7b9ca6c3", queue: "default", type: "demo.export" };
    printer.onStarted({ ...base, maxAttempts: 3, runAt: new Date(now).toISOString(), workerId: "w" });
    for (let i = 1; i <= 10_000; i++) {
      now += 1;
      printer.onProgress({ ...base, progress: progress({ percent: i / 100, processed: i, total: 10_000 }) });
    }
    printer.onCompleted({ ...base, durationMs: 1_234, result: { ok: true } });
    assert.equal(lines.length, 1 + 11 + 1, "started, one line per 10 % step (0 to 100), completed");
    assert.match(lines[0]!, /^\d\d:\d\d:\d\d {2}demo\.export {2}01a2…a6c3 {2}started {2}attempt 1\/3$/);
    assert.match(lines.at(-2)!, /▮{10} 100% {2}10000\/10000$/);
    assert.match(lines.at(-1)!, /completed {2}in 1\.23s {2}→ \{"ok":true\}$/);
    assert.equal(printer.running.size, 0);
  });

  it("tells how long until the next attempt when a job is retrying, and counts attempts of the job's maximum", () => {
    const lines: string[] = [];
    const now = Date.parse("2030-01-01T00:00:00Z");
    const printer = new ProgressPrinter({ now: () => now, write: (l) => lines.push(l) });
    const base = { id: "01a20456-11e0-704b-a9af-21e0c65efa0f", queue: "default", type: "demo.flaky" };
    printer.onStarted({ ...base, attempt: 1, maxAttempts: 5, runAt: new Date(now).toISOString(), workerId: "w" });
    printer.onRetrying({
      ...base,
      attempt: 1,
      durationMs: 300,
      error: { attempt: 1, at: new Date(now).toISOString(), code: "service_unavailable", message: "503", stack: null, startedAt: null },
      runAt: new Date(now + 2_000).toISOString(),
    });
    assert.match(lines[1]!, /retrying {2}attempt 1\/5 failed: service_unavailable: 503; next attempt in 2\.00s$/);
  });
});
