import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { describe, it } from "node:test";
import { v7 as uuidv7 } from "uuid";
import type { Backend } from "../../src/backend/backend.js";
import type { ClaimedJob, IdempotencyKey, JobError, JobInsert, JobProgress, JobRecord } from "../../src/backend/index.js";
import { OffloadError, type ErrorCode } from "../../src/errors.js";
import { JOB_STATES } from "../../src/job/states.js";

/** Builds a fresh, unmigrated engine on an empty database; `cleanup` closes it and removes the database. */
export type BackendFactory = () => Promise<{ backend: Backend; cleanup: () => Promise<void> }>;

/** What only the engine itself can do to its database, for the cases that need to tamper with it. */
export interface ConformanceHooks {
  /** Records `version` as applied in the engine's migrations table, as a newer Offload would have. */
  recordSchemaVersion?: (backend: Backend, version: number) => Promise<void>;
}

/**
 * The injected clock of every case. It lies in the past so that methods without
 * a `now` parameter (`jobGet`, `queueCounts`), which read the database's clock,
 * see every job scheduled relative to it as due.
 */
const T0 = Date.UTC(2024, 0, 1);
const LEASE_MS = 30_000;

/** A job ready to store; every field can be overridden. */
export function newJob(overrides: Partial<JobInsert> = {}): JobInsert {
  return {
    id: uuidv7(),
    maxAttempts: 3,
    owner: null,
    payloadJson: JSON.stringify({ to: "ada@example.com" }),
    priority: 0,
    queue: "default",
    runAt: null,
    timeoutMs: null,
    type: "email",
    uniqueKey: null,
    ...overrides,
  };
}

function jobError(attempt: number, at: number, code = "error"): JobError {
  return { attempt, at, code, message: `attempt ${attempt} failed`, stack: null };
}

function progress(processed: number, total: number): JobProgress {
  return { failed: 0, message: `${processed} of ${total}`, percent: Math.round((100 * processed) / total), processed, total };
}

async function rejectsWith(promise: Promise<unknown>, code: ErrorCode): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof OffloadError, `expected an OffloadError, got ${String(error)}`);
    assert.equal(error.code, code);
    return true;
  });
}

/**
 * Registers the backend conformance cases with `node:test`. Each case builds
 * its own engine through `factory`, migrates it and cleans it up, so cases
 * share nothing and may run in any order. Time is injected through `now`.
 */
export function defineBackendConformance(name: string, factory: BackendFactory, hooks: ConformanceHooks = {}): void {
  /** Runs `fn` against a fresh engine, migrated unless told otherwise. */
  function fixture(fn: (backend: Backend) => Promise<void>, { migrate = true } = {}): () => Promise<void> {
    return async () => {
      const { backend, cleanup } = await factory();
      try {
        if (migrate) await backend.migrate();
        await fn(backend);
      } finally {
        await cleanup();
      }
    };
  }

  async function insert(backend: Backend, overrides: Partial<JobInsert> = {}, now = T0): Promise<JobRecord> {
    const [result] = await backend.jobInsertMany({ jobs: [newJob(overrides)], now });
    assert.ok(result);
    return result.job;
  }

  async function get(backend: Backend, id: string): Promise<JobRecord> {
    const job = await backend.jobGet({ id });
    assert.ok(job, `job ${id} should exist`);
    return job;
  }

  async function claimOne(backend: Backend, { now = T0, queue = "default", workerId = "worker-a", leaseMs = LEASE_MS } = {}): Promise<ClaimedJob> {
    const [claimed, ...rest] = await backend.jobClaim({ leaseMs, now, queues: [{ limit: 1, queue }], workerId });
    assert.ok(claimed, `a job of ${queue} should be claimable`);
    assert.equal(rest.length, 0);
    return claimed;
  }

  /** Stores a job and claims it: the common start of an attempt. */
  async function running(backend: Backend, overrides: Partial<JobInsert> = {}, now = T0): Promise<ClaimedJob> {
    const job = await insert(backend, overrides, now);
    const claimed = await claimOne(backend, { now, queue: job.queue });
    assert.equal(claimed.id, job.id);
    return claimed;
  }

  /** A job finished in `state` at `now`. */
  async function finished(backend: Backend, state: "cancelled" | "completed" | "failed", now = T0, overrides: Partial<JobInsert> = {}): Promise<JobRecord> {
    if (state === "cancelled") {
      const job = await insert(backend, overrides, now);
      await backend.jobCancel({ id: job.id, now });
      return get(backend, job.id);
    }
    const claimed = await running(backend, overrides, now);
    const [ack] = await backend.jobAckMany({
      acks: [state === "completed" ? { ...claimed, outcome: "completed", resultJson: "null" } : { ...claimed, error: jobError(1, now), outcome: "failed" }],
      now,
    });
    assert.equal(ack?.status, state);
    return get(backend, claimed.id);
  }

  describe(`${name} backend conformance`, () => {
    describe("migrate", () => {
      it(
        "applies every migration once, and nothing on a second call",
        fixture(
          async (backend) => {
            const first = await backend.migrate();
            assert.ok(first.applied.length > 0);
            assert.equal(first.version, Math.max(...first.applied));
            const second = await backend.migrate();
            assert.deepEqual(second, { applied: [], version: first.version });
          },
          { migrate: false },
        ),
      );

      it(
        "refuses a database whose schema is newer than the code",
        { skip: hooks.recordSchemaVersion ? false : "the engine gives no recordSchemaVersion hook" },
        fixture(async (backend) => {
          const { version } = await backend.migrate();
          await hooks.recordSchemaVersion?.(backend, version + 1);
          await rejectsWith(backend.migrate(), "OFFLOAD_ERR_MIGRATION");
        }),
      );
    });

    describe("jobInsertMany", () => {
      it(
        "schedules a job delayMs after now by the engine's clock",
        fixture(async (backend) => {
          const [delayed, immediate] = await backend.jobInsertMany({ jobs: [newJob({ delayMs: 5_000 }), newJob({ delayMs: 0 })], now: T0 });
          assert.equal(delayed?.job.status, "scheduled");
          assert.equal(delayed?.job.runAt, T0 + 5_000);
          assert.equal((await get(backend, delayed!.job.id)).runAt, T0 + 5_000);
          assert.equal(immediate?.job.status, "queued");
          assert.equal(immediate?.job.runAt, T0);
        }),
      );

      it(
        "stores a batch in order and returns each job as stored",
        fixture(async (backend) => {
          const jobs = [newJob({ priority: 2 }), newJob({ owner: "alice", queue: "reports" }), newJob({ maxAttempts: 1, timeoutMs: 5_000 })];
          const results = await backend.jobInsertMany({ jobs, now: T0 });
          assert.deepEqual(
            results.map((r) => [r.job.id, r.deduplicated]),
            jobs.map((j) => [j.id, false]),
          );
          for (const [i, job] of jobs.entries()) {
            const stored = await get(backend, job.id);
            assert.deepEqual(results[i]?.job, stored);
            assert.equal(stored.attempt, 0);
            assert.equal(stored.createdAt, T0);
            assert.deepEqual(stored.errors, []);
            assert.equal(stored.maxAttempts, job.maxAttempts);
            assert.equal(stored.owner, job.owner);
            assert.deepEqual(stored.payload, { to: "ada@example.com" });
            assert.equal(stored.priority, job.priority);
            assert.equal(stored.queue, job.queue);
            assert.equal(stored.runAt, T0);
            assert.equal(stored.status, "queued");
            assert.equal(stored.timeoutMs, job.timeoutMs);
          }
          const listed = await backend.jobList({ filter: {}, limit: 10, now: T0 });
          assert.deepEqual(
            listed.items.map((j) => j.id),
            jobs.map((j) => j.id).reverse(),
          );
        }),
      );

      it(
        "stores a job whose runAt is in the future as scheduled and one due already as queued",
        fixture(async (backend) => {
          const results = await backend.jobInsertMany({
            jobs: [newJob({ runAt: T0 + 1 }), newJob({ runAt: T0 }), newJob({ runAt: T0 - 60_000 })],
            now: T0,
          });
          assert.deepEqual(
            results.map((r) => [r.job.status, r.job.runAt]),
            [
              ["scheduled", T0 + 1],
              ["queued", T0],
              ["queued", T0 - 60_000],
            ],
          );
          const scheduled = await backend.jobList({ filter: { status: "scheduled" }, limit: 10, now: T0 });
          assert.deepEqual(
            scheduled.items.map((j) => j.id),
            [results[0]?.job.id],
          );
        }),
      );

      it(
        "returns the unfinished job holding a uniqueKey instead of storing a duplicate",
        fixture(async (backend) => {
          const first = await insert(backend, { uniqueKey: "invoice-42" });
          const duplicate = newJob({ uniqueKey: "invoice-42" });
          const [result] = await backend.jobInsertMany({ jobs: [duplicate], now: T0 + 1_000 });
          assert.equal(result?.deduplicated, true);
          assert.equal(result?.job.id, first.id);
          assert.equal(await backend.jobGet({ id: duplicate.id }), null);
          // Still held while the first one runs.
          await claimOne(backend, { now: T0 + 2_000 });
          const [again] = await backend.jobInsertMany({ jobs: [newJob({ uniqueKey: "invoice-42" })], now: T0 + 3_000 });
          assert.equal(again?.deduplicated, true);
          assert.equal(again?.job.id, first.id);
          assert.equal(again?.job.status, "running");
          assert.equal((await backend.jobList({ filter: {}, limit: 10, now: T0 + 3_000 })).items.length, 1);
        }),
      );

      it(
        "deduplicates within one batch",
        fixture(async (backend) => {
          const jobs = [newJob({ uniqueKey: "k" }), newJob({ uniqueKey: "k" }), newJob({ uniqueKey: "other" })];
          const results = await backend.jobInsertMany({ jobs, now: T0 });
          assert.deepEqual(
            results.map((r) => [r.job.id, r.deduplicated]),
            [
              [jobs[0]?.id, false],
              [jobs[0]?.id, true],
              [jobs[2]?.id, false],
            ],
          );
          assert.equal(await backend.jobGet({ id: jobs[1]!.id }), null);
        }),
      );

      it(
        "accepts a uniqueKey again once the job holding it has finished",
        fixture(async (backend) => {
          for (const state of ["completed", "failed", "cancelled"] as const) {
            const done = await finished(backend, state, T0, { uniqueKey: `key-${state}` });
            // Another queue, so the next round's claim does not pick it up; keys are scoped by type, not queue.
            const [result] = await backend.jobInsertMany({ jobs: [newJob({ queue: "later", uniqueKey: `key-${state}` })], now: T0 + 1 });
            assert.equal(result?.deduplicated, false, `a ${state} job should release its key`);
            assert.notEqual(result?.job.id, done.id);
          }
        }),
      );

      it(
        "scopes a uniqueKey to its job type",
        fixture(async (backend) => {
          const results = await backend.jobInsertMany({ jobs: [newJob({ uniqueKey: "k" }), newJob({ type: "sms", uniqueKey: "k" })], now: T0 });
          assert.deepEqual(
            results.map((r) => r.deduplicated),
            [false, false],
          );
        }),
      );
    });

    describe("jobClaim", () => {
      /** Five jobs whose claim order exercises each key; returns their ids in that order. */
      async function mixedOrder(backend: Backend): Promise<string[]> {
        const low = await insert(backend, { priority: 0 }, T0);
        const lateRunAt = await insert(backend, { priority: 5 }, T0 + 10);
        const firstEnqueued = await insert(backend, { priority: 5, runAt: T0 }, T0 + 20);
        const secondEnqueued = await insert(backend, { priority: 5, runAt: T0 }, T0 + 20);
        const high = await insert(backend, { priority: 9 }, T0 + 30);
        return [high.id, firstEnqueued.id, secondEnqueued.id, lateRunAt.id, low.id];
      }

      it(
        "claims higher priority first, then earlier runAt, then enqueue order",
        fixture(async (backend) => {
          const expected = await mixedOrder(backend);
          const claimed = await backend.jobClaim({ leaseMs: LEASE_MS, now: T0 + 100, queues: [{ limit: 10, queue: "default" }], workerId: "w" });
          assert.deepEqual(
            claimed.map((c) => c.id),
            expected,
          );
        }),
      );

      it(
        "picks the same order when claiming one job at a time",
        fixture(async (backend) => {
          const expected = await mixedOrder(backend);
          const order = [];
          for (let i = 0; i < expected.length; i++) order.push((await claimOne(backend, { now: T0 + 100 + i })).id);
          assert.deepEqual(order, expected);
        }),
      );

      it(
        "claims at most limit jobs of each queue, and only from the queues asked for",
        fixture(async (backend) => {
          await backend.jobInsertMany({
            jobs: [
              ...Array.from({ length: 4 }, () => newJob({ queue: "a" })),
              ...Array.from({ length: 4 }, () => newJob({ queue: "b" })),
              ...Array.from({ length: 4 }, () => newJob({ queue: "c" })),
            ],
            now: T0,
          });
          const claimed = await backend.jobClaim({
            leaseMs: LEASE_MS,
            now: T0,
            queues: [
              { limit: 3, queue: "a" },
              { limit: 1, queue: "b" },
              { limit: 0, queue: "c" },
            ],
            workerId: "w",
          });
          const byQueue = (q: string) => claimed.filter((c) => c.job.queue === q).length;
          assert.deepEqual([byQueue("a"), byQueue("b"), byQueue("c")], [3, 1, 0]);
          const counts = await backend.queueCounts();
          assert.deepEqual(
            counts.map((c) => [c.queue, c.counts.running, c.counts.queued]),
            [
              ["a", 3, 1],
              ["b", 1, 3],
              ["c", 0, 4],
            ],
          );
        }),
      );

      it(
        "returns nothing when no queue asked for has a ready job",
        fixture(async (backend) => {
          await insert(backend, { queue: "other" });
          assert.deepEqual(await backend.jobClaim({ leaseMs: LEASE_MS, now: T0, queues: [{ limit: 5, queue: "default" }], workerId: "w" }), []);
          assert.deepEqual(await backend.jobClaim({ leaseMs: LEASE_MS, now: T0, queues: [], workerId: "w" }), []);
        }),
      );

      it(
        "counts the attempt and gives a lease of leaseMs at claim",
        fixture(async (backend) => {
          const job = await insert(backend);
          const claimed = await claimOne(backend, { leaseMs: 12_345, now: T0 + 500, workerId: "worker-7" });
          assert.equal(typeof claimed.leaseToken, "string");
          assert.ok(claimed.leaseToken.length > 0);
          for (const record of [claimed.job, await get(backend, job.id)]) {
            assert.equal(record.status, "running");
            assert.equal(record.attempt, 1);
            assert.equal(record.workerId, "worker-7");
            assert.equal(record.leaseExpiresAt, T0 + 500 + 12_345);
            assert.equal(record.startedAt, T0 + 500);
          }
        }),
      );

      it(
        "promotes a scheduled job once due, and leaves one not yet due",
        fixture(async (backend) => {
          const soon = await insert(backend, { runAt: T0 + 1_000 });
          const later = await insert(backend, { runAt: T0 + 5_000 });
          assert.deepEqual(await backend.jobClaim({ leaseMs: LEASE_MS, now: T0 + 999, queues: [{ limit: 5, queue: "default" }], workerId: "w" }), []);
          const claimed = await backend.jobClaim({ leaseMs: LEASE_MS, now: T0 + 1_000, queues: [{ limit: 5, queue: "default" }], workerId: "w" });
          assert.deepEqual(
            claimed.map((c) => c.id),
            [soon.id],
          );
          const [laterListed] = (await backend.jobList({ filter: { status: "scheduled" }, limit: 5, now: T0 + 1_000 })).items;
          assert.equal(laterListed?.id, later.id);
        }),
      );

      it(
        "never hands out a running job a second time",
        fixture(async (backend) => {
          const job = await insert(backend);
          await claimOne(backend, { workerId: "worker-a" });
          for (const workerId of ["worker-a", "worker-b"]) {
            assert.deepEqual(await backend.jobClaim({ leaseMs: LEASE_MS, now: T0 + 1, queues: [{ limit: 5, queue: "default" }], workerId }), []);
          }
          assert.equal((await get(backend, job.id)).attempt, 1);
        }),
      );
    });

    describe("fencing", () => {
      /** A job claimed by worker-a, rescued after its lease expired and claimed again by worker-b. */
      async function takenOver(backend: Backend): Promise<{ fresh: ClaimedJob; stale: ClaimedJob; now: number }> {
        const stale = await running(backend, {}, T0);
        const now = T0 + LEASE_MS + 1;
        const rescued = await backend.jobRescueExpired({ limit: 10, now });
        assert.deepEqual(
          rescued.requeued.map((j) => j.id),
          [stale.id],
        );
        const fresh = await claimOne(backend, { now, workerId: "worker-b" });
        assert.equal(fresh.id, stale.id);
        assert.notEqual(fresh.leaseToken, stale.leaseToken);
        return { fresh, now, stale };
      }

      it(
        "does not complete a job whose lease was taken over",
        fixture(async (backend) => {
          const { fresh, now, stale } = await takenOver(backend);
          const [ack] = await backend.jobAckMany({ acks: [{ ...stale, outcome: "completed", resultJson: '"stale"' }], now: now + 1 });
          assert.deepEqual(ack, { applied: false, id: stale.id, status: null });
          const job = await get(backend, fresh.id);
          assert.equal(job.status, "running");
          assert.equal(job.workerId, "worker-b");
          assert.equal(job.result, null);
          const [freshAck] = await backend.jobAckMany({ acks: [{ ...fresh, outcome: "completed", resultJson: '"fresh"' }], now: now + 2 });
          assert.equal(freshAck?.applied, true);
          assert.equal((await get(backend, fresh.id)).result, "fresh");
        }),
      );

      it(
        "applies no outcome presented with a stale lease token",
        fixture(async (backend) => {
          const { fresh, now, stale } = await takenOver(backend);
          const error = jobError(1, now);
          const results = await backend.jobAckMany({
            acks: [
              { ...stale, error, outcome: "failed" },
              { ...stale, delayMs: 0, error, outcome: "retry" },
              { ...stale, error, outcome: "cancelled" },
              { ...stale, outcome: "released" },
            ],
            now: now + 1,
          });
          assert.deepEqual(
            results.map((r) => r.applied),
            [false, false, false, false],
          );
          const job = await get(backend, fresh.id);
          assert.equal(job.status, "running");
          assert.equal(job.attempt, 2);
          assert.equal(job.errors.length, 1, "only the rescue's lease_expired error");
        }),
      );

      it(
        "in a batch of completions, applies the current lease's ack beside a stale one of the same job, once, with its progress",
        fixture(async (backend) => {
          const { fresh, now, stale } = await takenOver(backend);
          const other = await running(backend, {}, now);
          const otherProgress = (await get(backend, other.id)).progress;
          const results = await backend.jobAckMany({
            acks: [
              { ...stale, outcome: "completed", progress: progress(1, 10), resultJson: '"stale"' },
              { ...fresh, outcome: "completed", progress: progress(10, 10), resultJson: '"fresh"' },
              { ...fresh, outcome: "completed", resultJson: '"again"' },
              { ...other, outcome: "completed", resultJson: '"other"' },
            ],
            now: now + 1,
          });
          assert.deepEqual(
            results.map((r) => [r.applied, r.status]),
            [
              [false, null],
              [true, "completed"],
              [false, null],
              [true, "completed"],
            ],
          );
          const job = await get(backend, fresh.id);
          assert.deepEqual([job.result, job.progress], ["fresh", progress(10, 10)]);
          const untouched = await get(backend, other.id);
          assert.deepEqual([untouched.result, untouched.progress], ["other", otherProgress], "an ack without progress keeps the job's own");
        }),
      );

      it(
        "does not overwrite progress under a stale lease",
        fixture(async (backend) => {
          const { fresh, now, stale } = await takenOver(backend);
          assert.deepEqual(await backend.jobProgressMany({ now: now + 1, updates: [{ ...fresh, progress: progress(5, 10) }] }), [fresh.id]);
          assert.deepEqual(await backend.jobProgressMany({ now: now + 2, updates: [{ ...stale, progress: progress(1, 10) }] }), []);
          assert.deepEqual((await get(backend, fresh.id)).progress, progress(5, 10));
        }),
      );

      it(
        "does not renew a lease presented with a stale or made-up token",
        fixture(async (backend) => {
          const { fresh, now, stale } = await takenOver(backend);
          const results = await backend.jobHeartbeatMany({
            leaseMs: 999_999,
            leases: [stale, { id: fresh.id, leaseToken: randomUUID() }],
            now: now + 1,
            workerId: "worker-a",
          });
          assert.deepEqual(
            results.map((r) => [r.id, r.renewed]),
            [
              [stale.id, false],
              [fresh.id, false],
            ],
          );
          assert.equal((await get(backend, fresh.id)).leaseExpiresAt, now + LEASE_MS);
        }),
      );

      it(
        "applies no ack, progress or heartbeat for a job that is not running",
        fixture(async (backend) => {
          const claimed = await running(backend);
          await backend.jobAckMany({ acks: [{ ...claimed, outcome: "completed", resultJson: "1" }], now: T0 + 1 });
          const [ack] = await backend.jobAckMany({ acks: [{ ...claimed, outcome: "completed", resultJson: "2" }], now: T0 + 2 });
          assert.equal(ack?.applied, false);
          assert.deepEqual(await backend.jobProgressMany({ now: T0 + 3, updates: [{ ...claimed, progress: progress(1, 2) }] }), []);
          const [beat] = await backend.jobHeartbeatMany({ leaseMs: LEASE_MS, leases: [claimed], now: T0 + 4, workerId: "worker-a" });
          assert.equal(beat?.renewed, false);
          const job = await get(backend, claimed.id);
          assert.equal(job.result, 1);
          assert.equal(job.finishedAt, T0 + 1);
        }),
      );
    });

    describe("jobAckMany", () => {
      it(
        "completes an attempt: stores the result and finishedAt, and clears the lease",
        fixture(async (backend) => {
          const claimed = await running(backend);
          const [ack] = await backend.jobAckMany({ acks: [{ ...claimed, outcome: "completed", resultJson: '{"sent":true}' }], now: T0 + 50 });
          assert.deepEqual(ack, { applied: true, id: claimed.id, status: "completed" });
          const job = await get(backend, claimed.id);
          assert.equal(job.status, "completed");
          assert.deepEqual(job.result, { sent: true });
          assert.equal(job.finishedAt, T0 + 50);
          assert.equal(job.attempt, 1);
          assert.equal(job.leaseExpiresAt, null);
          assert.equal(job.workerId, null);
        }),
      );

      it(
        "fails an attempt for good: records the error and appends it to errors",
        fixture(async (backend) => {
          const claimed = await running(backend);
          const error = jobError(1, T0 + 50, "permanent");
          const [ack] = await backend.jobAckMany({ acks: [{ ...claimed, error, outcome: "failed" }], now: T0 + 50 });
          assert.deepEqual(ack, { applied: true, id: claimed.id, status: "failed" });
          const job = await get(backend, claimed.id);
          assert.equal(job.status, "failed");
          assert.deepEqual(job.error, error);
          assert.deepEqual(job.errors, [error]);
          assert.equal(job.finishedAt, T0 + 50);
          assert.equal(job.leaseExpiresAt, null);
          assert.equal(job.workerId, null);
        }),
      );

      it(
        "schedules a retry delayMs after now and keeps every attempt's error",
        fixture(async (backend) => {
          const first = await running(backend);
          const error1 = jobError(1, T0 + 10);
          const [ack1] = await backend.jobAckMany({ acks: [{ ...first, delayMs: 2_000, error: error1, outcome: "retry" }], now: T0 + 10 });
          assert.deepEqual(ack1, { applied: true, id: first.id, status: "scheduled" });
          let job = await get(backend, first.id);
          assert.equal(job.runAt, T0 + 2_010);
          assert.equal(job.finishedAt, null);
          assert.equal(job.leaseExpiresAt, null);
          assert.deepEqual(job.errors, [error1]);
          const notYet = await backend.jobList({ filter: { status: "scheduled" }, limit: 5, now: T0 + 2_009 });
          assert.equal(notYet.items[0]?.id, first.id);
          assert.deepEqual(await backend.jobClaim({ leaseMs: LEASE_MS, now: T0 + 2_009, queues: [{ limit: 1, queue: "default" }], workerId: "w" }), []);

          const second = await claimOne(backend, { now: T0 + 2_010 });
          assert.equal(second.job.attempt, 2);
          const error2 = jobError(2, T0 + 2_020, "timeout");
          await backend.jobAckMany({ acks: [{ ...second, error: error2, outcome: "failed" }], now: T0 + 2_020 });
          job = await get(backend, first.id);
          assert.deepEqual(job.error, error2);
          assert.deepEqual(job.errors, [error1, error2]);
        }),
      );

      it(
        "queues a retry with delayMs 0 at once",
        fixture(async (backend) => {
          const claimed = await running(backend);
          const [ack] = await backend.jobAckMany({ acks: [{ ...claimed, delayMs: 0, error: jobError(1, T0 + 10), outcome: "retry" }], now: T0 + 10 });
          assert.equal(ack?.status, "queued");
          const job = await get(backend, claimed.id);
          assert.equal(job.runAt, T0 + 10);
          assert.equal(job.errors.length, 1);
          assert.equal((await claimOne(backend, { now: T0 + 10 })).job.attempt, 2);
        }),
      );

      it(
        "cancels an attempt, recording its error when one is given",
        fixture(async (backend) => {
          const withError = await running(backend);
          const withoutError = await running(backend);
          const error = jobError(1, T0 + 5, "cancelled");
          const results = await backend.jobAckMany({
            acks: [
              { ...withError, error, outcome: "cancelled" },
              { ...withoutError, error: null, outcome: "cancelled" },
            ],
            now: T0 + 5,
          });
          assert.deepEqual(
            results.map((r) => [r.id, r.applied, r.status]),
            [
              [withError.id, true, "cancelled"],
              [withoutError.id, true, "cancelled"],
            ],
          );
          const a = await get(backend, withError.id);
          assert.deepEqual([a.status, a.error, a.errors, a.finishedAt, a.workerId], ["cancelled", error, [error], T0 + 5, null]);
          const b = await get(backend, withoutError.id);
          assert.deepEqual([b.status, b.error, b.errors, b.finishedAt, b.workerId], ["cancelled", null, [], T0 + 5, null]);
        }),
      );

      it(
        "releases an attempt back to queued at its old place and refunds it",
        fixture(async (backend) => {
          const claimed = await running(backend, { runAt: T0 });
          const behind = await insert(backend, {}, T0 + 1);
          const [ack] = await backend.jobAckMany({ acks: [{ ...claimed, outcome: "released" }], now: T0 + 20 });
          assert.deepEqual(ack, { applied: true, id: claimed.id, status: "queued" });
          const job = await get(backend, claimed.id);
          assert.deepEqual(
            [job.status, job.attempt, job.errors, job.startedAt, job.finishedAt, job.leaseExpiresAt, job.workerId],
            ["queued", 0, [], null, null, null, null],
          );
          const next = await claimOne(backend, { now: T0 + 30 });
          assert.equal(next.id, claimed.id, `released job should be claimed before ${behind.id}`);
          assert.equal(next.job.attempt, 1);
        }),
      );

      it(
        "ends a retry, a failure or a release cancelled when cancellation was requested meanwhile",
        fixture(async (backend) => {
          const retried = await running(backend);
          const failed = await running(backend);
          const released = await running(backend);
          for (const job of [retried, failed, released]) {
            assert.equal((await backend.jobCancel({ id: job.id, now: T0 + 1 }))?.outcome, "requested");
          }
          const error = jobError(1, T0 + 2);
          const results = await backend.jobAckMany({
            acks: [
              { ...retried, delayMs: 1_000, error, outcome: "retry" },
              { ...failed, error, outcome: "failed" },
              { ...released, outcome: "released" },
            ],
            now: T0 + 2,
          });
          assert.deepEqual(
            results.map((r) => [r.applied, r.status]),
            [
              [true, "cancelled"],
              [true, "cancelled"],
              [true, "cancelled"],
            ],
          );
          for (const { id } of [retried, failed, released]) {
            const job = await get(backend, id);
            assert.equal(job.status, "cancelled");
            assert.equal(job.finishedAt, T0 + 2);
            assert.equal(job.workerId, null);
          }
        }),
      );

      it(
        "stores the progress carried by an ack, and keeps earlier progress when it carries none",
        fixture(async (backend) => {
          const withProgress = await running(backend);
          const without = await running(backend);
          await backend.jobProgressMany({ now: T0 + 1, updates: [{ ...without, progress: progress(3, 9) }] });
          await backend.jobAckMany({
            acks: [
              { ...withProgress, outcome: "completed", progress: progress(10, 10), resultJson: "null" },
              { ...without, error: jobError(1, T0 + 2), outcome: "failed" },
            ],
            now: T0 + 2,
          });
          assert.deepEqual((await get(backend, withProgress.id)).progress, progress(10, 10));
          assert.deepEqual((await get(backend, without.id)).progress, progress(3, 9));
        }),
      );

      it(
        "reports each ack of a batch on its own, in order",
        fixture(async (backend) => {
          const a = await running(backend);
          const b = await running(backend);
          const results = await backend.jobAckMany({
            acks: [
              { ...a, outcome: "completed", resultJson: "1" },
              { id: b.id, leaseToken: randomUUID(), outcome: "completed", resultJson: "2" },
              { ...a, outcome: "completed", resultJson: "3" },
            ],
            now: T0 + 1,
          });
          assert.deepEqual(results, [
            { applied: true, id: a.id, status: "completed" },
            { applied: false, id: b.id, status: null },
            { applied: false, id: a.id, status: null },
          ]);
          assert.equal((await get(backend, a.id)).result, 1);
          assert.equal((await get(backend, b.id)).status, "running");
        }),
      );
    });

    describe("jobAckAndClaim", () => {
      it(
        "writes the acks and claims in one call, fencing stale acks as jobAckMany does",
        fixture(async (backend) => {
          const done = await running(backend);
          const next = await insert(backend, {}, T0 + 1);
          const result = await backend.jobAckAndClaim({
            acks: [
              { ...done, outcome: "completed", resultJson: "42" },
              { id: done.id, leaseToken: randomUUID(), outcome: "completed", resultJson: "0" },
            ],
            claim: { leaseMs: LEASE_MS, queues: [{ limit: 5, queue: "default" }], workerId: "worker-b" },
            now: T0 + 10,
          });
          assert.deepEqual(result.acks, [
            { applied: true, id: done.id, status: "completed" },
            { applied: false, id: done.id, status: null },
          ]);
          assert.deepEqual(
            result.claimed.map((c) => [c.id, c.job.attempt, c.job.workerId, c.job.leaseExpiresAt]),
            [[next.id, 1, "worker-b", T0 + 10 + LEASE_MS]],
          );
          assert.equal((await get(backend, done.id)).result, 42);
          assert.equal((await get(backend, next.id)).status, "running");
        }),
      );

      it(
        "claims a job that its own acks made ready: a retry without delay, a release",
        fixture(async (backend) => {
          const retried = await running(backend);
          const released = await running(backend, {}, T0 + 1);
          const result = await backend.jobAckAndClaim({
            acks: [
              { ...retried, delayMs: 0, error: jobError(1, T0 + 5), outcome: "retry" },
              { ...released, outcome: "released" },
            ],
            claim: { leaseMs: LEASE_MS, queues: [{ limit: 5, queue: "default" }], workerId: "worker-b" },
            now: T0 + 5,
          });
          assert.deepEqual(
            result.acks.map((a) => a.status),
            ["queued", "queued"],
          );
          assert.deepEqual(new Set(result.claimed.map((c) => c.id)), new Set([retried.id, released.id]));
          const attempts = Object.fromEntries(result.claimed.map((c) => [c.id, c.job.attempt]));
          assert.equal(attempts[retried.id], 2, "the retry is a second attempt");
          assert.equal(attempts[released.id], 1, "the release refunded its attempt");
        }),
      );

      it(
        "only claims when given no acks, and only acks when no queue has room",
        fixture(async (backend) => {
          const queued = await insert(backend);
          const claimOnly = await backend.jobAckAndClaim({
            acks: [],
            claim: { leaseMs: LEASE_MS, queues: [{ limit: 1, queue: "default" }], workerId: "w" },
            now: T0,
          });
          assert.deepEqual(claimOnly.acks, []);
          assert.deepEqual(
            claimOnly.claimed.map((c) => c.id),
            [queued.id],
          );
          const waiting = await insert(backend, {}, T0 + 1);
          const ackOnly = await backend.jobAckAndClaim({
            acks: [{ ...claimOnly.claimed[0]!, outcome: "completed", resultJson: "null" }],
            claim: { leaseMs: LEASE_MS, queues: [{ limit: 0, queue: "default" }], workerId: "w" },
            now: T0 + 2,
          });
          assert.deepEqual(ackOnly.acks, [{ applied: true, id: queued.id, status: "completed" }]);
          assert.deepEqual(ackOnly.claimed, []);
          assert.equal((await get(backend, waiting.id)).status, "queued");
        }),
      );
    });

    describe("deleteCompleted (worker option prune.completed: 0)", () => {
      it(
        "deletes each job its current lease completes, writes every other outcome, and counts the completions as ended, not stored",
        fixture(async (backend) => {
          const kept = await finished(backend, "completed", T0, { queue: "media" });
          const stale = await running(backend, { queue: "media" }, T0);
          const now = T0 + LEASE_MS + 1;
          await backend.jobRescueExpired({ limit: 10, now });
          const fresh = await claimOne(backend, { now, queue: "media", workerId: "worker-b" });
          assert.equal(fresh.id, stale.id);
          const done = await running(backend, { queue: "media" }, now);
          const failed = await running(backend, { queue: "media" }, now);
          const retried = await running(backend, { queue: "media" }, now);
          const results = await backend.jobAckMany({
            acks: [
              { ...done, outcome: "completed", resultJson: '"done"' },
              { ...stale, outcome: "completed", resultJson: '"stale"' },
              { ...failed, error: jobError(1, now), outcome: "failed" },
              { ...done, error: jobError(1, now), outcome: "failed" },
              { ...retried, delayMs: 60_000, error: jobError(1, now), outcome: "retry" },
              { ...fresh, outcome: "completed", resultJson: '"fresh"' },
            ],
            deleteCompleted: true,
            now: now + 1,
          });
          assert.deepEqual(
            results.map((r) => [r.applied, r.status]),
            [
              [true, "completed"],
              [false, null],
              [true, "failed"],
              [false, null],
              [true, "scheduled"],
              [true, "completed"],
            ],
          );
          assert.equal(await backend.jobGet({ id: done.id }), null);
          assert.equal(await backend.jobGet({ id: fresh.id }), null, "the current lease's ack deletes the job the stale one could not");
          assert.equal((await get(backend, failed.id)).status, "failed");
          assert.deepEqual((await get(backend, kept.id)).result, null);
          const [entry] = await backend.queueStats({ now: now + 2 });
          assert.equal(entry?.counts.completed, 1, "only the completed job that was kept is stored");
          assert.deepEqual([entry?.lastMinute.completed, entry?.lastMinute.failed], [3, 1], "ended: the kept job, the two deleted, the failed one");
          assert.deepEqual(await backend.queueCounts({ now: now + 2 }), [{ counts: entry!.counts, queue: "media" }]);
        }),
      );

      it(
        "in a batch of completions only, deletes each job once, by its first ack",
        fixture(async (backend) => {
          const a = await running(backend);
          const b = await running(backend);
          const results = await backend.jobAckMany({
            acks: [
              { ...a, outcome: "completed", progress: progress(1, 1), resultJson: "1" },
              { ...a, outcome: "completed", resultJson: "2" },
              { ...b, outcome: "completed", resultJson: "3" },
            ],
            deleteCompleted: true,
            now: T0 + 1,
          });
          assert.deepEqual(
            results.map((r) => r.applied),
            [true, false, true],
          );
          assert.deepEqual(await backend.jobList({ filter: {}, limit: 10, now: T0 + 2 }).then((page) => page.items), []);
          const [entry] = await backend.queueStats({ now: T0 + 2 });
          assert.deepEqual([entry?.counts.completed, entry?.lastMinute.completed], [0, 2]);
        }),
      );

      it(
        "deletes completed jobs in jobAckAndClaim, with or without a release in the batch",
        fixture(async (backend) => {
          const first = await running(backend);
          const waiting = await insert(backend, {}, T0 + 1);
          const steady = await backend.jobAckAndClaim({
            acks: [{ ...first, outcome: "completed", resultJson: "1" }],
            claim: { leaseMs: LEASE_MS, queues: [{ limit: 1, queue: "default" }], workerId: "worker-a" },
            deleteCompleted: true,
            now: T0 + 2,
          });
          assert.deepEqual(steady.acks, [{ applied: true, id: first.id, status: "completed" }]);
          assert.deepEqual(
            steady.claimed.map((c) => c.id),
            [waiting.id],
          );
          assert.equal(await backend.jobGet({ id: first.id }), null);
          const released = await running(backend, {}, T0 + 3);
          const mixed = await backend.jobAckAndClaim({
            acks: [
              { ...steady.claimed[0]!, outcome: "completed", resultJson: "2" },
              { ...released, outcome: "released" },
            ],
            claim: { leaseMs: LEASE_MS, queues: [{ limit: 5, queue: "default" }], workerId: "worker-a" },
            deleteCompleted: true,
            now: T0 + 4,
          });
          assert.deepEqual(
            mixed.acks.map((a) => [a.applied, a.status]),
            [
              [true, "completed"],
              [true, "queued"],
            ],
          );
          assert.deepEqual(
            mixed.claimed.map((c) => c.id),
            [released.id],
            "the release makes its job claimable in the same call",
          );
          assert.equal(await backend.jobGet({ id: waiting.id }), null);
          const [entry] = await backend.queueStats({ now: T0 + 5 });
          assert.deepEqual([entry?.counts.completed, entry?.lastMinute.completed], [0, 2]);
        }),
      );
    });

    describe("jobHeartbeatMany", () => {
      it(
        "extends each lease to now + leaseMs",
        fixture(async (backend) => {
          const a = await running(backend);
          const b = await running(backend);
          const results = await backend.jobHeartbeatMany({ leaseMs: 60_000, leases: [a, b], now: T0 + 20_000, workerId: "worker-a" });
          assert.deepEqual(results, [
            { cancelRequested: false, id: a.id, renewed: true },
            { cancelRequested: false, id: b.id, renewed: true },
          ]);
          for (const { id } of [a, b]) assert.equal((await get(backend, id)).leaseExpiresAt, T0 + 80_000);
          // The renewed lease is what the rescuer honours.
          const rescued = await backend.jobRescueExpired({ limit: 10, now: T0 + LEASE_MS + 1 });
          assert.equal(rescued.requeued.length + rescued.failed.length + rescued.cancelled.length, 0);
        }),
      );

      it(
        "tells the worker that cancellation was requested",
        fixture(async (backend) => {
          const claimed = await running(backend);
          await backend.jobCancel({ id: claimed.id, now: T0 + 1 });
          const [beat] = await backend.jobHeartbeatMany({ leaseMs: LEASE_MS, leases: [claimed], now: T0 + 2, workerId: "worker-a" });
          assert.deepEqual(beat, { cancelRequested: true, id: claimed.id, renewed: true });
        }),
      );

      it(
        "reports a lease lost to the rescuer as not renewed",
        fixture(async (backend) => {
          const claimed = await running(backend);
          await backend.jobRescueExpired({ limit: 10, now: T0 + LEASE_MS + 1 });
          const [beat] = await backend.jobHeartbeatMany({ leaseMs: LEASE_MS, leases: [claimed], now: T0 + LEASE_MS + 2, workerId: "worker-a" });
          assert.deepEqual(beat, { cancelRequested: false, id: claimed.id, renewed: false });
          const job = await get(backend, claimed.id);
          assert.equal(job.status, "queued");
          assert.equal(job.leaseExpiresAt, null);
        }),
      );

      it(
        "returns nothing for no leases",
        fixture(async (backend) => {
          assert.deepEqual(await backend.jobHeartbeatMany({ leaseMs: LEASE_MS, leases: [], now: T0, workerId: "w" }), []);
        }),
      );
    });

    describe("jobCancel", () => {
      it(
        "cancels a queued or scheduled job at once",
        fixture(async (backend) => {
          const queued = await insert(backend);
          const scheduled = await insert(backend, { runAt: T0 + 60_000 });
          for (const job of [queued, scheduled]) {
            const result = await backend.jobCancel({ id: job.id, now: T0 + 5 });
            assert.equal(result?.outcome, "cancelled");
            assert.equal(result?.job.status, "cancelled");
            const stored = await get(backend, job.id);
            assert.equal(stored.status, "cancelled");
            assert.equal(stored.finishedAt, T0 + 5);
          }
          assert.deepEqual(await backend.jobClaim({ leaseMs: LEASE_MS, now: T0 + 60_000, queues: [{ limit: 5, queue: "default" }], workerId: "w" }), []);
        }),
      );

      it(
        "asks the worker to stop a running job and leaves it running until it acks",
        fixture(async (backend) => {
          const claimed = await running(backend);
          const result = await backend.jobCancel({ id: claimed.id, now: T0 + 5 });
          assert.equal(result?.outcome, "requested");
          assert.equal(result?.job.status, "running");
          assert.equal(result?.job.cancelRequested, true);
          const job = await get(backend, claimed.id);
          assert.deepEqual([job.status, job.cancelRequested, job.workerId, job.finishedAt], ["running", true, "worker-a", null]);
          // A second request changes nothing more.
          assert.equal((await backend.jobCancel({ id: claimed.id, now: T0 + 6 }))?.outcome, "requested");
        }),
      );

      it(
        "leaves a finished job unchanged",
        fixture(async (backend) => {
          for (const state of ["completed", "failed", "cancelled"] as const) {
            const job = await finished(backend, state, T0);
            const result = await backend.jobCancel({ id: job.id, now: T0 + 100 });
            assert.equal(result?.outcome, "finished");
            assert.deepEqual(result?.job, job);
            assert.deepEqual(await get(backend, job.id), job);
          }
        }),
      );

      it(
        "returns null for an unknown id",
        fixture(async (backend) => {
          assert.equal(await backend.jobCancel({ id: uuidv7(), now: T0 }), null);
        }),
      );
    });

    describe("jobRetry", () => {
      it(
        "queues a failed job again with fresh attempts and keeps its errors",
        fixture(async (backend) => {
          const failed = await finished(backend, "failed", T0, { maxAttempts: 1 });
          const retried = await backend.jobRetry({ id: failed.id, now: T0 + 1_000 });
          assert.ok(retried);
          for (const job of [retried, await get(backend, failed.id)]) {
            assert.equal(job.status, "queued");
            assert.equal(job.attempt, 0);
            assert.equal(job.finishedAt, null);
            assert.deepEqual(job.errors, failed.errors);
            assert.equal(job.errors.length, 1);
          }
          const claimed = await claimOne(backend, { now: T0 + 1_000 });
          assert.equal(claimed.id, failed.id);
          assert.equal(claimed.job.attempt, 1);
        }),
      );

      it(
        "queues a cancelled job again and forgets the cancellation request",
        fixture(async (backend) => {
          const claimed = await running(backend);
          await backend.jobCancel({ id: claimed.id, now: T0 + 1 });
          await backend.jobAckMany({ acks: [{ ...claimed, error: null, outcome: "cancelled" }], now: T0 + 2 });
          const retried = await backend.jobRetry({ id: claimed.id, now: T0 + 3 });
          assert.deepEqual([retried?.status, retried?.attempt, retried?.cancelRequested], ["queued", 0, false]);
          const again = await claimOne(backend, { now: T0 + 4 });
          const [beat] = await backend.jobHeartbeatMany({ leaseMs: LEASE_MS, leases: [again], now: T0 + 5, workerId: "worker-a" });
          assert.equal(beat?.cancelRequested, false);
        }),
      );

      it(
        "refuses to retry a job that is neither failed nor cancelled",
        fixture(async (backend) => {
          const queued = await insert(backend, { queue: "q1" });
          const scheduled = await insert(backend, { runAt: T0 + 60_000 });
          const runningJob = (await running(backend, { queue: "q2" })).job;
          const completed = await finished(backend, "completed");
          for (const job of [queued, scheduled, runningJob, completed]) {
            await rejectsWith(backend.jobRetry({ id: job.id, now: T0 + 10 }), "OFFLOAD_ERR_INVALID_STATE");
            const after = await backend.jobList({ filter: {}, limit: 10, now: T0 });
            assert.equal(after.items.find((j) => j.id === job.id)?.status, job.status);
          }
        }),
      );

      it(
        "refuses to retry a job whose uniqueKey a newer unfinished job holds",
        fixture(async (backend) => {
          const cancelled = await finished(backend, "cancelled", T0, { uniqueKey: "nightly" });
          const holder = await insert(backend, { uniqueKey: "nightly" }, T0 + 1);
          assert.notEqual(holder.id, cancelled.id);
          await rejectsWith(backend.jobRetry({ id: cancelled.id, now: T0 + 2 }), "OFFLOAD_ERR_INVALID_STATE");
          assert.equal((await get(backend, cancelled.id)).status, "cancelled");
          // Once the holder is finished the key is free again.
          await backend.jobCancel({ id: holder.id, now: T0 + 3 });
          assert.equal((await backend.jobRetry({ id: cancelled.id, now: T0 + 4 }))?.status, "queued");
        }),
      );

      it(
        "returns null for an unknown id",
        fixture(async (backend) => {
          assert.equal(await backend.jobRetry({ id: uuidv7(), now: T0 }), null);
        }),
      );
    });

    describe("jobDelete", () => {
      it(
        "deletes a finished job",
        fixture(async (backend) => {
          for (const state of ["completed", "failed", "cancelled"] as const) {
            const job = await finished(backend, state);
            assert.equal(await backend.jobDelete({ id: job.id }), true);
            assert.equal(await backend.jobGet({ id: job.id }), null);
            assert.equal(await backend.jobDelete({ id: job.id }), false);
          }
        }),
      );

      it(
        "returns false for an unknown id",
        fixture(async (backend) => {
          assert.equal(await backend.jobDelete({ id: uuidv7() }), false);
        }),
      );

      it(
        "refuses to delete a job that is not finished",
        fixture(async (backend) => {
          const jobs = [await insert(backend, { queue: "q1" }), await insert(backend, { runAt: T0 + 60_000 }), (await running(backend, { queue: "q2" })).job];
          for (const job of jobs) {
            await rejectsWith(backend.jobDelete({ id: job.id }), "OFFLOAD_ERR_INVALID_STATE");
            assert.ok(await backend.jobGet({ id: job.id }));
          }
        }),
      );
    });

    describe("jobRescueExpired", () => {
      it(
        "puts a job whose lease expired back in its queue, its attempt still counted",
        fixture(async (backend) => {
          const claimed = await running(backend, { maxAttempts: 3 });
          const now = T0 + LEASE_MS + 1;
          const result = await backend.jobRescueExpired({ limit: 10, now });
          assert.deepEqual(
            [result.requeued.map((j) => j.id), result.failed, result.cancelled],
            [[claimed.id], [], []],
          );
          const job = await get(backend, claimed.id);
          assert.deepEqual([job.status, job.attempt, job.workerId, job.leaseExpiresAt, job.finishedAt], ["queued", 1, null, null, null]);
          assert.deepEqual([job.error?.code, job.error?.attempt, job.error?.at, job.error?.startedAt], ["lease_expired", 1, now, T0]);
          assert.deepEqual(
            job.errors.map((e) => [e.code, e.startedAt]),
            [["lease_expired", T0]],
          );
          assert.equal((await claimOne(backend, { now })).job.attempt, 2);
        }),
      );

      it(
        "fails a job whose lease expired on its last attempt",
        fixture(async (backend) => {
          const claimed = await running(backend, { maxAttempts: 1 });
          const now = T0 + LEASE_MS + 1;
          const result = await backend.jobRescueExpired({ limit: 10, now });
          assert.deepEqual(
            [result.requeued, result.failed.map((j) => [j.id, j.status]), result.cancelled],
            [[], [[claimed.id, "failed"]], []],
          );
          const job = await get(backend, claimed.id);
          assert.deepEqual([job.status, job.attempt, job.finishedAt, job.error?.code], ["failed", 1, now, "lease_expired"]);
        }),
      );

      it(
        "cancels a job whose lease expired after cancellation was requested",
        fixture(async (backend) => {
          const claimed = await running(backend, { maxAttempts: 3 });
          await backend.jobCancel({ id: claimed.id, now: T0 + 1 });
          const now = T0 + LEASE_MS + 1;
          const result = await backend.jobRescueExpired({ limit: 10, now });
          assert.deepEqual(
            [result.requeued, result.failed, result.cancelled.map((j) => [j.id, j.status])],
            [[], [], [[claimed.id, "cancelled"]]],
          );
          const job = await get(backend, claimed.id);
          assert.deepEqual([job.status, job.finishedAt, job.workerId], ["cancelled", now, null]);
        }),
      );

      it(
        "leaves leases that have not expired alone",
        fixture(async (backend) => {
          const claimed = await running(backend);
          const renewed = await running(backend);
          await backend.jobHeartbeatMany({ leaseMs: LEASE_MS, leases: [renewed], now: T0 + 20_000, workerId: "worker-a" });
          // The lease holds up to and including leaseExpiresAt.
          const atExpiry = await backend.jobRescueExpired({ limit: 10, now: T0 + LEASE_MS });
          assert.equal(atExpiry.requeued.length + atExpiry.failed.length + atExpiry.cancelled.length, 0);
          const after = await backend.jobRescueExpired({ limit: 10, now: T0 + LEASE_MS + 1 });
          assert.deepEqual(
            after.requeued.map((j) => j.id),
            [claimed.id],
          );
          assert.equal((await get(backend, renewed.id)).status, "running");
        }),
      );

      it(
        "rescues at most limit jobs per call",
        fixture(async (backend) => {
          await backend.jobInsertMany({ jobs: Array.from({ length: 5 }, () => newJob()), now: T0 });
          await backend.jobClaim({ leaseMs: LEASE_MS, now: T0, queues: [{ limit: 5, queue: "default" }], workerId: "w" });
          const now = T0 + LEASE_MS + 1;
          const first = await backend.jobRescueExpired({ limit: 2, now });
          const second = await backend.jobRescueExpired({ limit: 2, now });
          const third = await backend.jobRescueExpired({ limit: 2, now });
          assert.deepEqual(
            [first.requeued.length, second.requeued.length, third.requeued.length],
            [2, 2, 1],
          );
          const ids = new Set([...first.requeued, ...second.requeued, ...third.requeued].map((j) => j.id));
          assert.equal(ids.size, 5);
        }),
      );
    });

    describe("jobPrune", () => {
      const ages = { cancelled: 30_000, completed: 10_000, failed: 20_000 };

      it(
        "deletes finished jobs older than the age for their state",
        fixture(async (backend) => {
          const completed = await finished(backend, "completed", T0);
          const failed = await finished(backend, "failed", T0);
          const cancelled = await finished(backend, "cancelled", T0);
          const prunedAt = (now: number) => backend.jobPrune({ ages, limit: 100, now });
          assert.equal(await prunedAt(T0 + 10_000), 0, "exactly the age is not older");
          assert.equal(await prunedAt(T0 + 10_001), 1);
          assert.equal(await backend.jobGet({ id: completed.id }), null);
          assert.ok(await backend.jobGet({ id: failed.id }));
          assert.equal(await prunedAt(T0 + 20_001), 1);
          assert.equal(await backend.jobGet({ id: failed.id }), null);
          assert.ok(await backend.jobGet({ id: cancelled.id }));
          assert.equal(await prunedAt(T0 + 30_001), 1);
          assert.equal(await backend.jobGet({ id: cancelled.id }), null);
        }),
      );

      it(
        "never deletes a job that is not finished, however old",
        fixture(async (backend) => {
          await insert(backend, { queue: "q1" });
          await insert(backend, { runAt: T0 + 1 });
          await running(backend, { queue: "q2" });
          assert.equal(await backend.jobPrune({ ages: { cancelled: 0, completed: 0, failed: 0 }, limit: 100, now: T0 + 365 * 86_400_000 }), 0);
          assert.equal((await backend.jobList({ filter: {}, limit: 10, now: T0 })).items.length, 3);
        }),
      );

      it(
        "deletes at most limit jobs per call",
        fixture(async (backend) => {
          for (const state of ["completed", "failed", "cancelled", "completed", "failed"] as const) await finished(backend, state, T0);
          const now = T0 + 60_000;
          assert.equal(await backend.jobPrune({ ages, limit: 2, now }), 2);
          assert.equal(await backend.jobPrune({ ages, limit: 2, now }), 2);
          assert.equal(await backend.jobPrune({ ages, limit: 2, now }), 1);
          assert.equal(await backend.jobPrune({ ages, limit: 2, now }), 0);
        }),
      );
    });

    describe("jobList", () => {
      it(
        "lists newest first",
        fixture(async (backend) => {
          const ids = [];
          for (let i = 0; i < 4; i++) ids.push((await insert(backend, {}, T0 + i)).id);
          const { items, nextCursor } = await backend.jobList({ filter: {}, limit: 10, now: T0 + 10 });
          assert.deepEqual(
            items.map((j) => j.id),
            ids.reverse(),
          );
          assert.equal(nextCursor, null);
        }),
      );

      it(
        "filters by status, queue, type and owner",
        fixture(async (backend) => {
          const d = (await running(backend, { owner: "alice", queue: "reports", type: "pdf" })).job;
          const a = await insert(backend, { owner: "alice", queue: "mail", type: "email" });
          const b = await insert(backend, { owner: "bob", queue: "mail", type: "sms" });
          const c = await insert(backend, { owner: "alice", queue: "reports", type: "email" });
          const ids = async (filter: Parameters<Backend["jobList"]>[0]["filter"]) =>
            (await backend.jobList({ filter, limit: 10, now: T0 })).items.map((j) => j.id);
          assert.deepEqual(await ids({ queue: "mail" }), [b.id, a.id]);
          assert.deepEqual(await ids({ type: "email" }), [c.id, a.id]);
          assert.deepEqual(await ids({ owner: "alice" }), [c.id, a.id, d.id]);
          assert.deepEqual(await ids({ status: "running" }), [d.id]);
          assert.deepEqual(await ids({ status: "queued", owner: "alice", queue: "reports" }), [c.id]);
          assert.deepEqual(await ids({ owner: "nobody" }), []);
        }),
      );

      it(
        "lists a scheduled job that is due as queued",
        fixture(async (backend) => {
          const job = await insert(backend, { runAt: T0 + 1_000 });
          const at = async (now: number, status: "queued" | "scheduled") =>
            (await backend.jobList({ filter: { status }, limit: 10, now })).items.map((j) => [j.id, j.status]);
          assert.deepEqual(await at(T0 + 999, "scheduled"), [[job.id, "scheduled"]]);
          assert.deepEqual(await at(T0 + 999, "queued"), []);
          assert.deepEqual(await at(T0 + 1_000, "scheduled"), []);
          assert.deepEqual(await at(T0 + 1_000, "queued"), [[job.id, "queued"]]);
          const all = await backend.jobList({ filter: {}, limit: 10, now: T0 + 1_000 });
          assert.equal(all.items[0]?.status, "queued");
        }),
      );

      it(
        "pages with a cursor over every job exactly once, even while jobs are inserted between pages",
        fixture(async (backend) => {
          const existing = (await backend.jobInsertMany({ jobs: Array.from({ length: 11 }, () => newJob()), now: T0 })).map((r) => r.job.id);
          const seen: string[] = [];
          let cursor: string | null = null;
          let pages = 0;
          do {
            const page = await backend.jobList({ cursor, filter: {}, limit: 3, now: T0 });
            assert.ok(page.items.length <= 3);
            seen.push(...page.items.map((j) => j.id));
            cursor = page.nextCursor;
            pages++;
            await backend.jobInsertMany({ jobs: [newJob()], now: T0 + pages });
          } while (cursor !== null && pages < 20);
          assert.equal(pages, 4);
          assert.deepEqual(seen, [...existing].reverse());
        }),
      );

      it(
        "pages through a filtered list",
        fixture(async (backend) => {
          const mail = [];
          for (let i = 0; i < 5; i++) {
            mail.push((await insert(backend, { queue: "mail" }, T0 + i)).id);
            await insert(backend, { queue: "other" }, T0 + i);
          }
          const first = await backend.jobList({ filter: { queue: "mail" }, limit: 3, now: T0 + 10 });
          assert.ok(first.nextCursor);
          const second = await backend.jobList({ cursor: first.nextCursor, filter: { queue: "mail" }, limit: 3, now: T0 + 10 });
          assert.equal(second.nextCursor, null);
          assert.deepEqual([...first.items, ...second.items].map((j) => j.id), mail.reverse());
        }),
      );

      it(
        "rejects a cursor it did not hand out",
        fixture(async (backend) => {
          await insert(backend);
          for (const cursor of ["not a cursor!", "bm9wZQ", "%%%"]) {
            await rejectsWith(backend.jobList({ cursor, filter: {}, limit: 10, now: T0 }), "OFFLOAD_ERR_INVALID_INPUT");
          }
        }),
      );
    });

    describe("jobGet", () => {
      it(
        "returns null for an unknown id",
        fixture(async (backend) => {
          assert.equal(await backend.jobGet({ id: uuidv7() }), null);
        }),
      );

      it(
        "shows a scheduled job that is due as queued, and one not yet due as scheduled",
        fixture(async (backend) => {
          // jobGet takes no `now`: it reads the database clock, which is past T0 + 1 s and short of an hour from the wall clock.
          const due = await insert(backend, { runAt: T0 + 1_000 });
          const notDue = await insert(backend, { runAt: Date.now() + 3_600_000 });
          assert.equal(due.status, "scheduled");
          assert.equal((await get(backend, due.id)).status, "queued");
          assert.equal((await get(backend, notDue.id)).status, "scheduled");
        }),
      );
    });

    describe("queueCounts", () => {
      it(
        "counts jobs by queue and state, with a zero for every state",
        fixture(async (backend) => {
          await running(backend, { queue: "mail" });
          await insert(backend, { queue: "mail" });
          await insert(backend, { queue: "mail", runAt: Date.now() + 3_600_000 });
          await finished(backend, "completed", T0, { queue: "reports" });
          await finished(backend, "failed", T0, { queue: "reports" });
          await finished(backend, "cancelled", T0, { queue: "reports" });
          await insert(backend, { queue: "reports" });
          const counts = await backend.queueCounts();
          assert.deepEqual(counts, [
            { counts: { cancelled: 0, completed: 0, failed: 0, queued: 1, running: 1, scheduled: 1 }, queue: "mail" },
            { counts: { cancelled: 1, completed: 1, failed: 1, queued: 1, running: 0, scheduled: 0 }, queue: "reports" },
          ]);
          for (const entry of counts) assert.deepEqual(Object.keys(entry.counts).sort(), [...JOB_STATES].sort());
        }),
      );

      it(
        "counts a scheduled job that is due as queued",
        fixture(async (backend) => {
          await insert(backend, { runAt: T0 + 1_000 });
          const [entry] = await backend.queueCounts();
          assert.deepEqual([entry?.counts.scheduled, entry?.counts.queued], [0, 1]);
        }),
      );

      it(
        "returns no entries for an empty database",
        fixture(async (backend) => {
          assert.deepEqual(await backend.queueCounts(), []);
        }),
      );
    });

    describe("queuePause and queueResume", () => {
      it(
        "skips a paused queue in claims, still takes jobs into it, and claims from it again once resumed",
        fixture(async (backend) => {
          const paused = await insert(backend, { queue: "media" });
          const other = await insert(backend, { queue: "default" });
          const state = await backend.queuePause({ now: T0, queue: "media" });
          assert.deepEqual(state, { paused: true, pausedAt: T0, queue: "media" });
          const later = await insert(backend, { queue: "media" });
          assert.equal(later.status, "queued");
          const claimed = await backend.jobClaim({ leaseMs: LEASE_MS, now: T0, queues: [{ limit: 10, queue: "media" }, { limit: 10, queue: "default" }], workerId: "w" });
          assert.deepEqual(claimed.map((c) => c.id), [other.id]);
          assert.deepEqual(await backend.queueResume({ now: T0 + 1, queue: "media" }), { paused: false, pausedAt: null, queue: "media" });
          const resumed = await backend.jobClaim({ leaseMs: LEASE_MS, now: T0 + 1, queues: [{ limit: 10, queue: "media" }], workerId: "w" });
          assert.deepEqual(resumed.map((c) => c.id).sort(), [paused.id, later.id].sort());
        }),
      );

      it(
        "skips a paused queue in jobAckAndClaim and when promoting due scheduled jobs",
        fixture(async (backend) => {
          const first = await running(backend, { queue: "media" });
          await insert(backend, { queue: "media" });
          await insert(backend, { queue: "media", runAt: T0 + 1_000 });
          await backend.queuePause({ now: T0, queue: "media" });
          const result = await backend.jobAckAndClaim({
            acks: [{ ...first, outcome: "completed", resultJson: "1" }],
            claim: { leaseMs: LEASE_MS, queues: [{ limit: 10, queue: "media" }], workerId: "w" },
            now: T0 + 2_000,
          });
          assert.deepEqual([result.acks[0]?.status, result.claimed.length], ["completed", 0]);
          assert.equal((await backend.jobClaim({ leaseMs: LEASE_MS, now: T0 + 2_000, queues: [{ limit: 10, queue: "media" }], workerId: "w" })).length, 0);
        }),
      );

      it(
        "keeps the first pause time when paused twice, and resumes a queue that was never paused without error",
        fixture(async (backend) => {
          await backend.queuePause({ now: T0, queue: "media" });
          assert.deepEqual(await backend.queuePause({ now: T0 + 5_000, queue: "media" }), { paused: true, pausedAt: T0, queue: "media" });
          assert.deepEqual(await backend.queueResume({ now: T0, queue: "never-paused" }), { paused: false, pausedAt: null, queue: "never-paused" });
          const stats = await backend.queueStats({ now: T0 + 5_000 });
          assert.deepEqual(stats.map((s) => [s.queue, s.paused]), [["media", true]]);
        }),
      );

      it(
        "pauses one queue only",
        fixture(async (backend) => {
          await insert(backend, { queue: "media" });
          await insert(backend, { queue: "media-2" });
          await backend.queuePause({ now: T0, queue: "media" });
          const claimed = await backend.jobClaim({ leaseMs: LEASE_MS, now: T0, queues: [{ limit: 10, queue: "media" }, { limit: 10, queue: "media-2" }], workerId: "w" });
          assert.deepEqual(claimed.map((c) => c.job.queue), ["media-2"]);
        }),
      );
    });

    describe("queueStats", () => {
      it(
        "gives the same counts as queueCounts, with paused flags, sorted by queue",
        fixture(async (backend) => {
          const now = Date.now();
          await running(backend, { queue: "mail" });
          await insert(backend, { queue: "mail" });
          await insert(backend, { queue: "mail", runAt: now + 3_600_000 });
          await insert(backend, { queue: "mail", runAt: T0 + 1_000 }); // due: counts as queued
          await finished(backend, "completed", T0, { queue: "reports" });
          await finished(backend, "completed", T0, { queue: "reports" });
          await finished(backend, "failed", T0, { queue: "reports" });
          await finished(backend, "cancelled", T0, { queue: "reports" });
          await insert(backend, { queue: "reports" });
          await backend.queuePause({ now: T0, queue: "reports" });
          const stats = await backend.queueStats({ now });
          const counts = await backend.queueCounts({ now });
          assert.deepEqual(
            stats.map((s) => ({ counts: s.counts, queue: s.queue })),
            counts,
          );
          assert.deepEqual(stats.map((s) => [s.queue, s.paused]), [["mail", false], ["reports", true]]);
        }),
      );

      it(
        "counts jobs completed and failed in the last minute and the last hour, by the injected clock",
        fixture(async (backend) => {
          await finished(backend, "completed", T0, { queue: "media" });
          await finished(backend, "completed", T0, { queue: "media" });
          await finished(backend, "failed", T0, { queue: "media" });
          // A retry is not an ending; an expired lease on the last attempt is.
          const retried = await running(backend, { queue: "media" }, T0);
          await backend.jobAckMany({ acks: [{ ...retried, delayMs: 60_000, error: jobError(1, T0), outcome: "retry" }], now: T0 });
          await running(backend, { maxAttempts: 1, queue: "media" }, T0);
          await backend.jobRescueExpired({ limit: 10, now: T0 + LEASE_MS + 1 });
          const at = async (now: number) => {
            const [entry] = (await backend.queueStats({ now })).filter((s) => s.queue === "media");
            return [entry?.lastMinute, entry?.lastHour];
          };
          assert.deepEqual(await at(T0 + LEASE_MS + 2), [
            { completed: 2, failed: 2, waitMs: 0 },
            { completed: 2, failed: 2, waitMs: 0 },
          ]);
          // The minute window may reach 10 s further back; past that, only the hour counts them.
          assert.deepEqual(await at(T0 + 75_000), [
            { completed: 0, failed: 1, waitMs: 0 },
            { completed: 2, failed: 2, waitMs: 0 },
          ]);
          assert.deepEqual(await at(T0 + 3_600_000 + 75_000), [
            { completed: 0, failed: 0, waitMs: 0 },
            { completed: 0, failed: 0, waitMs: 0 },
          ]);
        }),
      );

      it(
        "keeps the completed count right when completed jobs are deleted or pruned",
        fixture(async (backend) => {
          const jobs = [];
          for (let i = 0; i < 4; i++) jobs.push(await finished(backend, "completed", T0, { queue: "media" }));
          await backend.jobDelete({ id: jobs[0]!.id });
          await backend.jobPrune({ ages: { cancelled: 1, completed: 1, failed: 1 }, limit: 2, now: T0 + 10 });
          const [entry] = await backend.queueStats({ now: T0 + 10 });
          assert.equal(entry?.counts.completed, 1);
          assert.deepEqual(await backend.queueCounts({ now: T0 + 10 }), [{ counts: entry!.counts, queue: "media" }]);
        }),
      );

      it(
        "gives the runAt of the ready job that has waited longest, or null",
        fixture(async (backend) => {
          await insert(backend, { priority: 5, queue: "media", runAt: T0 - 1_000 }, T0);
          await insert(backend, { priority: 0, queue: "media", runAt: T0 - 5_000 }, T0);
          await insert(backend, { queue: "media", runAt: T0 + 2_000 }, T0); // due by T0 + 3_000
          await insert(backend, { queue: "later", runAt: T0 + 60_000 }, T0);
          const byQueue = Object.fromEntries((await backend.queueStats({ now: T0 + 3_000 })).map((s) => [s.queue, s.oldestQueuedAt]));
          assert.deepEqual(byQueue, { later: null, media: T0 - 5_000 });
          await backend.jobClaim({ leaseMs: LEASE_MS, now: T0 + 3_000, queues: [{ limit: 10, queue: "media" }], workerId: "w" });
          assert.equal((await backend.queueStats({ now: T0 + 3_000 })).find((s) => s.queue === "media")?.oldestQueuedAt, null);
        }),
      );

      it(
        "returns no entries for an empty database",
        fixture(async (backend) => {
          assert.deepEqual(await backend.queueStats({ now: T0 }), []);
        }),
      );

      it(
        "sums the enqueue-to-start wait of the last attempt of each job that ended",
        fixture(async (backend) => {
          // Due at T0, started 250 ms later, completed: waited 250.
          const a = await insert(backend, { queue: "media" }, T0);
          const claimedA = await claimOne(backend, { now: T0 + 250, queue: "media" });
          assert.equal(claimedA.id, a.id);
          await backend.jobAckMany({ acks: [{ ...claimedA, outcome: "completed", resultJson: "null" }], now: T0 + 300 });
          // Failed once (retry due at T0 + 1,100), started again at T0 + 1,140, failed for good: its last attempt waited 40.
          await insert(backend, { maxAttempts: 2, queue: "media" }, T0);
          const first = await claimOne(backend, { now: T0 + 1_000, queue: "media" });
          await backend.jobAckMany({ acks: [{ ...first, delayMs: 100, error: jobError(1, T0 + 1_000), outcome: "retry" }], now: T0 + 1_000 });
          const second = await claimOne(backend, { now: T0 + 1_140, queue: "media" });
          await backend.jobAckMany({ acks: [{ ...second, error: jobError(2, T0 + 1_140), outcome: "failed" }], now: T0 + 1_150 });
          const [entry] = await backend.queueStats({ now: T0 + 2_000 });
          assert.deepEqual(entry?.lastMinute, { completed: 1, failed: 1, waitMs: 290 });
          assert.deepEqual(entry?.lastHour, { completed: 1, failed: 1, waitMs: 290 });
        }),
      );
    });

    describe("queueThroughput", () => {
      it(
        "reports jobs ended and their waits per queue and minute, oldest minute first, an hour at most",
        fixture(async (backend) => {
          const minute = 60_000;
          // T0 is a whole minute: jobs end in minutes 0, 0, 2 (relative to T0) on two queues.
          await finished(backend, "completed", T0 + 5_000, { queue: "media" });
          await insert(backend, { queue: "media" }, T0 + 10_000);
          const late = await claimOne(backend, { now: T0 + 10_400, queue: "media" });
          await backend.jobAckMany({ acks: [{ ...late, error: jobError(1, T0 + 10_500), outcome: "failed" }], now: T0 + 10_500 });
          await finished(backend, "completed", T0 + 2 * minute + 1_000, { queue: "mail" });
          const series = await backend.queueThroughput({ minutes: 4, now: T0 + 3 * minute + 30_000 });
          assert.deepEqual(series.buckets, [T0, T0 + minute, T0 + 2 * minute, T0 + 3 * minute]);
          assert.deepEqual(series.queues, [
            { completed: [0, 0, 1, 0], failed: [0, 0, 0, 0], queue: "mail", waitMs: [0, 0, 0, 0] },
            { completed: [1, 0, 0, 0], failed: [1, 0, 0, 0], queue: "media", waitMs: [400, 0, 0, 0] },
          ]);
          // Minutes before the window are left out; so are windows older than an hour, which the engine drops.
          const later = await backend.queueThroughput({ minutes: 2, now: T0 + 3 * minute + 30_000 });
          assert.deepEqual(later.queues, [{ completed: [1, 0], failed: [0, 0], queue: "mail", waitMs: [0, 0] }]);
          assert.deepEqual((await backend.queueThroughput({ minutes: 60, now: T0 + 2 * 3_600_000 })).queues, []);
        }),
      );
    });

    describe("jobInsertAndClaim (where the engine has it)", () => {
      const handOff = (backend: Backend, job: JobInsert, now = T0 + 1_000) =>
        backend.jobInsertAndClaim!({ job, leaseMs: LEASE_MS, now, workerId: "local" });

      it("stores a due job and claims it for the caller when nothing of its queue would come first", (t) =>
        fixture(async (backend) => {
          if (!backend.jobInsertAndClaim) return t.skip("the engine has no jobInsertAndClaim (optional): its enqueues store, then a claim takes");
          await insert(backend, { priority: 5, queue: "other" }, T0); // another queue does not block
          await insert(backend, { priority: -1 }, T0); // a lower priority does not block
          const job = newJob({ priority: 0 });
          const { claimed, inserted } = await handOff(backend, job);
          assert.ok(claimed);
          assert.equal(claimed.id, job.id);
          assert.deepEqual([claimed.job.attempt, claimed.job.startedAt, claimed.job.leaseExpiresAt], [1, T0 + 1_000, T0 + 1_000 + LEASE_MS]);
          assert.deepEqual(claimed.job.payload, JSON.parse(job.payloadJson));
          assert.deepEqual([inserted.deduplicated, inserted.job.status, inserted.job.attempt, inserted.job.workerId], [false, "running", 1, "local"]);
          const stored = await get(backend, job.id);
          assert.deepEqual([stored.status, stored.attempt, stored.workerId, stored.startedAt, stored.runAt, stored.createdAt], ["running", 1, "local", T0 + 1_000, T0 + 1_000, T0 + 1_000]);
          // The lease is a real one: its ack applies.
          const [ack] = await backend.jobAckMany({ acks: [{ ...claimed, outcome: "completed", resultJson: "7" }], now: T0 + 1_500 });
          assert.equal(ack?.status, "completed");
        })(),
      );

      it("stores it queued, claiming nothing, behind a ready job of equal or higher priority or in a paused queue", (t) =>
        fixture(async (backend) => {
          if (!backend.jobInsertAndClaim) return t.skip("the engine has no jobInsertAndClaim (optional): its enqueues store, then a claim takes");
          const waiting = await insert(backend, { priority: 2 }, T0);
          const behind = newJob({ priority: 2 });
          const first = await handOff(backend, behind);
          assert.equal(first.claimed, null);
          assert.equal(first.inserted.job.status, "queued");
          assert.equal((await get(backend, behind.id)).status, "queued");
          // The claim order is kept: the older job first.
          assert.deepEqual((await backend.jobClaim({ leaseMs: LEASE_MS, now: T0 + 2_000, queues: [{ limit: 2, queue: "default" }], workerId: "w" })).map((c) => c.id), [waiting.id, behind.id]);
          // A due scheduled job counts as ready.
          const due = await insert(backend, { priority: 9, runAt: T0 + 500, queue: "mail" }, T0);
          assert.equal((await handOff(backend, newJob({ priority: 9, queue: "mail" }), T0 + 3_000)).claimed, null);
          assert.equal((await get(backend, due.id)).attempt, 0, "the due job was not claimed either");
          // A paused queue claims nothing.
          await backend.queuePause({ now: T0, queue: "paused" });
          const paused = await handOff(backend, newJob({ queue: "paused" }), T0 + 3_000);
          assert.equal(paused.claimed, null);
          assert.equal(paused.inserted.job.status, "queued");
          // Jobs it cannot hand off are refused: a uniqueKey, a delay, a runAt.
          for (const overrides of [{ uniqueKey: "k" }, { delayMs: 1_000 }, { runAt: T0 + 60_000 }]) {
            await assert.rejects(handOff(backend, newJob(overrides)), (error: unknown) => (error as OffloadError).code === "OFFLOAD_ERR_INVALID_INPUT");
          }
        })(),
      );
    });

    describe("jobRunNow", () => {
      it(
        "makes a scheduled job due now, and refuses other states",
        fixture(async (backend) => {
          const later = await insert(backend, { runAt: T0 + 3_600_000 }, T0);
          assert.equal(later.status, "scheduled");
          assert.deepEqual(await backend.jobClaim({ leaseMs: LEASE_MS, now: T0 + 1_000, queues: [{ limit: 10, queue: "default" }], workerId: "w" }), []);
          const ran = await backend.jobRunNow({ id: later.id, now: T0 + 1_000 });
          assert.equal(ran?.runAt, T0 + 1_000);
          assert.equal((await get(backend, later.id)).runAt, T0 + 1_000);
          const claimed = await claimOne(backend, { now: T0 + 1_000 });
          assert.equal(claimed.id, later.id);
          await assert.rejects(backend.jobRunNow({ id: later.id, now: T0 + 1_000 }), (error: unknown) => {
            assert.equal((error as OffloadError).code, "OFFLOAD_ERR_INVALID_STATE");
            assert.match((error as Error).message, /running: only scheduled jobs can be run now/);
            return true;
          });
          assert.equal(await backend.jobRunNow({ id: "00000000-0000-7000-8000-000000000000", now: T0 }), null);
        }),
      );
    });

    describe("workers", () => {
      it(
        "registers, refreshes, lists with their running jobs, forgets stopped and long-silent workers",
        fixture(async (backend) => {
          const info = (id: string) => ({ host: "host-1", id, pid: 42, queues: [{ concurrency: 5, queue: "default" }], startedAt: T0 });
          await backend.workerBeat({ now: T0, staleMs: 600_000, worker: info("w-1") });
          await backend.workerBeat({ now: T0 + 1_000, staleMs: 600_000, worker: info("w-2") });
          const job = await insert(backend, {}, T0);
          const [claimed] = await backend.jobClaim({ leaseMs: LEASE_MS, now: T0 + 2_000, queues: [{ limit: 1, queue: "default" }], workerId: "w-2" });
          assert.equal(claimed?.id, job.id);
          const listed = await backend.workerList({ now: T0 + 5_000, runningLimit: 100, withinMs: 15_000 });
          assert.deepEqual(
            listed.map((w) => ({ id: w.id, lastSeenAt: w.lastSeenAt, running: w.running.map((r) => [r.id, r.type, r.queue, r.attempt, r.startedAt]) })),
            [
              { id: "w-1", lastSeenAt: T0, running: [] },
              { id: "w-2", lastSeenAt: T0 + 1_000, running: [[job.id, job.type, "default", 1, T0 + 2_000]] },
            ],
          );
          assert.deepEqual(listed[0]!.queues, [{ concurrency: 5, queue: "default" }]);
          assert.equal(listed[0]!.host, "host-1");
          assert.equal(listed[0]!.pid, 42);
          // w-1 falls silent: no longer listed as alive; w-2 refreshes and stays.
          await backend.workerBeat({ now: T0 + 20_000, staleMs: 600_000, worker: info("w-2") });
          assert.deepEqual((await backend.workerList({ now: T0 + 20_000, runningLimit: 100, withinMs: 15_000 })).map((w) => w.id), ["w-2"]);
          // A refresh much later deletes rows older than staleMs; a stopped worker removes its own.
          await backend.workerBeat({ now: T0 + 615_000, staleMs: 600_000, worker: info("w-3") });
          assert.deepEqual((await backend.workerList({ now: T0 + 615_000, runningLimit: 100, withinMs: 3_600_000 })).map((w) => w.id), ["w-2", "w-3"]);
          await backend.workerGone({ id: "w-3" });
          await backend.workerBeat({ now: T0 + 1_400_000, staleMs: 600_000, worker: info("w-4") });
          assert.deepEqual((await backend.workerList({ now: T0 + 1_400_000, runningLimit: 100, withinMs: 3_600_000 })).map((w) => w.id), ["w-4"]);
        }),
      );
    });

    describe("jobInsertIdempotent", () => {
      const key = (overrides: Partial<IdempotencyKey> = {}): IdempotencyKey => ({ fingerprint: "f1", key: "k1", scope: "owner:alice", ttlMs: 60_000, ...overrides });

      it(
        "stores a job under a new key and returns that job for the same key and fingerprint, storing nothing more",
        fixture(async (backend) => {
          const first = await backend.jobInsertIdempotent({ idempotency: key(), job: newJob(), now: T0 });
          assert.ok(first.outcome === "stored" && !first.deduplicated);
          const again = await backend.jobInsertIdempotent({ idempotency: key(), job: newJob(), now: T0 + 1_000 });
          assert.ok(again.outcome === "replayed");
          assert.equal(again.job.id, first.job.id);
          assert.equal((await backend.jobList({ filter: {}, limit: 10, now: T0 })).items.length, 1);
        }),
      );

      it(
        "refuses the same key with another fingerprint, storing nothing",
        fixture(async (backend) => {
          const first = await backend.jobInsertIdempotent({ idempotency: key(), job: newJob(), now: T0 });
          assert.ok(first.outcome === "stored");
          const other = await backend.jobInsertIdempotent({ idempotency: key({ fingerprint: "f2" }), job: newJob(), now: T0 });
          assert.deepEqual(other, { jobId: first.job.id, outcome: "conflict" });
          assert.equal((await backend.jobList({ filter: {}, limit: 10, now: T0 })).items.length, 1);
        }),
      );

      it(
        "keeps scopes apart",
        fixture(async (backend) => {
          const a = await backend.jobInsertIdempotent({ idempotency: key(), job: newJob(), now: T0 });
          const b = await backend.jobInsertIdempotent({ idempotency: key({ fingerprint: "f2", scope: "owner:bob" }), job: newJob(), now: T0 });
          assert.deepEqual([a.outcome, b.outcome], ["stored", "stored"]);
          assert.equal((await backend.jobList({ filter: {}, limit: 10, now: T0 })).items.length, 2);
        }),
      );

      it(
        "forgets a key once it expired, or once its job was deleted",
        fixture(async (backend) => {
          const first = await backend.jobInsertIdempotent({ idempotency: key({ ttlMs: 1_000 }), job: newJob(), now: T0 });
          const afterExpiry = await backend.jobInsertIdempotent({ idempotency: key({ fingerprint: "f2" }), job: newJob(), now: T0 + 1_000 });
          assert.equal(afterExpiry.outcome, "stored");
          assert.ok(first.outcome === "stored" && afterExpiry.outcome === "stored" && first.job.id !== afterExpiry.job.id);
          await backend.jobCancel({ id: afterExpiry.job.id, now: T0 + 1_000 });
          await backend.jobDelete({ id: afterExpiry.job.id });
          const afterDelete = await backend.jobInsertIdempotent({ idempotency: key({ fingerprint: "f2" }), job: newJob(), now: T0 + 2_000 });
          assert.equal(afterDelete.outcome, "stored");
        }),
      );

      it(
        "records a uniqueKey deduplication and replays it as such",
        fixture(async (backend) => {
          const holder = await insert(backend, { uniqueKey: "u" });
          const first = await backend.jobInsertIdempotent({ idempotency: key(), job: newJob({ uniqueKey: "u" }), now: T0 });
          assert.ok(first.outcome === "stored" && first.deduplicated && first.job.id === holder.id);
          const again = await backend.jobInsertIdempotent({ idempotency: key(), job: newJob({ uniqueKey: "u" }), now: T0 });
          assert.ok(again.outcome === "replayed" && again.deduplicated && again.job.id === holder.id);
        }),
      );

      it(
        "does not remember a key whose request was deduplicated onto another owner's job (nothing of it is stored)",
        fixture(async (backend) => {
          const holder = await insert(backend, { owner: "bob", uniqueKey: "u" });
          const first = await backend.jobInsertIdempotent({ idempotency: key(), job: newJob({ owner: "alice", uniqueKey: "u" }), now: T0 });
          assert.ok(first.outcome === "stored" && first.deduplicated && first.job.id === holder.id);
          // The key stayed free: another request under it is a first use, not a conflict naming bob's job.
          const other = await backend.jobInsertIdempotent({ idempotency: key({ fingerprint: "f2" }), job: newJob({ owner: "alice" }), now: T0 });
          assert.ok(other.outcome === "stored" && !other.deduplicated && other.job.owner === "alice");
        }),
      );
    });

    describe("capabilities", () => {
      it(
        "describes the engine as plain data",
        fixture(async (backend) => {
          const { capabilities } = backend;
          assert.deepEqual(Object.keys(capabilities).sort(), ["concurrentWrites", "engine", "listenNotify", "multiHost", "skipLocked", "transactionalEnqueue"]);
          assert.ok(["async", "sync"].includes(capabilities.transactionalEnqueue));
          assert.ok(["postgres", "sqlite"].includes(capabilities.engine));
          for (const flag of ["concurrentWrites", "listenNotify", "multiHost", "skipLocked"] as const) assert.equal(typeof capabilities[flag], "boolean");
          assert.deepEqual(JSON.parse(JSON.stringify(capabilities)), capabilities);
        }),
      );
    });
  });
}
