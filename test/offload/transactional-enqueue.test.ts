import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, it, type TestContext } from "node:test";
import Database from "better-sqlite3";
import { z } from "zod";
import { createOffload, OffloadError, type ErrorCode } from "../../src/index.js";
import { nextEvent, tempSqlite } from "../helpers.js";
import { tempPgSchema, withPg } from "../pg.js";
import { rejectsWithCode, sqliteFixture } from "./fixture.js";

const schema = z.object({ n: z.number() });

/** The application's own better-sqlite3 connection to Offload's file, with a table of its own; closed after the test. */
function appConnection(t: TestContext, file: string): Database.Database {
  const db = new Database(file);
  db.pragma("busy_timeout = 5000");
  db.exec("CREATE TABLE IF NOT EXISTS app_orders (id INTEGER PRIMARY KEY, note TEXT NOT NULL)");
  t.after(() => db.close());
  return db;
}

/** Runs `fn`, which must throw an OffloadError of `code` whose message names each of `mentions`. */
function throwsWithCode(fn: () => unknown, code: ErrorCode, ...mentions: string[]): OffloadError {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof OffloadError, `expected an OffloadError ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  for (const mention of mentions) assert.ok(caught.message.includes(mention), `expected the message to name ${mention}: ${caught.message}`);
  return caught;
}

describe("SQLite: enqueue inside the application's transaction", () => {
  it("enqueueSync in db.transaction(): the job exists if and only if the transaction commits, and only a committed one runs", async (t) => {
    const fx = sqliteFixture(t);
    const offload = fx.open();
    const ran: number[] = [];
    const task = offload.define("task", { schema }, async ({ n }) => void ran.push(n));
    await offload.migrate();
    const db = appConnection(t, fx.file);
    const insertOrder = db.prepare("INSERT INTO app_orders (note) VALUES (?)");

    const committed = db.transaction(() => {
      insertOrder.run("committed");
      return task.enqueueSync({ n: 1 }, { tx: db });
    })();
    assert.equal(committed.status, "queued");
    assert.equal(committed.deduplicated, false);

    let rolledBackId: string | null = null;
    assert.throws(
      () =>
        db.transaction(() => {
          insertOrder.run("rolled back");
          rolledBackId = task.enqueueSync({ n: 2 }, { tx: db }).id;
          throw new Error("the application changes its mind");
        })(),
      /changes its mind/,
    );
    assert.ok(rolledBackId);
    assert.equal((await offload.getJob(committed.id))?.status, "queued");
    assert.equal(await offload.getJob(rolledBackId), null, "the rolled-back job does not exist");
    assert.deepEqual(db.prepare("SELECT note FROM app_orders").pluck().all(), ["committed"], "the application's own write went the same way");

    const completed = nextEvent(offload, "job:completed", (e) => e.id === committed.id);
    await offload.start({ concurrency: 1 });
    await completed;
    const later = nextEvent(offload, "job:completed");
    // Committed by the application's connection while the worker idles: it hears of it by the commit counter.
    const third = db.transaction(() => task.enqueueSync({ n: 3 }, { tx: db }))();
    assert.equal((await later).id, third.id);
    assert.deepEqual(ran, [1, 3], "the rolled-back job never ran");
  });

  it("enqueueSync deduplicates by uniqueKey within the transaction", async (t) => {
    const fx = sqliteFixture(t);
    const offload = fx.open();
    const task = offload.define("task", { schema }, async () => null);
    await offload.migrate();
    const db = appConnection(t, fx.file);
    const [first, second] = db.transaction(() => [task.enqueueSync({ n: 1 }, { tx: db, uniqueKey: "k" }), task.enqueueSync({ n: 2 }, { tx: db, uniqueKey: "k" })])();
    assert.equal(first!.deduplicated, false);
    assert.equal(second!.deduplicated, true);
    assert.equal(second!.id, first!.id);
    assert.equal((await offload.listJobs()).items.length, 1);
    const many = db.transaction(() => task.enqueueManySync([{ n: 3 }, { n: 4 }], { tx: db }))();
    assert.equal(many.length, 2);
    assert.equal((await offload.listJobs()).items.length, 3);
  });

  it("the async enqueue(payload, { tx: db }) after BEGIN: invisible until COMMIT, gone after ROLLBACK", async (t) => {
    const fx = sqliteFixture(t);
    const offload = fx.open();
    const task = offload.define("task", { schema }, async () => null);
    await offload.migrate();
    const db = appConnection(t, fx.file);

    db.exec("BEGIN");
    const kept = await task.enqueue({ n: 1 }, { tx: db });
    assert.equal(await offload.getJob(kept.id), null, "Offload's own connection does not see it before COMMIT");
    db.exec("COMMIT");
    assert.equal((await offload.getJob(kept.id))?.status, "queued");

    db.exec("BEGIN");
    const [a, b] = await task.enqueueMany([{ n: 2 }, { n: 3 }], { tx: db });
    db.exec("ROLLBACK");
    assert.equal(await offload.getJob(a!.id), null);
    assert.equal(await offload.getJob(b!.id), null);
    assert.deepEqual((await offload.listJobs()).items.map((j) => j.id), [kept.id]);
  });

  it("says clearly what is wrong with the tx", async (t) => {
    const fx = sqliteFixture(t);
    const offload = fx.open();
    const task = offload.define("task", { schema }, async () => null);

    const db = appConnection(t, fx.file);
    throwsWithCode(() => db.transaction(() => task.enqueueSync({ n: 1 }, { tx: db }))(), "OFFLOAD_ERR_WORKER_STATE", "await offload.migrate()");
    await offload.migrate();

    throwsWithCode(() => task.enqueueSync({ n: 1 }, { tx: db }), "OFFLOAD_ERR_INVALID_INPUT", "no transaction open", "db.transaction");
    await rejectsWithCode(task.enqueue({ n: 1 }, { tx: db }), "OFFLOAD_ERR_INVALID_INPUT", "no transaction open");

    const elsewhere = tempSqlite("offload-tx-other");
    t.after(() => elsewhere.cleanup());
    const other = new Database(join(elsewhere.dir, "app.db"));
    t.after(() => other.close());
    const error = throwsWithCode(() => other.transaction(() => task.enqueueSync({ n: 1 }, { tx: other }))(), "OFFLOAD_ERR_INVALID_INPUT", "app.db", fx.file);
    assert.match(error.message, /connection to .*app\.db, but Offload stores jobs in /);

    throwsWithCode(() => db.transaction(() => task.enqueueSync({ n: 1 }, { tx: {} }))(), "OFFLOAD_ERR_INVALID_INPUT", "better-sqlite3 Database");
    throwsWithCode(() => task.enqueueSync({ n: 1 }, { tx: "db" as unknown as object }), "OFFLOAD_ERR_INVALID_INPUT", "options.tx");
    throwsWithCode(() => task.enqueueSync({ n: 1 }, {} as { tx: object }), "OFFLOAD_ERR_INVALID_INPUT", "options.tx", "enqueue()");
    await rejectsWithCode(task.enqueue({ n: 1 }, { tx: [] }), "OFFLOAD_ERR_INVALID_INPUT", "better-sqlite3 Database");
    assert.deepEqual((await offload.listJobs()).items, [], "nothing was stored");

    await offload.close();
    throwsWithCode(() => db.transaction(() => task.enqueueSync({ n: 1 }, { tx: db }))(), "OFFLOAD_ERR_WORKER_STATE", "closed");
  });

  it("enqueueSync on PostgreSQL says to use await enqueue(payload, { tx })", async (t) => {
    const pg = tempPgSchema("tx_sync");
    const offload = createOffload({ database: pg.url, logger: false, postgres: { poolSize: 1 } });
    t.after(async () => {
      await offload.close();
      await pg.cleanup();
    });
    const task = offload.define("task", { schema }, async () => null);
    await offload.migrate();
    await withPg(async (client) => {
      await client.query("BEGIN");
      try {
        throwsWithCode(() => task.enqueueSync({ n: 1 }, { tx: client }), "OFFLOAD_ERR_INVALID_INPUT", "enqueueSync is for SQLite", "await enqueue(payload, { tx })");
      } finally {
        await client.query("ROLLBACK");
      }
    });
  });
});
