import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { after, describe, it } from "node:test";
import { createOffload, OffloadError, type Offload } from "../../src/index.js";
import { defineChaosJobs } from "../chaos/fixtures/job-types.js";
import { TcpProxy } from "../chaos/fixtures/tcp-proxy.js";
import { allJobs, assertRunning, killAllWorkers, readRecords, startWorker, within, type WorkerProcess } from "../chaos/fixtures/worker-process.js";
import { waitFor } from "../helpers.js";
import { PG_URL, tempPgSchema } from "../pg.js";

/** What the issue asks: enqueue fails within 2 s; 0.5 s of margin for a busy machine. */
const ENQUEUE_BOUND_MS = 2_500;

/** Enqueues one job and expects it to fail as an unreachable database: returns the time it took and the error. */
async function failingEnqueue(offload: Offload): Promise<{ error: OffloadError; ms: number }> {
  const started = performance.now();
  try {
    await offload.enqueue("chaos.sleep", { ms: 1 });
  } catch (error) {
    const ms = performance.now() - started;
    assert.ok(error instanceof OffloadError, `expected an OffloadError, got ${String(error)}`);
    return { error, ms };
  }
  assert.fail("enqueue succeeded while the database was unreachable");
}

/** The worker's "claim failed" log lines so far. */
function claimFailures(worker: WorkerProcess): { retryInMs: number; time: number }[] {
  return worker
    .output()
    .split("\n")
    .filter((line) => line.includes('"msg":"claim failed; retrying"'))
    .map((line) => JSON.parse(line) as { retryInMs: number; time: number });
}

describe("PostgreSQL: the database becomes unreachable", () => {
  after(killAllWorkers);

  it("enqueue fails within 2 s with OFFLOAD_ERR_DATABASE; a running worker backs off and recovers by itself, losing no job", { timeout: 90_000 }, async (t) => {
    const pg = tempPgSchema("unreach");
    const target = new URL(PG_URL);
    const proxy = await TcpProxy.start({ host: target.hostname, port: Number(target.port || 5432) });
    const proxied = proxy.url(pg.url);
    const recordDir = mkdtempSync(join(tmpdir(), "offload-pg-unreach-"));
    // Checks state around the proxy; the instance under test enqueues through it, with the default deadlines.
    const direct = createOffload({ database: pg.url, logger: false, postgres: { poolSize: 2 } });
    const viaProxy = createOffload({ database: proxied, logger: false });
    const opened: Offload[] = [direct, viaProxy];
    const fresh = () => {
      const offload = createOffload({ database: proxied, logger: false });
      defineChaosJobs(offload);
      opened.push(offload);
      return offload;
    };
    const directJobs = defineChaosJobs(direct);
    const proxyJobs = defineChaosJobs(viaProxy);
    try {
      await direct.migrate();
      await viaProxy.migrate();
      // queryTimeoutMs: a claim the network swallowed is given up after 2 s, not the default 30 s.
      const worker = startWorker({
        concurrency: 5,
        database: `${proxied}&queryTimeoutMs=2000`,
        grace: 1_000,
        logLevel: "warn",
        recordDir,
        worker: { heartbeatInterval: 500, leaseDuration: 2_000, pollInterval: 1_000, sweepInterval: 500 },
      });
      await worker.message("ready", 30_000);
      const starts = () => readRecords(recordDir).filter((r) => r.event === "start");

      // Before: ten jobs through the proxy; the outage begins while some run and the rest wait.
      const before = await proxyJobs.sleep.enqueueMany(Array.from({ length: 10 }, () => ({ ms: 300 })));
      await waitFor(() => starts().length >= 3, { message: "the first jobs to start" });

      // Blackhole: the opened instance's pooled connection, and a new instance's first connection, hang.
      await proxy.blackhole();
      const hung = await failingEnqueue(viaProxy);
      const hungFresh = await failingEnqueue(fresh());
      // While the worker is cut off, jobs keep arriving by another way.
      const during = await directJobs.sleep.enqueueMany(Array.from({ length: 5 }, () => ({ ms: 300 })));

      // Refused: the server is gone, connections dropped, the port closed.
      await proxy.refuse({ dropExisting: true });
      const refused = await failingEnqueue(viaProxy);
      const refusedFresh = await failingEnqueue(fresh());

      const failures = [
        ["blackhole, opened instance", hung],
        ["blackhole, new instance", hungFresh],
        ["refused, opened instance", refused],
        ["refused, new instance", refusedFresh],
      ] as const;
      for (const [what, f] of failures) t.diagnostic(`enqueue failed after ${Math.round(f.ms)} ms (${what}): ${f.error.message}`);
      for (const [what, { error, ms }] of failures) {
        assert.equal(error.code, "OFFLOAD_ERR_DATABASE", `${what}: ${error.message}`);
        assert.ok(ms < ENQUEUE_BOUND_MS, `${what}: enqueue failed after ${Math.round(ms)} ms, over ${ENQUEUE_BOUND_MS} ms`);
        assert.match(error.message, new RegExp(`PostgreSQL at postgres://postgres@127\\.0\\.0\\.1:${proxy.port}/test.* (is unreachable|did not answer within)`), what);
      }
      assert.match(refused.error.message, /ECONNREFUSED/, "a refused connection says so");

      // The worker backs off: its failed claims come further and further apart, not in a hot loop.
      await waitFor(() => claimFailures(worker).some((f) => f.retryInMs >= 1_600), { message: "the worker's claim backoff to reach 1.6 s", timeoutMs: 20_000 });
      const backoff = claimFailures(worker).map((f) => f.retryInMs);
      t.diagnostic(`claim retries while unreachable: ${backoff.join(", ")} ms`);
      for (let i = 1; i < backoff.length; i++) assert.ok(backoff[i]! >= backoff[i - 1]!, `backoff grows: ${backoff.join(", ")}`);
      assertRunning([worker]);

      // Back: the worker recovers by itself, and jobs enqueued now run too.
      await proxy.forward();
      const restoredAt = performance.now();
      const restoredAtMs = Date.now();
      const afterwards = await proxyJobs.sleep.enqueueMany(Array.from({ length: 5 }, () => ({ ms: 1 })));
      const all = [...before, ...during, ...afterwards];
      const firstAfter = await waitFor(
        () => {
          assertRunning([worker]);
          return starts().find((r) => afterwards.some((j) => j.id === r.id));
        },
        { message: "a job enqueued after the outage to start", timeoutMs: 15_000 },
      );
      await waitFor(async () => (await allJobs(direct)).filter((j) => j.status === "completed").length === all.length, {
        message: "every job completed",
        timeoutMs: 20_000,
      });
      const recoveredMs = performance.now() - restoredAt;
      const firstAfterMs = firstAfter.t - restoredAtMs;
      t.diagnostic(`after the proxy forwarded again: a new job started at ${Math.round(firstAfterMs)} ms, all ${all.length} jobs completed at ${Math.round(recoveredMs)} ms`);

      worker.send({ type: "exit" });
      assert.deepEqual(await within(worker.exited, 15_000, "the worker to exit"), { code: 0, signal: null });
      const final = await allJobs(direct);
      assert.deepEqual(new Set(final.map((j) => j.id)), new Set(all.map((j) => j.id)), "no job lost, and the failed enqueues stored nothing");
      for (const job of final) assert.equal(job.status, "completed", `job ${job.id} is ${job.status}`);
      const rerun = final.filter((j) => j.attempt > 1).length;
      t.diagnostic(`jobs whose lease ran out during the outage and ran again: ${rerun}`);
    } finally {
      await killAllWorkers();
      await proxy.close();
      for (const offload of opened) await offload.close().catch(() => undefined);
      await pg.cleanup();
      rmSync(recordDir, { force: true, recursive: true });
    }
  });
});
