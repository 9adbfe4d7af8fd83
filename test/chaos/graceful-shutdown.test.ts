import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { after, describe, it } from "node:test";
import { createOffload } from "../../src/index.js";
import { tempSqlite, waitFor } from "../helpers.js";
import { defineChaosJobs } from "./fixtures/job-types.js";
import { allJobs, countByStatus, killAllWorkers, readRecords, startWorker, within } from "./fixtures/worker-process.js";

const GRACE_MS = 1_000;

describe("a worker process sent SIGTERM", () => {
  after(killAllWorkers);

  it("finishes jobs within the grace, returns longer ones to the queue with their attempt refunded, and another process completes them", { timeout: 60_000 }, async (t) => {
    const db = tempSqlite("offload-chaos-sigterm");
    const recordDir = join(db.dir, "records");
    mkdirSync(recordDir);
    const offload = createOffload({ database: db.url, logger: false });
    const jobs = defineChaosJobs(offload);
    try {
      // Four jobs that outlive any grace, and one that ends well within it.
      const held = await jobs.hold.enqueueMany([{}, {}, {}, {}]);
      const short = await jobs.sleep.enqueue({ ms: 300 });
      const heldIds = new Set(held.map((j) => j.id));

      const first = startWorker({ concurrency: 10, database: db.url, grace: GRACE_MS, readyAt: 5, recordDir });
      await first.message("all-running", 20_000);
      const termAt = performance.now();
      first.child.kill("SIGTERM");
      await first.message("stopped", 10_000);
      const stopMs = performance.now() - termAt;
      assert.deepEqual(await within(first.exited, 5_000, "the first worker to exit"), { code: 0, signal: null }, "SIGTERM ends the worker cleanly");
      t.diagnostic(`stop after SIGTERM took ${Math.round(stopMs)} ms with a grace of ${GRACE_MS} ms`);
      assert.ok(stopMs >= GRACE_MS, `stop waited the grace period (${Math.round(stopMs)} ms)`);
      assert.ok(stopMs < GRACE_MS + 3_000, `stop did not wait far past the grace period (${Math.round(stopMs)} ms)`);

      const afterStop = await allJobs(offload);
      for (const job of afterStop) {
        if (heldIds.has(job.id)) {
          assert.equal(job.status, "queued", `held job ${job.id} is back in the queue`);
          assert.equal(job.attempt, 0, `held job ${job.id} had its attempt refunded`);
          assert.deepEqual(job.errors, [], "a shutdown is not a failure");
        } else {
          assert.equal(job.id, short.id);
          assert.equal(job.status, "completed", "the job that ended within the grace completed");
          assert.equal(job.attempt, 1);
        }
      }
      const firstRecords = readRecords(recordDir).filter((r) => r.pid === first.pid);
      for (const id of heldIds) {
        assert.deepEqual(
          firstRecords.filter((r) => r.id === id).map((r) => [r.event, r.reason ?? null]),
          [
            ["start", null],
            ["aborted", "ShutdownError"],
          ],
          `held job ${id} saw its signal abort for shutdown`,
        );
      }

      const second = startWorker({ concurrency: 10, database: db.url, grace: GRACE_MS, readyAt: 4, recordDir });
      const { ids } = await second.message("all-running", 20_000);
      assert.deepEqual(new Set(ids), heldIds, "the second worker picked up the released jobs");
      second.send({ type: "release" });
      await waitFor(async () => (await countByStatus(offload)).completed === 5, { message: "all five jobs completed", timeoutMs: 10_000 });
      second.send({ type: "exit" });
      assert.deepEqual(await within(second.exited, 10_000, "the second worker to exit"), { code: 0, signal: null });

      for (const job of await allJobs(offload)) {
        assert.equal(job.status, "completed");
        assert.equal(job.attempt, 1, `job ${job.id} spent one attempt in all`);
        assert.deepEqual(job.errors, []);
      }
      const secondRecords = readRecords(recordDir).filter((r) => r.pid === second.pid);
      assert.deepEqual(
        secondRecords.filter((r) => r.event === "end").map((r) => r.id).sort(),
        [...heldIds].sort(),
        "the second worker completed the released jobs and nothing else",
      );
    } finally {
      await killAllWorkers();
      await offload.close();
      db.cleanup();
    }
  });
});
