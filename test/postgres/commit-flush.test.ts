import assert from "node:assert/strict";
import { describe, it, type TestContext } from "node:test";
import pg from "pg";
import { buildStatements } from "../../src/backends/postgres/statements.js";
import { newJob } from "../conformance/backend-conformance.js";
import { openPgOffload } from "../offload/fixture.js";
import { recordStatements, withPg } from "../pg.js";

/**
 * Which statements commit without waiting for the WAL flush: those whose loss
 * in a server crash costs only a repeat (claims, heartbeats, progress, worker
 * rows). Enqueues and acks must wait: once they answer, they survive.
 */
describe("PostgreSQL commit flush", () => {
  const sql = buildStatements("offload", 0);

  it("turns the flush off, for their own transaction only, in claims, heartbeats, progress, worker rows and enqueues that then confirm it", () => {
    for (const name of ["claim", "heartbeat", "progress", "workerBeat", "insertVisible", "insertAndClaim"] as const) {
      assert.match(sql[name], /set_config\('synchronous_commit', 'off', true\)/, name);
    }
    for (const name of ["insert", "ack", "ackCompleted", "ackAndClaim", "claimInTransaction", "retry", "requestCancel", "cancelWaiting", "rescueExpired", "queuePause", "idempotencyPut"] as const) {
      assert.doesNotMatch(sql[name], /synchronous_commit/, name);
    }
  });

  it("sets it for the statement's transaction and not after it", async () => {
    await withPg(async (client) => {
      const before = (await client.query("SHOW synchronous_commit")).rows[0].synchronous_commit;
      await client.query("BEGIN");
      const [row] = (await client.query(`WITH c AS (SELECT set_config('synchronous_commit', 'off', true) AS no_flush) SELECT current_setting('synchronous_commit') AS inside FROM c`)).rows;
      assert.equal(row.inside, "off");
      await client.query("COMMIT");
      assert.equal((await client.query("SHOW synchronous_commit")).rows[0].synchronous_commit, before);
      // Outside a transaction block the statement is its own transaction: the setting ends with it.
      await client.query(`WITH c AS (SELECT set_config('synchronous_commit', 'off', true) AS no_flush) SELECT no_flush FROM c`);
      assert.equal((await client.query("SHOW synchronous_commit")).rows[0].synchronous_commit, before);
    });
  });

  it("commits an enqueue without the flush, so workers see it at once, then waits for the flush on the same connection before it answers", async (t) => {
    const offload = openPgOffload(t, "flushenq");
    const backend = await offload.backend();
    const sent = recordStatements(t);

    await backend.jobInsertMany({ jobs: [newJob({ queue: "q" }), newJob({ queue: "q" })] });
    assert.deepEqual(sent.texts(), [sql.insertVisible, sql.confirmDurable]);
    assert.equal(sent.clients().size, 1, "the flush is waited for on the connection that committed");

    // Handed to this process's worker: onStored comes between the commit and the flush.
    sent.clear();
    let storedAt = -1;
    const job = newJob({ queue: "q2" });
    const result = await backend.jobInsertAndClaim!({
      job,
      leaseMs: 10_000,
      onStored: (stored) => {
        storedAt = sent.texts().length;
        assert.equal(stored.claimed?.id, job.id);
      },
      workerId: "w",
    });
    assert.equal(result.claimed?.id, job.id);
    assert.deepEqual(sent.texts(), [sql.insertAndClaim, sql.confirmDurable]);
    assert.equal(storedAt, 1, "onStored ran after the commit and before the flush was asked for");

    // Inside the application's transaction nothing touches the setting: its commit is the application's.
    sent.clear();
    await withPg(async (client) => {
      await client.query("BEGIN");
      await backend.jobInsertMany({ jobs: [newJob({ queue: "q" })], tx: client });
      await client.query("ROLLBACK");
    });
    const texts = sent.texts();
    assert.ok(texts.some((text) => text.includes("INSERT INTO")), "the insert was sent");
    for (const text of texts) assert.doesNotMatch(text, /synchronous_commit|txid_current/);
  });

  it("keeps the flush for acks and a claim written in one transaction (a release makes its job claimable at once)", async (t) => {
    const offload = openPgOffload(t, "flushtx");
    const backend = await offload.backend();
    await backend.jobInsertMany({ jobs: [newJob({ queue: "q" })] });
    const claim = { leaseMs: 10_000, queues: [{ limit: 1, queue: "q" }], workerId: "w" };
    const [held] = await backend.jobClaim(claim);
    assert.ok(held);

    const sent: string[] = [];
    const query = pg.Client.prototype.query;
    pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
      const config = args[0] as string | { text?: string };
      sent.push(typeof config === "string" ? config : (config.text ?? ""));
      return (query as (...a: unknown[]) => unknown).apply(this, args);
    } as typeof query;
    let result;
    try {
      result = await backend.jobAckAndClaim({ acks: [{ id: held.id, leaseToken: held.leaseToken, outcome: "released" }], claim });
    } finally {
      pg.Client.prototype.query = query;
    }
    // The released job is claimed again in the same transaction, whose commit waits for the flush.
    assert.equal(result.acks[0]!.applied, true);
    assert.deepEqual(result.claimed.map((c) => c.id), [held.id]);
    assert.ok(sent.includes("BEGIN") && sent.includes("COMMIT"), "one transaction");
    for (const text of sent) assert.doesNotMatch(text, /synchronous_commit/);
  });
});
