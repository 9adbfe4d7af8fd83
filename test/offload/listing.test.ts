import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { z } from "zod";
import type { JobView } from "../../src/index.js";
import { nextEvent } from "../helpers.js";
import { openOffload, rejectsWithCode, UUID_V7 } from "./fixture.js";

const schema = z.object({ n: z.number() });
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const JOB_VIEW_KEYS = [
  "attempt",
  "cancelRequested",
  "createdAt",
  "error",
  "errors",
  "finishedAt",
  "id",
  "maxAttempts",
  "owner",
  "payload",
  "priority",
  "progress",
  "queue",
  "result",
  "runAt",
  "startedAt",
  "status",
  "type",
  "uniqueKey",
  "updatedAt",
];

function assertIso(value: string | null, field: string): void {
  assert.ok(value !== null && ISO.test(value) && new Date(value).toISOString() === value, `${field} is ISO 8601 UTC: ${value}`);
}

describe("getJob", () => {
  it("returns a new job as a JobView: UUIDv7 id, ISO timestamps, empty progress, defaults applied", async (t) => {
    const offload = openOffload(t);
    const job = offload.define("transcribe", { attempts: 4, queue: "media", schema }, async () => null);
    const before = Date.now();
    const enqueued = await job.enqueue({ n: 1 }, { owner: "ann", uniqueKey: "u-1" });
    const view = (await offload.getJob(enqueued.id))!;
    assert.deepEqual(Object.keys(view).sort(), JOB_VIEW_KEYS);
    assert.match(view.id, UUID_V7);
    for (const field of ["createdAt", "runAt", "updatedAt"] as const) assertIso(view[field], field);
    assert.ok(Date.parse(view.createdAt) >= before - 1 && Date.parse(view.createdAt) <= Date.now());
    assert.deepEqual(
      { ...view, createdAt: null, runAt: null, updatedAt: null },
      {
        attempt: 0,
        cancelRequested: false,
        createdAt: null,
        error: null,
        errors: [],
        finishedAt: null,
        id: enqueued.id,
        maxAttempts: 4,
        owner: "ann",
        payload: { n: 1 },
        priority: 0,
        progress: { failed: null, message: null, percent: null, processed: null, total: null },
        queue: "media",
        result: null,
        runAt: null,
        startedAt: null,
        status: "queued",
        type: "transcribe",
        uniqueKey: "u-1",
        updatedAt: null,
      },
    );
    const { deduplicated, ...enqueuedView } = enqueued;
    assert.equal(deduplicated, false);
    assert.deepEqual(enqueuedView, view, "enqueue returns what getJob reads back");
  });

  it("shows a finished job's result and its start and finish times in order", async (t) => {
    const offload = openOffload(t);
    const job = offload.define("export", { schema }, async ({ n }) => ({ rows: n, path: "/tmp/x.csv" }));
    await offload.start({ concurrency: 1 });
    const completed = nextEvent(offload, "job:completed");
    const { id } = await job.enqueue({ n: 12 });
    await completed;
    const view = (await offload.getJob(id))!;
    assert.equal(view.status, "completed");
    assert.deepEqual(view.result, { path: "/tmp/x.csv", rows: 12 });
    for (const field of ["createdAt", "startedAt", "finishedAt", "updatedAt"] as const) assertIso(view[field], field);
    assert.ok(view.createdAt <= view.startedAt! && view.startedAt! <= view.finishedAt! && view.finishedAt! <= view.updatedAt);
  });

  it("returns null for an unknown id and rejects an invalid one", async (t) => {
    const offload = openOffload(t);
    assert.equal(await offload.getJob("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"), null);
    await rejectsWithCode(offload.getJob(""), "OFFLOAD_ERR_INVALID_INPUT", "id");
  });

  it("gives ids that sort in creation order", async (t) => {
    const offload = openOffload(t);
    const job = offload.define("task", { schema }, async () => null);
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) ids.push((await job.enqueue({ n: i })).id);
    assert.deepEqual([...ids].sort(), ids);
    assert.ok(ids.every((id) => UUID_V7.test(id)));
  });
});

describe("listJobs", () => {
  it("lists newest first and pages with a cursor until nextCursor is null", async (t) => {
    const offload = openOffload(t);
    const job = offload.define("task", { schema }, async () => null);
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) ids.push((await job.enqueue({ n: i })).id);
    const pages: string[][] = [];
    let cursor: string | null = null;
    do {
      const page: { items: JobView[]; nextCursor: string | null } = await offload.listJobs({ cursor, limit: 3 });
      pages.push(page.items.map((j) => j.id));
      cursor = page.nextCursor;
    } while (cursor !== null);
    assert.deepEqual(
      pages.map((p) => p.length),
      [3, 3, 1],
    );
    assert.deepEqual(pages.flat(), [...ids].reverse());
    const exact = await offload.listJobs({ limit: 7 });
    assert.equal(exact.items.length, 7);
    assert.equal(exact.nextCursor, null, "no cursor when the page holds the last job");
    assert.equal((await offload.listJobs()).items.length, 7, "default limit covers them");
  });

  it("filters by status, queue, type and owner, combined, and pages within a filter", async (t) => {
    const offload = openOffload(t);
    const a = offload.define("a", { queue: "q1", schema }, async () => null);
    const b = offload.define("b", { queue: "q2", schema }, async () => null);
    const a1 = await a.enqueue({ n: 1 }, { owner: "ann" });
    const a2 = await a.enqueue({ n: 2 }, { delay: "1h", owner: "bob" });
    const b1 = await b.enqueue({ n: 3 }, { owner: "ann" });
    const b2 = await b.enqueue({ n: 4 }, { owner: "ann" });
    const b3 = await b.enqueue({ n: 5 });
    await offload.cancel(b2.id);
    const ids = async (params: Parameters<typeof offload.listJobs>[0]) => (await offload.listJobs(params)).items.map((j) => j.id);

    assert.deepEqual(await ids({ queue: "q1" }), [a2.id, a1.id]);
    assert.deepEqual(await ids({ type: "b" }), [b3.id, b2.id, b1.id]);
    assert.deepEqual(await ids({ owner: "ann" }), [b2.id, b1.id, a1.id]);
    assert.deepEqual(await ids({ status: "scheduled" }), [a2.id]);
    assert.deepEqual(await ids({ status: "queued" }), [b3.id, b1.id, a1.id]);
    assert.deepEqual(await ids({ status: "cancelled" }), [b2.id]);
    assert.deepEqual(await ids({ owner: "ann", status: "queued", type: "b" }), [b1.id]);
    assert.deepEqual(await ids({ owner: "nobody" }), []);

    const first = await offload.listJobs({ limit: 2, owner: "ann" });
    assert.deepEqual(
      first.items.map((j) => j.id),
      [b2.id, b1.id],
    );
    const second = await offload.listJobs({ cursor: first.nextCursor, limit: 2, owner: "ann" });
    assert.deepEqual(
      second.items.map((j) => j.id),
      [a1.id],
    );
    assert.equal(second.nextCursor, null);
  });

  it("rejects invalid parameters naming the field", async (t) => {
    const offload = openOffload(t);
    await rejectsWithCode(offload.listJobs({ limit: 0 }), "OFFLOAD_ERR_INVALID_INPUT", "params.limit");
    await rejectsWithCode(offload.listJobs({ limit: 501 }), "OFFLOAD_ERR_INVALID_INPUT", "params.limit");
    await rejectsWithCode(offload.listJobs({ status: "done" as never }), "OFFLOAD_ERR_INVALID_INPUT", "params.status");
    await rejectsWithCode(offload.listJobs({ sort: "asc" } as never), "OFFLOAD_ERR_INVALID_INPUT", "params", '"sort"');
    await rejectsWithCode(offload.listJobs({ cursor: "not-a-cursor" }), "OFFLOAD_ERR_INVALID_INPUT", "cursor");
  });
});
