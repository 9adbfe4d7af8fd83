import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { createOffload } from "../../src/index.js";
import { defineChaosJobs } from "../chaos/fixtures/job-types.js";
import { assertRunning, killAllWorkers, readRecords, startWorker, within, type WorkerProcess } from "../chaos/fixtures/worker-process.js";
import { waitFor } from "../helpers.js";
import { rejectsWithCode } from "../offload/fixture.js";
import { PG_URL, tempPgSchema } from "../pg.js";

// A job that starts within a second of its commit was woken by NOTIFY: the worker polls every 5 s.
const POLL_MS = 5_000;

describe("PostgreSQL: enqueue inside the application's transaction ({ tx: client })", () => {
  const schema = tempPgSchema("tx");
  const recordDir = mkdtempSync(join(tmpdir(), "offload-pg-tx-"));
  const offload = createOffload({ database: schema.url, logger: false, postgres: { poolSize: 3 } });
  const jobs = defineChaosJobs(offload);
  // The application's own connection, as it would hold one for its own writes.
  const app = new pg.Client({ connectionString: PG_URL });
  const admin = new pg.Client({ connectionString: PG_URL });
  let worker: WorkerProcess;

  const startOf = (id: string) => readRecords(recordDir).find((r) => r.id === id && r.event === "start");
  const waitForStart = (id: string, timeoutMs = 10_000) =>
    waitFor(
      () => {
        assertRunning([worker]);
        return startOf(id);
      },
      { intervalMs: 5, message: `job ${id} to start`, timeoutMs },
    );

  before(async () => {
    await app.connect();
    await admin.connect();
    await offload.migrate();
    worker = startWorker({ concurrency: 5, database: schema.url, grace: 1_000, recordDir, worker: { pollInterval: POLL_MS } });
    await worker.message("ready", 30_000);
  });

  after(async () => {
    try {
      if (worker) {
        worker.send({ type: "exit" });
        await within(worker.exited, 10_000, "the worker to exit").catch(() => undefined);
      }
    } finally {
      await killAllWorkers();
      await app.end().catch(() => undefined);
      await admin.end().catch(() => undefined);
      await offload.close();
      await schema.cleanup();
      rmSync(recordDir, { force: true, recursive: true });
    }
  });

  it("after ROLLBACK the job does not exist, and no worker ever runs it", async () => {
    await app.query("BEGIN");
    let rolledBack: { id: string };
    try {
      rolledBack = await jobs.sleep.enqueue({ ms: 1 }, { tx: app });
      assert.equal((await app.query(`SELECT status FROM "${schema.schema}".jobs WHERE id = $1`, [rolledBack.id])).rows[0]?.status, "queued", "visible inside the transaction");
      assert.equal(await offload.getJob(rolledBack.id), null, "invisible outside it");
    } finally {
      await app.query("ROLLBACK");
    }
    assert.equal(await offload.getJob(rolledBack.id), null);
    // The worker has claimed since (it ran a job enqueued later), and never the rolled-back one.
    const later = await jobs.sleep.enqueue({ ms: 1 });
    await waitForStart(later.id);
    assert.equal(startOf(rolledBack.id), undefined);
  });

  it("before COMMIT no worker sees the job; after COMMIT it starts at once, woken by NOTIFY", async (t) => {
    await app.query("BEGIN");
    let committed: { id: string };
    let committedAt: number;
    try {
      // Higher priority than the marker: a worker that could see it would take it first.
      committed = await jobs.sleep.enqueue({ ms: 1 }, { priority: 10, tx: app });
      const marker = await jobs.sleep.enqueue({ ms: 1 });
      await waitForStart(marker.id);
      // Its completion was written with the worker's next claim, in one statement: that claim, too, ran before the commit.
      await waitFor(async () => (await offload.getJob(marker.id))?.status === "completed", { message: "the marker job completed" });
      assert.equal(startOf(committed.id), undefined, "the worker did not start the uncommitted job");
      assert.equal(await offload.getJob(committed.id), null);
      assert.ok(!(await offload.listJobs({ limit: 500 })).items.some((j) => j.id === committed.id));
    } catch (error) {
      await app.query("ROLLBACK");
      throw error;
    }
    await app.query("COMMIT");
    committedAt = Date.now();
    const start = await waitForStart(committed.id, POLL_MS + 2_000);
    t.diagnostic(`commit to start: ${start.t - committedAt} ms (poll interval ${POLL_MS} ms)`);
    assert.ok(start.t - committedAt < 1_000, `the committed job started ${start.t - committedAt} ms after COMMIT: not woken by NOTIFY`);
    await waitFor(async () => (await offload.getJob(committed.id))?.status === "completed", { message: "the committed job completed" });
  });

  it("deduplicates by uniqueKey within the transaction, against committed jobs, and not against rolled-back ones", async () => {
    await app.query("BEGIN");
    try {
      const first = await jobs.sleep.enqueue({ ms: 1 }, { tx: app, uniqueKey: "in-tx" });
      const second = await jobs.sleep.enqueue({ ms: 1 }, { tx: app, uniqueKey: "in-tx" });
      assert.equal(first.deduplicated, false);
      assert.equal(second.deduplicated, true);
      assert.equal(second.id, first.id);
      await app.query("COMMIT");
      await waitForStart(first.id);
    } catch (error) {
      await app.query("ROLLBACK");
      throw error;
    }

    const holder = await jobs.sleep.enqueue({ ms: 1 }, { delay: "1h", uniqueKey: "held" });
    await app.query("BEGIN");
    const again = await jobs.sleep.enqueue({ ms: 1 }, { tx: app, uniqueKey: "held" });
    await app.query("COMMIT");
    assert.equal(again.deduplicated, true);
    assert.equal(again.id, holder.id);
    assert.equal(again.status, "scheduled");

    await app.query("BEGIN");
    const undone = await jobs.sleep.enqueue({ ms: 1 }, { tx: app, uniqueKey: "undone" });
    await app.query("ROLLBACK");
    const fresh = await jobs.sleep.enqueue({ ms: 1 }, { uniqueKey: "undone" });
    assert.equal(fresh.deduplicated, false, "a rolled-back job holds no key");
    assert.notEqual(fresh.id, undone.id);
  });

  it("an enqueue outside waits for a transaction holding the same uniqueKey, then deduplicates if it commits, or stores if it rolls back", async () => {
    for (const end of ["COMMIT", "ROLLBACK"] as const) {
      const key = `contended-${end}`;
      await app.query("BEGIN");
      // Delayed: were it run and finished at once by the worker, it would hold the key no more.
      const inTx = await jobs.sleep.enqueue({ ms: 1 }, { delay: 3_600_000, tx: app, uniqueKey: key });
      const outside = jobs.sleep.enqueue({ ms: 1 }, { uniqueKey: key });
      outside.catch(() => undefined);
      // The outside insert is blocked on the unique index by the open transaction. (Asked on another
      // connection: inside a transaction, pg_stat_activity is a snapshot taken at its first read.)
      await waitFor(
        async () =>
          (
            await admin.query(`SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND application_name = 'offload' AND query LIKE $1`, [
              `%"${schema.schema}".jobs%`,
            ])
          ).rowCount === 1,
        { message: "the outside enqueue to wait for the transaction's lock", timeoutMs: 1_500 },
      );
      await app.query(end);
      const result = await outside;
      if (end === "COMMIT") {
        assert.equal(result.deduplicated, true, "the committed job holds the key");
        assert.equal(result.id, inTx.id);
      } else {
        assert.equal(result.deduplicated, false, "the rolled-back job held nothing");
        assert.notEqual(result.id, inTx.id);
      }
    }
  });

  it("stores several jobs at once in the transaction, and rejects a tx that is not a pg client", async () => {
    await app.query("BEGIN");
    const many = await jobs.sleep.enqueueMany([{ ms: 1 }, { ms: 1 }, { ms: 1 }], { tx: app });
    await app.query("ROLLBACK");
    for (const job of many) assert.equal(await offload.getJob(job.id), null);
    await rejectsWithCode(jobs.sleep.enqueue({ ms: 1 }, { tx: {} }), "OFFLOAD_ERR_INVALID_INPUT", "tx", "pg client");
    await rejectsWithCode(jobs.sleep.enqueue({ ms: 1 }, { tx: "BEGIN" as unknown as object }), "OFFLOAD_ERR_INVALID_INPUT", "options.tx");
  });
});
