import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { after, describe, it } from "node:test";
import { createOffload } from "../../src/index.js";
import { tempSqlite, waitFor } from "../helpers.js";
import { defineChaosJobs } from "./fixtures/job-types.js";
import { allJobs, countByStatus, killAllWorkers, readRecords, startWorker, within } from "./fixtures/worker-process.js";

// The defaults of WorkerOptions, which both workers here use: the bound is what a user gets.
const LEASE_MS = 10_000;
const SWEEP_MS = 2_000;
const RECOVERY_BOUND_MS = LEASE_MS + SWEEP_MS + 5_000;

describe("a worker process killed with SIGKILL", () => {
  after(killAllWorkers);

  it("loses no job: a second process re-runs exactly the 50 that were running, within lease + sweep + 5 s", { timeout: 90_000 }, async (t) => {
    const db = tempSqlite("offload-chaos-crash");
    const recordDir = join(db.dir, "records");
    mkdirSync(recordDir);
    const offload = createOffload({ database: db.url, logger: false });
    const jobs = defineChaosJobs(offload);
    try {
      // 50 jobs of 1 s for the doomed worker's 50 slots, and 10 more that wait in the queue
      // behind them: those must run once, not be counted as crashed.
      const RUNNING = 50;
      const WAITING = 10;
      const enqueued = await jobs.sleep.enqueueMany(Array.from({ length: RUNNING + WAITING }, () => ({ ms: 1_000 })));

      const doomed = startWorker({ concurrency: RUNNING, database: db.url, grace: 30_000, readyAt: RUNNING, recordDir });
      const { ids: reportedRunning } = await doomed.message("all-running", 20_000);
      const killedAt = performance.now();
      const killedAtMs = Date.now();
      doomed.child.kill("SIGKILL");
      assert.deepEqual(await within(doomed.exited, 5_000, "the killed worker to exit"), { code: null, signal: "SIGKILL" });

      // What the database says was running at the kill is what must be re-run.
      const atKill = await allJobs(offload);
      const runningAtKill = new Set(atKill.filter((j) => j.status === "running").map((j) => j.id));
      assert.equal(runningAtKill.size, RUNNING, `50 jobs running at the kill, got ${JSON.stringify(await countByStatus(offload))}`);
      assert.deepEqual(runningAtKill, new Set(reportedRunning), "the jobs running in the database are those whose handlers ran");
      assert.equal(atKill.filter((j) => j.status === "queued").length, WAITING);

      const rescuer = startWorker({ concurrency: RUNNING + WAITING, database: db.url, grace: 30_000, recordDir });
      await waitFor(async () => (await countByStatus(offload)).completed === RUNNING + WAITING, {
        intervalMs: 20,
        message: "every job completed by the second worker",
        timeoutMs: 40_000,
      });
      const recoveryMs = performance.now() - killedAt;
      t.diagnostic(`recovery: ${(recoveryMs / 1000).toFixed(2)} s from SIGKILL to all ${RUNNING + WAITING} completed (bound ${RECOVERY_BOUND_MS / 1000} s)`);
      assert.ok(recoveryMs < RECOVERY_BOUND_MS, `recovery took ${Math.round(recoveryMs)} ms, over lease + sweep + 5 s = ${RECOVERY_BOUND_MS} ms`);

      rescuer.send({ type: "exit" });
      assert.deepEqual(await within(rescuer.exited, 10_000, "the second worker to exit"), { code: 0, signal: null });

      const final = await allJobs(offload);
      assert.equal(final.length, RUNNING + WAITING, "no job lost");
      for (const job of final) {
        assert.equal(job.status, "completed", `job ${job.id} is ${job.status}`);
        if (runningAtKill.has(job.id)) {
          assert.equal(job.attempt, 2, `crashed job ${job.id} took attempt ${job.attempt}`);
          assert.deepEqual(
            job.errors.map((e) => [e.attempt, e.code]),
            [[1, "lease_expired"]],
            `crashed job ${job.id} records its lost attempt`,
          );
        } else {
          assert.equal(job.attempt, 1, `waiting job ${job.id} took attempt ${job.attempt}`);
          assert.deepEqual(job.errors, []);
        }
      }

      // Where the recovery time goes: lease expiry and the next sweep, then the next claim.
      const crashed = final.filter((j) => runningAtKill.has(j.id));
      const rescuedAfter = Math.max(...crashed.map((j) => Date.parse(j.errors[0]!.at))) - killedAtMs;
      const restartedAfter = Math.max(...crashed.map((j) => Date.parse(j.startedAt!))) - killedAtMs;
      t.diagnostic(`after the kill: last rescue at ${(rescuedAfter / 1000).toFixed(2)} s, last re-run started at ${(restartedAfter / 1000).toFixed(2)} s`);

      const records = readRecords(recordDir);
      const byDoomed = records.filter((r) => r.pid === doomed.pid);
      assert.deepEqual(new Set(byDoomed.map((r) => `${r.event}#${r.attempt}`)), new Set(["start#1"]), "the killed worker only started attempts, none finished");
      assert.deepEqual(new Set(byDoomed.map((r) => r.id)), runningAtKill);

      const starts = new Map<string, number[]>();
      for (const r of records.filter((r) => r.event === "start")) starts.set(r.id, [...(starts.get(r.id) ?? []), r.attempt]);
      assert.deepEqual(new Set(starts.keys()), new Set(enqueued.map((j) => j.id)), "every job started");
      const reRun = new Set<string>();
      for (const [id, attempts] of starts) {
        assert.ok(attempts.length <= 2, `job ${id} started ${attempts.length} times: ${attempts.join(", ")}`);
        if (attempts.length === 2) {
          assert.deepEqual(attempts.sort(), [1, 2], `job ${id} ran attempts ${attempts.join(", ")}`);
          reRun.add(id);
        }
      }
      assert.deepEqual(reRun, runningAtKill, "re-run are exactly the jobs running at the kill");
      const byRescuer = records.filter((r) => r.pid === rescuer.pid);
      assert.equal(byRescuer.filter((r) => r.event === "end").length, RUNNING + WAITING, "the second worker finished every job");
    } finally {
      await killAllWorkers();
      await offload.close();
      db.cleanup();
    }
  });
});
