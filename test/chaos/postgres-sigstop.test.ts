import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { after, describe, it } from "node:test";
import { createOffload } from "../../src/index.js";
import { tempPgSchema } from "../pg.js";
import { waitFor } from "../helpers.js";
import { defineChaosJobs } from "./fixtures/job-types.js";
import { assertRunning, killAllWorkers, readRecords, startWorker, within } from "./fixtures/worker-process.js";

const WORKER = { heartbeatInterval: 500, leaseDuration: 2_000, sweepInterval: 500 };

/** The process state letter of /proc/<pid>/stat: "T" while stopped by a signal. */
function processState(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
}

describe("PostgreSQL: a worker process stopped with SIGSTOP past its lease", () => {
  after(killAllWorkers);

  it("cannot complete, once resumed, the job another worker took over: its late ack is fenced off", { timeout: 60_000 }, async (t) => {
    const pg = tempPgSchema("chaos_stop");
    const recordDir = mkdtempSync(join(tmpdir(), "offload-pg-stop-"));
    const goFile = join(recordDir, "go");
    const offload = createOffload({ database: pg.url, logger: false, postgres: { poolSize: 2 } });
    const jobs = defineChaosJobs(offload);
    try {
      await offload.migrate();
      // The frozen worker's handler returns first thing after SIGCONT, before any heartbeat can tell it the
      // lease is gone: the worst case, in which its "completed" is certainly sent (see freezeUntilFile).
      const frozen = startWorker({ concurrency: 1, database: pg.url, freezeUntilFile: goFile, grace: 1_000, logLevel: "info", recordDir, worker: WORKER });
      await frozen.message("ready", 30_000);
      const job = await jobs.freeze.enqueue({});
      const { id } = await frozen.message("freezing", 10_000);
      assert.equal(id, job.id);
      frozen.child.kill("SIGSTOP");
      const stoppedAt = performance.now();
      await waitFor(() => processState(frozen.pid) === "T", { message: "the worker to be stopped" });
      const claimedByFrozen = await offload.getJob(job.id);
      assert.equal(claimedByFrozen?.status, "running");
      assert.equal(claimedByFrozen?.attempt, 1);

      const rescuer = startWorker({ concurrency: 1, database: pg.url, grace: 1_000, logLevel: "info", recordDir, worker: WORKER });
      await rescuer.message("ready", 30_000);
      const done = await waitFor(
        async () => {
          assertRunning([rescuer]);
          const view = await offload.getJob(job.id);
          return view?.status === "completed" ? view : null;
        },
        { message: "the second worker to rescue and complete the job", timeoutMs: 20_000 },
      );
      const takenOverMs = performance.now() - stoppedAt;
      assert.equal(processState(frozen.pid), "T", "the first worker stayed stopped throughout");
      assert.deepEqual(done.result, { pid: rescuer.pid }, "the second worker's result");
      assert.equal(done.attempt, 2);
      assert.deepEqual(done.errors.map((e) => [e.attempt, e.code]), [[1, "lease_expired"]]);

      writeFileSync(goFile, "");
      frozen.child.kill("SIGCONT");
      const resumedAt = performance.now();
      const fenced = (await frozen.line((_line, json) => json?.msg === "outcome not written: the lease had been taken over" && json.id === job.id, 10_000)) as Record<string, unknown>;
      const fencedMs = performance.now() - resumedAt;
      assert.equal(fenced.outcome, "completed", "the resumed worker did send its completion");
      assert.equal(fenced.attempt, 1);
      t.diagnostic(`stopped for ${Math.round(resumedAt - stoppedAt)} ms; taken over and completed ${Math.round(takenOverMs)} ms after SIGSTOP; late ack refused ${Math.round(fencedMs)} ms after SIGCONT`);

      assert.deepEqual(await offload.getJob(job.id), done, "the job is exactly as the second worker left it");
      const records = readRecords(recordDir)
        .filter((r) => r.id === job.id)
        .sort((a, b) => a.t - b.t);
      assert.deepEqual(
        records.map((r) => [r.pid, r.event, r.attempt]),
        [
          [frozen.pid, "start", 1],
          [rescuer.pid, "start", 2],
          [rescuer.pid, "end", 2],
          [frozen.pid, "end", 1],
        ],
        "the first handler finished too, after the second",
      );

      frozen.send({ type: "exit" });
      rescuer.send({ type: "exit" });
      assert.deepEqual(await within(Promise.all([frozen.exited, rescuer.exited]), 15_000, "the workers to exit"), [
        { code: 0, signal: null },
        { code: 0, signal: null },
      ]);
      assert.deepEqual(await offload.getJob(job.id), done, "still the second worker's after both stopped");
    } finally {
      await killAllWorkers();
      await offload.close();
      await pg.cleanup();
      rmSync(recordDir, { force: true, recursive: true });
    }
  });
});
