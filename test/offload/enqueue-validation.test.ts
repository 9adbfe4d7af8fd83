import assert from "node:assert/strict";
import { describe, it, type TestContext } from "node:test";
import type { StandardSchemaV1 } from "@standard-schema/spec";
import { z } from "zod";
import { OffloadError, type EnqueueOptions } from "../../src/index.js";
import { nextEvent } from "../helpers.js";
import { openOffload, rejectsWithCode, sqliteFixture } from "./fixture.js";

const schema = z.object({ minutes: z.number().int().positive(), title: z.string().optional() });

function setup(t: TestContext) {
  const offload = openOffload(t);
  const transcribe = offload.define("transcribe", { schema }, async () => null);
  const stored = async () => (await offload.listJobs({ limit: 500 })).items;
  return { offload, stored, transcribe };
}

describe("enqueue validation", () => {
  it("rejects a payload that fails the schema, naming the field, and stores nothing", async (t) => {
    const { stored, transcribe } = setup(t);
    const error = await rejectsWithCode(transcribe.enqueue({ minutes: -3 }), "OFFLOAD_ERR_INVALID_PAYLOAD", "payload.minutes");
    assert.deepEqual(
      error.details?.issues?.map((i) => i.path),
      ["payload.minutes"],
    );
    await rejectsWithCode(transcribe.enqueue({ minutes: "ten" } as never), "OFFLOAD_ERR_INVALID_PAYLOAD", "payload.minutes");
    await rejectsWithCode(transcribe.enqueue({ title: "no minutes" } as never), "OFFLOAD_ERR_INVALID_PAYLOAD", "payload.minutes");
    assert.deepEqual(await stored(), []);
    const ok = await transcribe.enqueue({ minutes: 3 });
    assert.deepEqual((await stored()).map((j) => j.id), [ok.id]);
  });

  it("rejects a payload that is not JSON-serialisable even when the schema accepts it", async (t) => {
    const offload = openOffload(t);
    const anything = offload.define("anything", { schema: z.unknown() }, async () => null);
    await rejectsWithCode(anything.enqueue({ big: 10n }), "OFFLOAD_ERR_INVALID_PAYLOAD", "payload", "JSON");
    await rejectsWithCode(anything.enqueue(() => 1), "OFFLOAD_ERR_INVALID_PAYLOAD", "payload");
    assert.deepEqual((await offload.listJobs()).items, []);
  });

  it("validates with any Standard Schema validator, including an async one", async (t) => {
    const offload = openOffload(t);
    // A hand-written validator: Offload must rely on the Standard Schema interface only, not on zod.
    const evenNumber: StandardSchemaV1<number, number> = {
      "~standard": {
        vendor: "test",
        version: 1,
        validate: async (value) =>
          typeof value === "number" && value % 2 === 0 ? { value } : { issues: [{ message: "expected an even number", path: ["n"] }] },
      },
    };
    const even = offload.define("even", { schema: evenNumber }, async (n) => n * 2);
    await rejectsWithCode(even.enqueue(3), "OFFLOAD_ERR_INVALID_PAYLOAD", "payload.n", "expected an even number");
    assert.deepEqual((await offload.listJobs()).items, []);
    const job = await even.enqueue(4);
    assert.equal(job.payload, 4);
  });

  // [field named in the error, what is wrong, the options]
  const badOptions: [string, string, Record<string, unknown>][] = [
    ["options.priority", "a fractional priority", { priority: 1.5 }],
    ["options.priority", "a priority beyond 1,000,000", { priority: 2_000_000 }],
    ["options.attempts", "zero attempts", { attempts: 0 }],
    ["options.attempts", "attempts as a string", { attempts: "3" }],
    ["options.delay", "an unparseable delay", { delay: "soon" }],
    ["options.delay", "a negative delay", { delay: -5 }],
    ["options.runAt", "a runAt that is not ISO 8601", { runAt: "next tuesday" }],
    ["options.runAt", "a NaN runAt", { runAt: Number.NaN }],
    ["options.runAt", "both delay and runAt", { delay: "1s", runAt: new Date() }],
    ["options.timeout", "an unparseable timeout", { timeout: "forever" }],
    ["options.timeout", "a zero timeout", { timeout: 0 }],
    ["options.uniqueKey", "an empty uniqueKey", { uniqueKey: "" }],
    ["options.uniqueKey", "a uniqueKey over 200 characters", { uniqueKey: "x".repeat(201) }],
    ["options.owner", "an owner with a control character", { owner: "line\nbreak" }],
    ["options", "an unknown option field", { colour: "blue" }],
    ["options", "a misspelt option field", { Priority: 1 }],
  ];

  for (const [field, what, options] of badOptions) {
    it(`rejects ${what} naming ${field}, in enqueue and enqueueMany, and stores nothing`, async (t) => {
      const { stored, transcribe } = setup(t);
      const error = await rejectsWithCode(transcribe.enqueue({ minutes: 1 }, options as EnqueueOptions), "OFFLOAD_ERR_INVALID_INPUT", field);
      const unknown = Object.keys(options).find((k) => !["attempts", "delay", "owner", "priority", "runAt", "timeout", "uniqueKey"].includes(k));
      if (unknown) assert.ok(error.message.includes(JSON.stringify(unknown)), `the message should name the unknown field: ${error.message}`);
      await rejectsWithCode(transcribe.enqueueMany([{ minutes: 1 }, { minutes: 2 }], options as EnqueueOptions), "OFFLOAD_ERR_INVALID_INPUT", field);
      assert.deepEqual(await stored(), []);
    });
  }

  it("accepts every option in its documented forms and stores them", async (t) => {
    const { transcribe } = setup(t);
    const runAt = "2099-01-31T09:00:00.000Z";
    const job = await transcribe.enqueue({ minutes: 1 }, { attempts: 7, owner: "user-1", priority: -4, runAt, timeout: "45m", uniqueKey: "k-1" });
    assert.equal(job.maxAttempts, 7);
    assert.equal(job.owner, "user-1");
    assert.equal(job.priority, -4);
    assert.equal(job.runAt, runAt);
    assert.equal(job.status, "scheduled");
    assert.equal(job.uniqueKey, "k-1");
    const byEpoch = await transcribe.enqueue({ minutes: 1 }, { runAt: Date.parse(runAt) });
    assert.equal(byEpoch.runAt, runAt);
    const byDate = await transcribe.enqueue({ minutes: 1 }, { runAt: new Date(runAt), timeout: null });
    assert.equal(byDate.runAt, runAt);
  });

  it("rejects an unknown job type by name, listing the defined ones", async (t) => {
    const { offload, stored } = setup(t);
    await rejectsWithCode(offload.enqueue("nope", { minutes: 1 }), "OFFLOAD_ERR_UNKNOWN_JOB_TYPE", '"nope"', '"transcribe"');
    await rejectsWithCode(offload.enqueueMany("nope", [{ minutes: 1 }]), "OFFLOAD_ERR_UNKNOWN_JOB_TYPE", '"nope"');
    await rejectsWithCode(offload.enqueue("", { minutes: 1 }), "OFFLOAD_ERR_INVALID_INPUT", "type");
    assert.deepEqual(await stored(), []);
  });

  it("validates a type's options at define time, naming the field", (t) => {
    const offload = openOffload(t);
    const definitionError = (fn: () => unknown, field: string) =>
      assert.throws(fn, (error: unknown) => error instanceof OffloadError && error.code === "OFFLOAD_ERR_INVALID_INPUT" && error.message.includes(field));
    definitionError(() => offload.define("a", { attempts: 0, schema }, async () => null), "options.attempts");
    definitionError(() => offload.define("b", { schema, timeout: "a while" }, async () => null), "options.timeout");
    definitionError(() => offload.define("c", { schema, backoff: { type: "linear" } as never }, async () => null), "options.backoff");
    definitionError(() => offload.define("d", { schema, retries: 3 } as never, async () => null), "options");
    definitionError(() => offload.define("e", { schema: { parse: () => 1 } } as never, async () => null), "options.schema");
    definitionError(() => offload.define("has space", { schema }, async () => null), "name");
    offload.define("f", { schema }, async () => null);
    assert.throws(() => offload.define("f", { schema }, async () => null), (e: unknown) => e instanceof OffloadError && e.code === "OFFLOAD_ERR_DUPLICATE_JOB_TYPE");
  });
});

describe("enqueueMany", () => {
  it("stores nothing when one payload is invalid, and names it by index", async (t) => {
    const { stored, transcribe } = setup(t);
    const error = await rejectsWithCode(
      transcribe.enqueueMany([{ minutes: 1 }, { minutes: 2 }, { minutes: 0 }, { minutes: 4 }]),
      "OFFLOAD_ERR_INVALID_PAYLOAD",
      "payloads[2].minutes",
    );
    assert.deepEqual(
      error.details?.issues?.map((i) => i.path),
      ["payloads[2].minutes"],
    );
    assert.deepEqual(await stored(), []);
  });

  it("returns the jobs in the order given, with increasing ids", async (t) => {
    const { stored, transcribe } = setup(t);
    const payloads = Array.from({ length: 25 }, (_, i) => ({ minutes: i + 1 }));
    const jobs = await transcribe.enqueueMany(payloads, { owner: "batch-owner" });
    assert.deepEqual(
      jobs.map((j) => j.payload),
      payloads,
    );
    assert.ok(jobs.every((j) => j.status === "queued" && j.owner === "batch-owner" && !j.deduplicated));
    const ids = jobs.map((j) => j.id);
    assert.deepEqual([...ids].sort(), ids, "ids sort in enqueue order");
    // listJobs is newest first: the reverse of the enqueue order.
    assert.deepEqual(
      (await stored()).map((j) => j.id),
      [...ids].reverse(),
    );
  });

  it("stores the batch in one transaction: a failure on the last row leaves none stored", async (t) => {
    const { offload, stored, transcribe } = setup(t);
    const backend = await offload.backend();
    // A trigger standing for any database error mid-batch (disk full, constraint): it refuses the row with minutes = 3.
    const db = (backend as unknown as { db: { exec(sql: string): void } }).db;
    db.exec(`CREATE TEMP TRIGGER refuse_three BEFORE INSERT ON offload_jobs
             WHEN json_extract(NEW.payload, '$.minutes') = 3 BEGIN SELECT RAISE(ABORT, 'refused by test trigger'); END`);
    await assert.rejects(transcribe.enqueueMany([{ minutes: 1 }, { minutes: 2 }, { minutes: 3 }]), /refused by test trigger/);
    assert.deepEqual(await stored(), []);
    const jobs = await transcribe.enqueueMany([{ minutes: 1 }, { minutes: 2 }]);
    assert.equal((await stored()).length, jobs.length);
  });

  it("returns an empty list for no payloads, and rejects a non-array", async (t) => {
    const { offload, stored, transcribe } = setup(t);
    assert.deepEqual(await transcribe.enqueueMany([]), []);
    await rejectsWithCode(offload.enqueueMany("transcribe", { minutes: 1 } as never), "OFFLOAD_ERR_INVALID_INPUT", "payloads");
    assert.deepEqual(await stored(), []);
  });
});

describe("validation at execution", () => {
  it("hands the handler the schema's output, with transforms applied once", async (t) => {
    const offload = openOffload(t);
    const seen: unknown[] = [];
    const job = offload.define("dated", { schema: z.object({ at: z.string().transform((s) => new Date(s)), n: z.number().default(1) }) }, async (p) => {
      seen.push(p);
      return p.at instanceof Date;
    });
    await offload.start({ concurrency: 1 });
    const completed = nextEvent(offload, "job:completed");
    const { id, payload } = await job.enqueue({ at: "2030-01-31T09:00:00.000Z" });
    assert.deepEqual(payload, { at: "2030-01-31T09:00:00.000Z" }, "the caller's payload is stored, not the transformed one");
    assert.equal((await completed).result, true);
    assert.deepEqual(seen, [{ at: new Date("2030-01-31T09:00:00.000Z"), n: 1 }]);
    assert.deepEqual((await offload.getJob(id))!.payload, { at: "2030-01-31T09:00:00.000Z" });
  });

  it("fails a job at once, code invalid_payload, when its stored payload no longer matches the worker's schema", async (t) => {
    const db = sqliteFixture(t);
    const producer = db.open();
    producer.define("resize", { attempts: 5, schema: z.object({ width: z.number() }) }, async () => null);
    const { id } = await producer.enqueue("resize", { width: 640 });
    // A newer deployment's worker requires a field the stored job lacks.
    const worker = db.open();
    let ran = false;
    worker.define("resize", { attempts: 5, schema: z.object({ height: z.number(), width: z.number() }) }, async () => void (ran = true));
    const failed = nextEvent(worker, "job:failed");
    await worker.start({ concurrency: 1 });
    const event = await failed;
    assert.equal(event.id, id);
    assert.equal(event.attempt, 1);
    assert.equal(event.error.code, "invalid_payload");
    assert.ok(event.error.message.includes("payload.height"), event.error.message);
    assert.equal(ran, false);
  });
});
