import assert from "node:assert/strict";
import { describe, it, type TestContext } from "node:test";
import { z } from "zod";
import { createOffload } from "../../src/index.js";
import { nextEvent, waitFor } from "../helpers.js";
import { gate, pgOffloadFixture } from "../offload/fixture.js";
import pg from "pg";
import { PG_URL, tempPgSchema, withPg } from "../pg.js";

/**
 * A worker idle on a queue writes where it waits; an enqueue in another
 * process (here another Offload instance: its own pool, listener and
 * channel) stores the job already claimed for it and sends it the job, so
 * it starts without a claim of its own.
 */
describe("PostgreSQL: an enqueue hands its job to a worker of another process waiting on the queue", () => {
  it("claims the job for the waiting worker, one job per free slot, and stops when the worker stops", async (t) => {
    const schema = tempPgSchema("remote");
    const producer = createOffload({ database: schema.url, logger: false });
    const consumer = createOffload({ database: schema.url, logger: false });
    t.after(async () => {
      try {
        await consumer.close({ grace: 0 });
        await producer.close({ grace: 0 });
      } finally {
        await schema.cleanup();
      }
    });
    const held = gate();
    const schemaOf = { schema: z.object({ hold: z.boolean() }) };
    const task = producer.define("task", schemaOf, async () => undefined);
    let running = 0;
    let maxRunning = 0;
    consumer.define("task", schemaOf, async ({ hold }) => {
      maxRunning = Math.max(maxRunning, ++running);
      if (hold) await held.promise;
      running--;
    });
    await producer.migrate();
    // Polls every 10 minutes: a job it runs at once came to it, not through a poll.
    await consumer.start({ concurrency: 1, pollInterval: "10m" });
    const waiters = () => withPg(async (c) => (await c.query(`SELECT worker_id, free FROM "${schema.schema}".waiters`)).rows as { free: number; worker_id: string }[]);
    await waitFor(async () => (await waiters()).some((w) => w.free === 1), { message: "the consumer to wait on its queue" });
    const [waiting] = await waiters();

    const started = nextEvent(consumer, "job:started");
    const first = await task.enqueue({ hold: true });
    assert.equal(first.status, "running", "stored already claimed");
    assert.equal(first.attempt, 1);
    const start = await started;
    assert.equal(start.id, first.id);
    assert.equal(start.workerId, waiting!.worker_id, "run by the waiting worker");
    // Its only slot is taken: the next job is stored queued, and claimed once the slot frees.
    const second = await task.enqueue({ hold: false });
    assert.equal(second.status, "queued");
    held.open();
    await waitFor(async () => (await producer.getJob(second.id))?.status === "completed", { message: "the second job to complete" });
    assert.equal((await producer.getJob(first.id))?.status, "completed");
    assert.equal(maxRunning, 1);

    // Stopped, it waits nowhere: enqueues store their jobs queued.
    await consumer.stop();
    assert.deepEqual(await waiters(), []);
    assert.equal((await task.enqueue({ hold: false })).status, "queued");
  });

  it("hands nothing to a worker whose row has expired, nor past a job of the queue that would be claimed first", async (t) => {
    const { offload: producer, schema } = pgOffloadFixture(t, "remotex");
    const task = producer.define("task", { schema: z.object({}) }, async () => undefined);
    await producer.migrate();
    // A live session stands for the worker's listener: this test's own connection.
    const admin = await withPgClient(t);
    const listenerPid = (await admin.query("SELECT pg_backend_pid() AS pid")).rows[0].pid as number;
    const put = (expiresIn: number, pid = listenerPid) =>
      withPg((c) =>
        c.query(
          `INSERT INTO "${schema}".waiters (queue, worker_id, channel, free, lease_ms, listener_pid, expires_at)
           VALUES ('default', 'w', 'nobody_listens', 5, 10000, $2, floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint + $1)
           ON CONFLICT (queue, worker_id) DO UPDATE SET expires_at = excluded.expires_at, free = excluded.free, listener_pid = excluded.listener_pid`,
          [expiresIn, pid],
        ),
      );
    await put(-1);
    assert.equal((await task.enqueue({})).status, "queued", "expired row");
    // Fresh, but its listener's session is gone.
    const ended = await withPg(async (c) => (await c.query("SELECT pg_backend_pid() AS pid")).rows[0].pid as number);
    await waitFor(async () => (await admin.query("SELECT 1 FROM pg_stat_activity WHERE pid = $1", [ended])).rowCount === 0, { message: "the closed session to end" });
    await put(60_000, ended);
    assert.equal((await task.enqueue({})).status, "queued", "no listener");
    await withPg((c) => c.query(`DELETE FROM "${schema}".jobs`));
    // Fresh row, but a queued job is ahead: it must be claimed first.
    await task.enqueue({});
    await put(60_000);
    assert.equal((await task.enqueue({})).status, "queued", "a job ahead");
    await withPg((c) => c.query(`DELETE FROM "${schema}".jobs`));
    const handed = await task.enqueue({});
    assert.equal(handed.status, "running");
    const [row] = await withPg(async (c) => (await c.query(`SELECT worker_id, lease_token IS NOT NULL AS leased FROM "${schema}".jobs WHERE id = $1`, [handed.id])).rows);
    assert.deepEqual(row, { leased: true, worker_id: "w" });
    // A paused queue takes nothing.
    await producer.pauseQueue("default");
    assert.equal((await task.enqueue({})).status, "queued", "paused");
  });
});

/** A pg client on the test server, closed after the test. */
async function withPgClient(t: TestContext): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  t.after(() => client.end());
  return client;
}
