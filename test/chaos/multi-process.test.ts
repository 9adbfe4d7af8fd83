import assert from "node:assert/strict";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { createOffload } from "../../src/index.js";
import { tempSqlite, waitFor } from "../helpers.js";
import { defineChaosJobs } from "./fixtures/job-types.js";
import { allJobs, countByStatus, killAllWorkers, readRecords, startWorker, within } from "./fixtures/worker-process.js";

describe("several worker processes on one SQLite file", () => {
  after(killAllWorkers);

  it("claims no attempt twice when three OS processes work one file while a fourth enqueues", { timeout: 90_000 }, async (t) => {
    const db = tempSqlite("offload-chaos-multi");
    const recordDir = join(db.dir, "records");
    mkdirSync(recordDir);
    const offload = createOffload({ database: db.url, logger: false });
    const jobs = defineChaosJobs(offload);
    try {
      await offload.backend(); // migrate before the children open the file
      const workers = [1, 2, 3].map(() => startWorker({ concurrency: 10, database: db.url, grace: 5_000, recordDir }));
      await Promise.all(workers.map((w) => w.message("ready")));

      // Enqueued only once all three are polling, in batches from this (fourth) process, so the
      // claims of the workers and the inserts of the parent all contend for the writer lock.
      const TOTAL = 2_000;
      const started = Date.now();
      const ids: string[] = [];
      for (let batch = 0; batch < TOTAL / 100; batch++) {
        const enqueued = await jobs.sleep.enqueueMany(Array.from({ length: 100 }, () => ({ ms: 1 })));
        ids.push(...enqueued.map((j) => j.id));
      }
      await waitFor(async () => (await countByStatus(offload)).completed === TOTAL, { intervalMs: 50, message: `${TOTAL} completed jobs`, timeoutMs: 60_000 });
      const elapsedMs = Date.now() - started;

      for (const w of workers) w.send({ type: "exit" });
      const exits = await within(Promise.all(workers.map((w) => w.exited)), 15_000, "the workers to exit");
      assert.deepEqual(exits, workers.map(() => ({ code: 0, signal: null })), "every worker stopped cleanly");

      // Header bytes 18-19 are 2 only in WAL mode: the file every process shared was in WAL.
      assert.deepEqual([...readFileSync(db.file).subarray(18, 20)], [2, 2], "the database file is in WAL mode");

      const stored = await allJobs(offload);
      assert.equal(stored.length, TOTAL);
      for (const job of stored) {
        assert.equal(job.status, "completed", `job ${job.id} is ${job.status}`);
        assert.equal(job.attempt, 1, `job ${job.id} was claimed ${job.attempt} times`);
        assert.deepEqual(job.errors, []);
      }

      const starts = readRecords(recordDir).filter((r) => r.event === "start");
      const seen = new Map<string, number>();
      for (const r of starts) {
        const key = `${r.id}#${r.attempt}`;
        assert.ok(!seen.has(key), `attempt ${r.attempt} of job ${r.id} ran in process ${seen.get(key)} and again in ${r.pid}`);
        seen.set(key, r.pid);
      }
      assert.equal(starts.length, TOTAL, "each job's handler ran exactly once");
      assert.deepEqual(new Set(starts.map((r) => r.id)), new Set(ids));

      const perProcess = new Map<number, number>(workers.map((w) => [w.pid, 0]));
      for (const r of starts) perProcess.set(r.pid, (perProcess.get(r.pid) ?? 0) + 1);
      assert.equal(perProcess.size, 3, "only the three workers ran jobs");
      const busy = [...perProcess.values()].filter((n) => n > 0).length;
      assert.ok(busy > 1, `the work was spread over more than one process: ${JSON.stringify(Object.fromEntries(perProcess))}`);
      t.diagnostic(`${TOTAL} jobs in ${elapsedMs} ms; jobs per process: ${[...perProcess.values()].join(", ")}`);
    } finally {
      await killAllWorkers();
      await offload.close();
      db.cleanup();
    }
  });
});
