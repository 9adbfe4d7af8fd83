import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { createOffload } from "../../src/index.js";
import { defineChaosJobs } from "../chaos/fixtures/job-types.js";
import { assertRunning, killAllWorkers, readRecords, startWorker, within } from "../chaos/fixtures/worker-process.js";
import { waitFor } from "../helpers.js";
import { tempPgSchema, withPg } from "../pg.js";

const HEARTBEAT_MS = 2_000;
/** The guarantee: one heartbeat interval, plus the heartbeat's own round trip on a busy machine. */
const BOUND_MS = HEARTBEAT_MS + 300;
/** What the cancel notification gives: far less than a heartbeat interval. */
const NOTIFY_BOUND_MS = 700;

describe("PostgreSQL: cancelling a job that runs in another process", () => {
  after(killAllWorkers);

  it("aborts the handler's signal at once (NOTIFY), within one heartbeat when the notification is lost, and the job ends cancelled, never retried", { timeout: 60_000 }, async (t) => {
    const pg = tempPgSchema("cancel");
    const recordDir = mkdtempSync(join(tmpdir(), "offload-pg-cancel-"));
    // This process is B: it only enqueues and cancels, on a pool of its own.
    const offload = createOffload({ database: pg.url, logger: false, postgres: { poolSize: 2 } });
    const jobs = defineChaosJobs(offload);
    try {
      await offload.migrate();
      const worker = startWorker({
        concurrency: 5,
        database: pg.url,
        grace: 1_000,
        readyAt: 3,
        recordDir,
        worker: { heartbeatInterval: HEARTBEAT_MS, leaseDuration: 5_000 },
      });
      await worker.message("ready", 30_000);
      const held = await jobs.hold.enqueueMany([{}, {}, {}], { attempts: 3 });
      await worker.message("all-running", 10_000);

      // One at a time: each cancel lands at a different point of the heartbeat cycle. The last one is
      // requested by a bare UPDATE, which sends no notification: as if it were lost, only the heartbeat tells.
      const latencies: number[] = [];
      for (const [index, job] of held.entries()) {
        const requestedAt = Date.now();
        if (index < held.length - 1) {
          const view = await offload.cancel(job.id);
          assert.equal(view.status, "running");
          assert.equal(view.cancelRequested, true);
        } else {
          await withPg((c) => c.query(`UPDATE "${pg.schema}".jobs SET cancel_requested = true WHERE id = $1 AND status = 'running'`, [job.id]));
        }
        const aborted = await waitFor(
          () => {
            assertRunning([worker]);
            return readRecords(recordDir).find((r) => r.id === job.id && r.event === "aborted");
          },
          { message: `the handler of ${job.id} to see its signal abort`, timeoutMs: 10_000 },
        );
        assert.equal(aborted.reason, "CancelledError");
        latencies.push(aborted.t - requestedAt);
        await waitFor(async () => (await offload.getJob(job.id))?.status === "cancelled", { message: `job ${job.id} cancelled` });
      }
      t.diagnostic(`cancel to abort in the other process: ${latencies.join(", ")} ms (the last without notification; heartbeat ${HEARTBEAT_MS} ms)`);
      for (const ms of latencies.slice(0, -1)) assert.ok(ms <= NOTIFY_BOUND_MS, `a notified cancel took ${ms} ms to reach the handler (bound ${NOTIFY_BOUND_MS} ms)`);
      assert.ok(latencies.at(-1)! <= BOUND_MS, `a cancel took ${latencies.at(-1)} ms to reach the handler, over one heartbeat (${HEARTBEAT_MS} ms) + 300 ms`);

      worker.send({ type: "exit" });
      assert.deepEqual(await within(worker.exited, 10_000, "the worker to exit"), { code: 0, signal: null });
      for (const job of held) {
        const final = (await offload.getJob(job.id))!;
        assert.equal(final.status, "cancelled");
        assert.equal(final.attempt, 1, "not retried, with attempts left");
        assert.equal(final.cancelRequested, true);
        assert.ok(final.finishedAt !== null);
      }
      const starts = readRecords(recordDir).filter((r) => r.event === "start");
      assert.equal(starts.length, 3, "each job started once");
    } finally {
      await killAllWorkers();
      await offload.close();
      await pg.cleanup();
      rmSync(recordDir, { force: true, recursive: true });
    }
  });
});
