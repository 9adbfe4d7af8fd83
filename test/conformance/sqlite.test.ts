import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { readdirSync, readlinkSync, writeFileSync } from "node:fs";
import Database from "better-sqlite3";
import type { Backend } from "../../src/backend/backend.js";
import { SqliteBackend } from "../../src/backends/sqlite/sqlite-backend.js";
import { OffloadError } from "../../src/errors.js";
import { tempSqlite } from "../helpers.js";
import { defineBackendConformance, newJob } from "./backend-conformance.js";
import { sqliteFactory } from "./sqlite-factory.js";


function recordMigration(backend: Backend, version: number, checksum: string): void {
  (backend as SqliteBackend).db
    .prepare("INSERT INTO offload_migrations (version, name, checksum, applied_at) VALUES (?, ?, ?, ?)")
    .run(version, `from-the-future-${version}`, checksum, Date.now());
}

defineBackendConformance("sqlite", sqliteFactory, {
  recordSchemaVersion: async (backend, version) => recordMigration(backend, version, "0".repeat(64)),
});

describe("sqlite migrations", () => {
  it("refuses a database whose recorded migration differs from the code's", async () => {
    const { backend, cleanup } = await sqliteFactory();
    try {
      await backend.migrate();
      (backend as SqliteBackend).db.prepare("UPDATE offload_migrations SET checksum = 'changed' WHERE version = 1").run();
      await assert.rejects(backend.migrate(), (error: unknown) => error instanceof OffloadError && error.code === "OFFLOAD_ERR_MIGRATION");
    } finally {
      await cleanup();
    }
  });
});

describe("sqlite locking", () => {
  it("turns a lock held past the busy timeout into OFFLOAD_ERR_DATABASE, stores nothing, and works once the lock is gone", async () => {
    const temp = tempSqlite("offload-busy");
    const backend = new SqliteBackend({ busyTimeoutMs: 50, filename: temp.file });
    const other = new Database(temp.file);
    try {
      await backend.migrate();
      other.exec("BEGIN IMMEDIATE"); // another process's writer holds the lock
      await assert.rejects(
        backend.jobInsertMany({ jobs: [newJob()] }),
        (error: unknown) => error instanceof OffloadError && error.code === "OFFLOAD_ERR_DATABASE" && /SQLITE_BUSY/.test(error.message),
      );
      other.exec("ROLLBACK");
      assert.deepEqual((await backend.jobList({ filter: {}, limit: 10 })).items, []);
      const [stored] = await backend.jobInsertMany({ jobs: [newJob()] });
      assert.equal(stored?.job.status, "queued");
    } finally {
      other.close();
      await backend.close();
      temp.cleanup();
    }
  });
});

describe("sqlite open", () => {
  it("closes the file again when it is not a database, so retries leak no handle", async () => {
    const temp = tempSqlite("offload-junk");
    try {
      writeFileSync(temp.file, "this is not a database, just text long enough to have a header page".repeat(100));
      for (let i = 0; i < 3; i++) assert.throws(() => new SqliteBackend({ filename: temp.file }), /not a database/);
      const open = readdirSync("/proc/self/fd").filter((fd) => {
        try {
          return readlinkSync(`/proc/self/fd/${fd}`) === temp.file;
        } catch {
          return false; // closed between the listing and the look
        }
      });
      assert.deepEqual(open, []);
    } finally {
      temp.cleanup();
    }
  });
});
