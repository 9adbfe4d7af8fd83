import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { after, describe, it } from "node:test";
import pg from "pg";
import { createOffload } from "../../src/index.js";
import { PG_URL, tempPgSchema } from "../pg.js";
import { waitFor } from "../helpers.js";
import { defineChaosJobs } from "./fixtures/job-types.js";
import { listenQuery, sessionsOf, terminate, type PgSession } from "./fixtures/pg-sessions.js";
import { allJobs, assertRunning, countByStatus, killAllWorkers, readRecords, startWorker, within } from "./fixtures/worker-process.js";

// A long poll interval: a job that starts within a second was woken by NOTIFY, not found by a poll.
const WORKER = { heartbeatInterval: 500, leaseDuration: 2_000, pollInterval: 5_000, sweepInterval: 500 };
const TOTAL = 1_500;

describe("PostgreSQL: every worker connection terminated with pg_terminate_backend mid-run", () => {
  after(killAllWorkers);

  it("workers reconnect by themselves, LISTEN included: nothing is lost and no job's handler starts twice", { timeout: 90_000 }, async (t) => {
    const schema = tempPgSchema("chaos_term");
    const recordDir = mkdtempSync(join(tmpdir(), "offload-pg-term-"));
    const offload = createOffload({ database: schema.url, logger: false, postgres: { poolSize: 2 } });
    const jobs = defineChaosJobs(offload);
    const admin = new pg.Client({ connectionString: PG_URL });
    try {
      await admin.connect();
      await offload.migrate();
      const workers = [0, 1].map(() => startWorker({ concurrency: 10, database: schema.url, grace: 5_000, recordDir, worker: WORKER }));
      await Promise.all(workers.map((w) => w.message("ready", 30_000)));
      const pids = workers.map((w) => w.pid);
      const listening = (sessions: PgSession[]) => sessions.filter((s) => s.query.startsWith(listenQuery(schema.schema)));
      await waitFor(async () => [...(await sessionsOf(admin, pids)).values()].every((s) => listening(s).length === 1), {
        message: "each worker's LISTEN connection",
      });

      const started = performance.now();
      for (let batch = 0; batch < TOTAL / 500; batch++) await jobs.sleep.enqueueMany(Array.from({ length: 500 }, () => ({ ms: 20 })));
      await waitFor(async () => ((await countByStatus(offload)).completed ?? 0) >= TOTAL / 3, { intervalMs: 20, message: "a third of the jobs completed", timeoutMs: 30_000 });

      const before = await sessionsOf(admin, pids);
      const victims = [...before.values()].flat();
      for (const [pid, sessions] of before) {
        assert.equal(listening(sessions).length, 1, `worker ${pid} has one LISTEN connection`);
        assert.ok(sessions.length >= 2, `worker ${pid} has pooled connections besides LISTEN: ${JSON.stringify(sessions)}`);
      }
      const terminatedAt = performance.now();
      assert.equal(await terminate(admin, victims.map((s) => s.backendPid)), victims.length, "PostgreSQL terminated every session");
      const countsAtKill = await countByStatus(offload);
      t.diagnostic(`terminated ${victims.length} sessions (${[...before.values()].map((s) => s.length).join(" + ")}) at ${JSON.stringify(countsAtKill)}`);
      assert.ok(countsAtKill.completed! < TOTAL, "the sessions were terminated mid-run");

      // A worker that died of the terminate (an unheard 'error' event) fails the test here, with its output.
      await waitFor(
        async () => {
          assertRunning(workers);
          return (await countByStatus(offload)).completed === TOTAL;
        },
        { intervalMs: 50, message: `all ${TOTAL} jobs completed`, timeoutMs: 40_000 },
      );
      const drainedMs = performance.now() - terminatedAt;

      // Each worker is back on new sessions, listener included.
      const old = new Set(victims.map((s) => s.backendPid));
      const afterwards = await waitFor(
        async () => {
          const now = await sessionsOf(admin, pids);
          assertRunning(workers);
          return [...now.values()].every((s) => listening(s).length === 1) ? now : null;
        },
        { message: "each worker's LISTEN connection to come back", timeoutMs: 10_000 },
      );
      const listenerBackMs = performance.now() - terminatedAt;
      for (const session of [...afterwards.values()].flat()) assert.ok(!old.has(session.backendPid), "only new sessions remain");

      // Woken by NOTIFY through the restored listener, not by the 5 s poll.
      const enqueuedAt = Date.now();
      const last = await jobs.sleep.enqueue({ ms: 1 });
      const lastStart = await waitFor(() => readRecords(recordDir).find((r) => r.id === last.id && r.event === "start"), { message: "the job enqueued after the reconnect to start" });
      const wakeMs = lastStart.t - enqueuedAt;
      t.diagnostic(`from the terminate: all jobs done in ${Math.round(drainedMs)} ms, both listeners back within ${Math.round(listenerBackMs)} ms; a job enqueued then started after ${wakeMs} ms; total ${Math.round(performance.now() - started)} ms`);
      assert.ok(wakeMs < 1_000, `the job enqueued after the reconnect started after ${wakeMs} ms: NOTIFY did not wake the workers (poll interval 5 s)`);
      await waitFor(async () => (await countByStatus(offload)).completed === TOTAL + 1, { message: "the last job completed" });

      for (const w of workers) w.send({ type: "exit" });
      assert.deepEqual(await within(Promise.all(workers.map((w) => w.exited)), 15_000, "the workers to exit"), workers.map(() => ({ code: 0, signal: null })));

      const final = await allJobs(offload);
      assert.equal(final.length, TOTAL + 1, "no job lost");
      const startsPerJob = new Map<string, number>();
      for (const r of readRecords(recordDir)) if (r.event === "start") startsPerJob.set(r.id, (startsPerJob.get(r.id) ?? 0) + 1);
      let reclaimed = 0;
      for (const job of final) {
        assert.equal(job.status, "completed", `job ${job.id} is ${job.status}`);
        assert.equal(startsPerJob.get(job.id), 1, `job ${job.id}'s handler started ${startsPerJob.get(job.id) ?? 0} times`);
        // A claim the server committed but whose answer the terminate cut off: rescued, run once.
        if (job.attempt > 1) reclaimed++;
      }
      t.diagnostic(`jobs whose claim was lost with its connection and rescued: ${reclaimed}`);
    } finally {
      await killAllWorkers();
      await admin.end().catch(() => undefined);
      await offload.close();
      await schema.cleanup();
      rmSync(recordDir, { force: true, recursive: true });
    }
  });
});
