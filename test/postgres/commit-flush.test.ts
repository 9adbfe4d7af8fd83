import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { buildStatements } from "../../src/backends/postgres/statements.js";
import { withPg } from "../pg.js";

/**
 * Which statements commit without waiting for the WAL flush: those whose loss
 * in a server crash costs only a repeat (claims, heartbeats, progress, worker
 * rows). Enqueues and acks must wait: once they answer, they survive.
 */
describe("PostgreSQL commit flush", () => {
  const sql = buildStatements("offload", 0);

  it("turns the flush off, for their own transaction only, in claims, heartbeats, progress and worker rows", () => {
    for (const name of ["claim", "heartbeat", "progress", "workerBeat"] as const) {
      assert.match(sql[name], /set_config\('synchronous_commit', 'off', true\)/, name);
    }
    for (const name of ["insert", "ack", "ackAndClaim", "retry", "requestCancel", "cancelWaiting", "rescueExpired", "queuePause", "idempotencyPut"] as const) {
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
});
