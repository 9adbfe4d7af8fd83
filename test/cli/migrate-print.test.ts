import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import Database from "better-sqlite3";
import { POSTGRES_MIGRATIONS } from "../../src/backends/postgres/migrations.js";
import { SQLITE_MIGRATIONS } from "../../src/backends/sqlite/migrations.js";
import { createOffload } from "../../src/index.js";
import { tempSqlite } from "../helpers.js";
import { tempPgSchema, withPg } from "../pg.js";
import { killRunningClis, runCli } from "./cli-process.js";

describe("offload migrate --print", () => {
  after(killRunningClis);

  it("prints PostgreSQL SQL that, applied by hand, leaves nothing for migrate to do; and connects to nothing", async () => {
    const temp = tempPgSchema("print");
    try {
      const printed = await runCli(["migrate", "--print", "--database", temp.url]);
      assert.equal(printed.code, 0, printed.stderr);
      const script = printed.stdout;
      assert.match(script, new RegExp(`CREATE TABLE "${temp.schema}"\\.jobs`));
      assert.match(script, /pg_advisory_xact_lock/);
      // Printing created nothing.
      assert.equal(await withPg(async (c) => (await c.query("SELECT 1 FROM pg_namespace WHERE nspname = $1", [temp.schema])).rowCount), 0);
      await withPg((c) => c.query(script));
      const offload = createOffload({ database: temp.url, logger: false });
      try {
        assert.deepEqual(await offload.migrate(), { applied: [], version: POSTGRES_MIGRATIONS.at(-1)!.version });
      } finally {
        await offload.close();
      }
    } finally {
      await temp.cleanup();
    }
  });

  it("prints SQLite SQL that, applied by hand, leaves nothing for migrate to do", async () => {
    const temp = tempSqlite("offload-print");
    try {
      const printed = await runCli(["migrate", "--print", "--database", temp.url]);
      assert.equal(printed.code, 0, printed.stderr);
      const db = new Database(temp.file);
      db.exec(printed.stdout);
      db.close();
      const offload = createOffload({ database: temp.url, logger: false });
      try {
        assert.deepEqual(await offload.migrate(), { applied: [], version: SQLITE_MIGRATIONS.at(-1)!.version });
      } finally {
        await offload.close();
      }
    } finally {
      temp.cleanup();
    }
  });

  it("refuses a URL of no engine it knows", async () => {
    const result = await runCli(["migrate", "--print", "--database", "mysql://localhost/x"]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /Unsupported database URL/);
  });
});
