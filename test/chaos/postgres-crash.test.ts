import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { after, describe, it } from "node:test";
import { createOffload } from "../../src/index.js";
import { tempPgSchema, withPg } from "../pg.js";
import { waitFor } from "../helpers.js";
import { defineChaosJobs } from "./fixtures/job-types.js";
import type { HandlerRecord } from "./fixtures/worker-child.js";
import { allJobs, countByStatus, killAllWorkers, readRecords, startWorker, within } from "./fixtures/worker-process.js";

// Short leases so that the killed worker's jobs come back in about 2.5 s.
const WORKER = { heartbeatInterval: 500, leaseDuration: 2_000, sweepInterval: 500 };
const TOTAL = 3_000;

describe("PostgreSQL: a worker process killed with SIGKILL while three share the work", () => {
  after(killAllWorkers);

  it("loses no job, and runs an attempt again only if it was running in the killed process", { timeout: 90_000 }, async (t) => {
    const pg = tempPgSchema("chaos_kill");
    const recordDir = mkdtempSync(join(tmpdir(), "offload-pg-kill-"));
    const offload = createOffload({ database: pg.url, logger: false, postgres: { poolSize: 2 } });
    const jobs = defineChaosJobs(offload);
    try {
      await offload.migrate(); // before the children, so that they do not all wait on the migration lock
      const workers = [0, 1, 2].map(() => startWorker({ concurrency: 10, database: pg.url, grace: 5_000, recordDir, worker: WORKER }));
      const ready = await Promise.all(workers.map((w) => w.message("ready", 30_000)));
      const [doomed, ...survivors] = workers as [(typeof workers)[0], ...typeof workers];
      const doomedWorkerId = ready[0]!.workerId;

      const started = performance.now();
      const ids: string[] = [];
      for (let batch = 0; batch < TOTAL / 1_000; batch++) {
        ids.push(...(await jobs.sleep.enqueueMany(Array.from({ length: 1_000 }, () => ({ ms: 20 })))).map((j) => j.id));
      }

      // Mid-run: a third done, and handlers running in the doomed worker (started, not ended, by its own
      // record), so that the kill certainly cuts attempts short rather than landing between two claims.
      await waitFor(async () => ((await countByStatus(offload)).completed ?? 0) >= TOTAL / 3, { intervalMs: 20, message: "a third of the jobs completed", timeoutMs: 30_000 });
      const doomedRecord = join(recordDir, `${doomed.pid}.jsonl`);
      const inFlight = () => {
        const text = readFileSync(doomedRecord, "utf8");
        return text.split('"event":"start"').length - text.split('"event":"end"').length;
      };
      await waitFor(() => inFlight() >= 3, { intervalMs: 1, message: "handlers running in the doomed worker" });
      doomed.child.kill("SIGKILL");
      const killedAt = performance.now();
      assert.deepEqual(await within(doomed.exited, 5_000, "the killed worker to exit"), { code: null, signal: "SIGKILL" });

      // Its leases outlive it by 1.5 to 2 s: until then the database still shows what it held.
      const heldByDoomed = await withPg(async (client) =>
        (await client.query<{ id: string }>(`SELECT id FROM "${pg.schema}".jobs WHERE status = 'running' AND worker_id = $1`, [doomedWorkerId])).rows.map((r) => r.id),
      );
      const countsAtKill = await countByStatus(offload);
      t.diagnostic(`at the kill: ${JSON.stringify(countsAtKill)} after ${Math.round(killedAt - started)} ms`);
      assert.ok(countsAtKill.completed! < TOTAL, "the kill came mid-run");

      await waitFor(async () => (await countByStatus(offload)).completed === TOTAL, { intervalMs: 50, message: `all ${TOTAL} jobs completed`, timeoutMs: 40_000 });
      const recoveredMs = performance.now() - killedAt;
      t.diagnostic(`${TOTAL} jobs in ${Math.round(performance.now() - started)} ms; from SIGKILL to the last completion ${Math.round(recoveredMs)} ms (lease 2 s + sweep 0.5 s)`);

      for (const w of survivors) w.send({ type: "exit" });
      assert.deepEqual(await within(Promise.all(survivors.map((w) => w.exited)), 15_000, "the survivors to exit"), survivors.map(() => ({ code: 0, signal: null })));

      const final = await allJobs(offload);
      assert.equal(final.length, TOTAL, "no job lost");
      assert.deepEqual(new Set(final.map((j) => j.id)), new Set(ids));

      const starts = new Map<string, HandlerRecord[]>();
      const ends = new Set<string>();
      for (const r of readRecords(recordDir)) {
        if (r.event === "start") starts.set(r.id, [...(starts.get(r.id) ?? []), r]);
        if (r.event === "end") ends.add(`${r.id}#${r.attempt}#${r.pid}`);
      }
      const seenAttempts = new Set<string>();
      let reRun = 0;
      for (const job of final) {
        assert.equal(job.status, "completed", `job ${job.id} is ${job.status}`);
        const runs = (starts.get(job.id) ?? []).sort((a, b) => a.attempt - b.attempt);
        assert.ok(runs.length >= 1, `job ${job.id} completed without its handler starting`);
        for (const r of runs) {
          const key = `${r.id}#${r.attempt}`;
          assert.ok(!seenAttempts.has(key), `attempt ${r.attempt} of job ${r.id} started twice`);
          seenAttempts.add(key);
        }
        // The last start is the attempt that completed it.
        const last = runs[runs.length - 1]!;
        assert.equal(last.attempt, job.attempt, `job ${job.id}: its final attempt is the last one started`);
        if (job.attempt > 1) assert.ok(heldByDoomed.includes(job.id), `job ${job.id} took ${job.attempt} attempts but the killed process did not hold it`);
        if (runs.length > 1) {
          reRun++;
          assert.equal(runs.length, 2, `job ${job.id} started ${runs.length} times`);
          assert.equal(runs[0]!.pid, doomed.pid, `job ${job.id} ran twice, but its first run was not in the killed process (pids ${runs.map((r) => r.pid).join(", ")})`);
          assert.notEqual(last.pid, doomed.pid, `job ${job.id} ran again in the killed process`);
          assert.deepEqual(job.errors.map((e) => [e.attempt, e.code]), [[runs[0]!.attempt, "lease_expired"]], `job ${job.id} records its lost attempt`);
        } else if (job.attempt > 1) {
          // Claimed by the killed process, which died before the handler started.
          assert.deepEqual(job.errors.map((e) => e.code), ["lease_expired"]);
        } else {
          assert.deepEqual(job.errors, []);
        }
      }
      // Whatever the killed process started and did not see finish had to run again.
      for (const id of heldByDoomed) {
        const runs = starts.get(id) ?? [];
        const inDoomed = runs.find((r) => r.pid === doomed.pid);
        if (inDoomed && !ends.has(`${id}#${inDoomed.attempt}#${doomed.pid}`)) {
          assert.equal(runs.length, 2, `job ${id} was running in the killed process and must have run again`);
        }
      }
      const perProcess = workers.map((w) => [...starts.values()].flat().filter((r) => r.pid === w.pid).length);
      t.diagnostic(`handler starts per process (killed first): ${perProcess.join(", ")}; re-run after the kill: ${reRun}; running in the killed process at the kill: ${heldByDoomed.length}`);
      assert.ok(heldByDoomed.length > 0, "the killed process held jobs when it died");
      assert.ok(reRun > 0 && reRun <= heldByDoomed.length, `re-run ${reRun} jobs, at most the ${heldByDoomed.length} the killed process held`);
      assert.ok(perProcess.every((n) => n > 0), "all three processes ran jobs");
    } finally {
      await killAllWorkers();
      await offload.close();
      await pg.cleanup();
      rmSync(recordDir, { force: true, recursive: true });
    }
  });
});
