import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { JobProgress, JobView } from "../../src/index.js";
import type { JobSnapshot } from "../../src/cli/source.js";
import { summaryLine, WatchView } from "../../src/cli/watch-view.js";

const ID = "01a20456-11d9-716d-ba70-da8e7b9ca6c3";
const noProgress: JobProgress = { failed: null, message: null, percent: null, processed: null, total: null };

function snapshot(status: JobSnapshot["status"], attempt: number, progress: Partial<JobProgress> = {}): JobSnapshot {
  return { attempt, id: ID, maxAttempts: 3, progress: { ...noProgress, ...progress }, status, type: "demo.transcribe" };
}

function finished(overrides: Partial<JobView>): JobView {
  return {
    attempt: 1,
    cancelRequested: false,
    createdAt: "2030-01-01T00:00:00.000Z",
    error: null,
    errors: [],
    finishedAt: "2030-01-01T00:00:03.120Z",
    id: ID,
    maxAttempts: 3,
    owner: null,
    payload: {},
    priority: 0,
    progress: { failed: 1, message: "done", percent: 100, processed: 4, total: 5 },
    queue: "media",
    result: { words: 35 },
    runAt: "2030-01-01T00:00:00.000Z",
    startedAt: "2030-01-01T00:00:00.010Z",
    status: "completed",
    type: "demo.transcribe",
    uniqueKey: null,
    updatedAt: "2030-01-01T00:00:03.120Z",
    ...overrides,
  };
}

describe("WatchView", () => {
  it("prints a line per status change and per 10 % step when not on a terminal, then the summary", () => {
    let out = "";
    let now = 1_000_000;
    const view = new WatchView({ now: () => now, tty: false, write: (text) => (out += text) });
    view.update(snapshot("queued", 0));
    view.update(snapshot("running", 1));
    for (let processed = 1; processed <= 5; processed++) {
      now += 600;
      view.update(snapshot("running", 1, { message: `segment ${processed}`, percent: processed * 20, processed, total: 5 }));
    }
    now += 10;
    view.update(snapshot("completed", 1, { message: "segment 5", percent: 100, processed: 5, total: 5 }));
    view.finish(finished({ progress: { failed: null, message: "segment 5", percent: 100, processed: 5, total: 5 } }));
    const lines = out.trimEnd().split("\n").map((line) => line.replace(/^\d\d:\d\d:\d\d {2}/, ""));
    assert.deepEqual(lines, [
      "queued",
      "running  attempt 1/3",
      "running  attempt 1/3  ▮▮▯▯▯▯▯▯▯▯ 20%  1/5  segment 1",
      "running  attempt 1/3  ▮▮▮▮▯▯▯▯▯▯ 40%  2/5  segment 2",
      "running  attempt 1/3  ▮▮▮▮▮▮▯▯▯▯ 60%  3/5  segment 3",
      "running  attempt 1/3  ▮▮▮▮▮▮▮▮▯▯ 80%  4/5  segment 4",
      "running  attempt 1/3  ▮▮▮▮▮▮▮▮▮▮ 100%  5/5  segment 5",
      "completed  attempt 1/3  ▮▮▮▮▮▮▮▮▮▮ 100%  5/5  segment 5",
      'completed  in 3.12s  attempt 1 of 3  → {"words":35}',
    ]);
  });

  it("redraws one line in place on a terminal, cut to its width, and ends it before the summary", () => {
    let out = "";
    let now = 1_000_000;
    const view = new WatchView({ columns: () => 40, now: () => now, tty: true, write: (text) => (out += text) });
    view.update(snapshot("running", 1, { failed: 1, message: "a message far too long for forty columns", percent: 40, processed: 1, total: 5 }));
    now += 100;
    view.finish(finished({}));
    const draws = out.split("\r\x1b[2K").slice(1);
    assert.equal(draws.length, 2, JSON.stringify(out));
    assert.equal(draws[0], "running  attempt 1/3  ▮▮▮▮▯▯▯▯▯▯ 40%  …");
    assert.ok(draws[0]!.length <= 39);
    const [finalBar, summary] = draws[1]!.split("\n");
    assert.equal(finalBar, "completed  attempt 1/3  ▮▮▮▮▮▮▮▮▮▮ 100…");
    assert.equal(summary, 'completed  in 3.12s  attempt 1 of 3  → {"words":35}');
  });

  it("summarises a failed job with its error, and a job cancelled before it ran", () => {
    const error = { code: "timeout", message: "Attempt 2 timed out after 2000ms", stack: null };
    assert.equal(summaryLine(finished({ attempt: 2, error, maxAttempts: 2, result: null, status: "failed" })), "failed  in 3.12s  attempt 2 of 2  timeout: Attempt 2 timed out after 2000ms");
    assert.equal(summaryLine(finished({ attempt: 0, result: null, startedAt: null, status: "cancelled" })), "cancelled  in 3.12s  never started");
  });
});
