import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Job, LifecycleEvent } from "../../src/dashboard/api-types.js";
import { duration, relative, shortId } from "../../src/dashboard/format.js";
import { foldEvents, matches } from "../../src/dashboard/job-events.js";
import { timeline } from "../../src/dashboard/job-timeline.js";
import { hashFor, parseHash } from "../../src/dashboard/router.js";

const ID = "01a2045c-c4a5-7148-9a21-484ed1416e90";

function job(fields: Partial<Job>): Job {
  return {
    attempt: 0,
    cancelRequested: false,
    createdAt: "2026-01-31T09:00:00.000Z",
    error: null,
    errors: [],
    finishedAt: null,
    id: ID,
    maxAttempts: 3,
    owner: null,
    payload: {},
    priority: 0,
    progress: { failed: null, message: null, percent: null, processed: null, total: null },
    queue: "media",
    result: null,
    runAt: "2026-01-31T09:00:00.000Z",
    startedAt: null,
    status: "queued",
    type: "demo.transcribe",
    uniqueKey: null,
    updatedAt: "2026-01-31T09:00:00.000Z",
    ...fields,
  };
}

describe("the dashboard's view logic", () => {
  it("builds a job's timeline: created, each failed attempt, the latest attempt's start and end, without a second entry for the final failure", () => {
    const failed = job({
      attempt: 2,
      errors: [
        { attempt: 1, at: "2026-01-31T09:00:02.000Z", code: "timeout", message: "Attempt 1 timed out", stack: null, startedAt: null },
        { attempt: 2, at: "2026-01-31T09:00:05.000Z", code: "timeout", message: "Attempt 2 timed out", stack: null, startedAt: null },
      ],
      finishedAt: "2026-01-31T09:00:05.001Z",
      runAt: "2026-01-31T09:00:03.000Z",
      startedAt: "2026-01-31T09:00:03.010Z",
      status: "failed",
    });
    assert.deepEqual(
      timeline(failed).map((e) => e.label),
      ["Created", "Attempt 1 failed", "Attempt 2 started", "Attempt 2 failed"],
    );
    const completed = job({ attempt: 1, finishedAt: "2026-01-31T09:00:31.500Z", startedAt: "2026-01-31T09:00:01.500Z", status: "completed" });
    assert.deepEqual(
      timeline(completed).map((e) => e.label),
      ["Created", "Attempt 1 started", "Completed in 30.0 s"],
    );
    const delayed = job({ runAt: "2026-01-31T10:00:00.000Z", status: "scheduled" });
    assert.deepEqual(
      timeline(delayed).map((e) => [e.kind, e.label]),
      [
        ["created", "Created"],
        ["scheduled", "Scheduled to run"],
      ],
    );
  });

  it("folds a batch of events into one change per shown job, and collects the enqueued ones", () => {
    const events: LifecycleEvent[] = [
      { name: "job:enqueued", payload: { id: "b", job: job({ id: "b" }), queue: "media", type: "demo.transcribe" } },
      { name: "job:started", payload: { attempt: 1, id: ID, queue: "media", type: "demo.transcribe" } },
      ...Array.from({ length: 1_000 }, (_, i): LifecycleEvent => ({
        name: "job:progress",
        payload: { attempt: 1, id: ID, progress: { failed: null, message: null, percent: i / 10, processed: i, total: 1_000 }, queue: "media", type: "demo.transcribe" },
      })),
      { name: "job:completed", payload: { attempt: 1, id: ID, queue: "media", type: "demo.transcribe" } },
      { name: "job:completed", payload: { attempt: 1, id: "not-shown", queue: "media", type: "demo.transcribe" } },
    ];
    const { changes, enqueued } = foldEvents(events, (id) => id === ID);
    assert.deepEqual([...changes.keys()], [ID]);
    assert.equal(changes.get(ID)!.status, "completed");
    assert.equal(changes.get(ID)!.progress!.processed, 999);
    assert.deepEqual(enqueued.map((j) => j.id), ["b"]);
    assert.ok(matches(job({}), { owner: "", queue: "media", status: "queued", type: "" }));
    assert.ok(!matches(job({}), { owner: "alice", queue: "", status: "", type: "" }));
  });

  it("reads and writes hash routes, leaving out empty filters", () => {
    assert.deepEqual(parseHash("#/jobs?status=failed&queue=media"), { params: new URLSearchParams("status=failed&queue=media"), segments: ["jobs"] });
    assert.deepEqual(parseHash("").segments, []);
    assert.deepEqual(parseHash(`#/jobs/${ID}`).segments, ["jobs", ID]);
    assert.equal(hashFor("/jobs", { owner: "", queue: "media", status: "failed" }), "#/jobs?queue=media&status=failed");
  });

  it("formats durations, relative times and ids", () => {
    assert.deepEqual([850, 12_345, 245_000, 7_800_000].map(duration), ["850 ms", "12.3 s", "4 min 05 s", "2 h 10 min"]);
    assert.equal(relative("2026-01-31T09:00:00.000Z", Date.parse("2026-01-31T09:00:03.400Z")), "3 s ago");
    assert.equal(shortId(ID), "01a2045c…6e90");
  });
});
