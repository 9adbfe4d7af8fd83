import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import pg from "pg";
import { createOffload } from "../../src/index.js";
import { defineChaosJobs } from "../chaos/fixtures/job-types.js";
import { listenerBackends, terminate } from "../chaos/fixtures/pg-sessions.js";
import { TcpProxy } from "../chaos/fixtures/tcp-proxy.js";
import { assertRunning, killAllWorkers, readRecords, startWorker, within } from "../chaos/fixtures/worker-process.js";
import { waitFor } from "../helpers.js";
import { PG_URL, tempPgSchema } from "../pg.js";

const POLL_MS = 5_000;

describe("PostgreSQL: wake-ups through LISTEN/NOTIFY", () => {
  after(killAllWorkers);

  it("a job enqueued by another process wakes an idle worker at once; with the listener down it still starts within the poll interval, and the listener comes back by itself", { timeout: 60_000 }, async (t) => {
    const schema = tempPgSchema("notify");
    const target = new URL(PG_URL);
    // The worker reaches PostgreSQL through a proxy, so that the test can keep its listener from reconnecting.
    const proxy = await TcpProxy.start({ host: target.hostname, port: Number(target.port || 5432) });
    const recordDir = mkdtempSync(join(tmpdir(), "offload-pg-notify-"));
    const offload = createOffload({ database: schema.url, logger: false, postgres: { poolSize: 2 } });
    const jobs = defineChaosJobs(offload);
    const admin = new pg.Client({ connectionString: PG_URL });
    try {
      await admin.connect();
      await offload.migrate();
      const worker = startWorker({ concurrency: 5, database: proxy.url(schema.url), grace: 1_000, logLevel: "info", recordDir, worker: { pollInterval: POLL_MS } });
      await worker.message("ready", 30_000);
      await waitFor(async () => (await listenerBackends(admin, schema.schema)).length === 1, { message: "the worker's LISTEN connection" });

      /** Enqueues a job from this process and returns how long it took to start in the worker. */
      const startDelay = async (timeoutMs: number): Promise<number> => {
        const enqueuedAt = Date.now();
        const job = await jobs.sleep.enqueue({ ms: 1 });
        const start = await waitFor(
          () => {
            assertRunning([worker]);
            return readRecords(recordDir).find((r) => r.id === job.id && r.event === "start");
          },
          { intervalMs: 5, message: `job ${job.id} to start`, timeoutMs },
        );
        return start.t - enqueuedAt;
      };

      // Idle worker, poll every 5 s: five jobs in a row each start at once. A poll would
      // catch one within 1 s a fifth of the time; all five only by NOTIFY.
      const woken: number[] = [];
      for (let i = 0; i < 5; i++) woken.push(await startDelay(2_000));
      t.diagnostic(`enqueue to start, listener up: ${woken.join(", ")} ms (poll interval ${POLL_MS} ms)`);
      for (const ms of woken) assert.ok(ms < 1_000, `a job started ${ms} ms after its enqueue: not woken by NOTIFY`);

      // Listener down, and kept down: no new connection gets through, the pool's open ones still work.
      await proxy.refuse({ dropExisting: false });
      const [listener] = await listenerBackends(admin, schema.schema);
      assert.equal(await terminate(admin, [listener!]), 1);
      await worker.line((_l, json) => json?.msg === "LISTEN connection lost; reconnecting (workers keep polling meanwhile)", 10_000);
      const polled = await startDelay(POLL_MS + 2_000);
      t.diagnostic(`enqueue to start, listener down: ${polled} ms`);
      assert.ok(polled <= POLL_MS + 500, `with the listener down, a job started ${polled} ms after its enqueue, over the poll interval (${POLL_MS} ms)`);
      assert.deepEqual(await listenerBackends(admin, schema.schema), [], "the listener was down throughout");

      // Connections possible again: the listener reconnects by itself, and wake-ups are immediate again.
      await proxy.forward();
      const restoredAt = Date.now();
      const restored = (await worker.line((_l, json) => json?.msg === "LISTEN connection restored", 10_000)) as { time: number };
      await waitFor(async () => (await listenerBackends(admin, schema.schema)).length === 1, { message: "a LISTEN session again" });
      const again = await startDelay(2_000);
      t.diagnostic(`listener back ${restored.time - restoredAt} ms after connections were possible again; enqueue to start then: ${again} ms`);
      assert.ok(again < 1_000, `after the listener came back, a job started ${again} ms after its enqueue: not woken by NOTIFY`);

      worker.send({ type: "exit" });
      assert.deepEqual(await within(worker.exited, 10_000, "the worker to exit"), { code: 0, signal: null });
    } finally {
      await killAllWorkers();
      await admin.end().catch(() => undefined);
      await proxy.close();
      await offload.close();
      await schema.cleanup();
      rmSync(recordDir, { force: true, recursive: true });
    }
  });
});
