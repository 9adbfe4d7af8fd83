import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { after, describe, it } from "node:test";
import { z } from "zod";
import { POSTGRES_MIGRATIONS } from "../../src/backends/postgres/migrations.js";
import { createOffload } from "../../src/index.js";
import type { MigrateChildMessage } from "../chaos/fixtures/migrate-child.js";
import { rejectsWithCode } from "../offload/fixture.js";
import { tempPgSchema, withPg } from "../pg.js";

const CHILD = new URL("../chaos/fixtures/migrate-child.ts", import.meta.url).pathname;
const NEWEST = Math.max(...POSTGRES_MIGRATIONS.map((m) => m.version));
const children = new Set<ChildProcess>();

/** Starts a migrate-child; `next()` resolves with its next message, rejecting if it exits first or at the deadline. */
function startChild(database: string, action: "migrate" | "start") {
  const child = spawn(process.execPath, ["--import", "tsx", CHILD, JSON.stringify({ action, database })], {
    env: { ...process.env, OFFLOAD_LOG_LEVEL: "silent" },
    stdio: ["ignore", "pipe", "pipe", "ipc"],
  });
  children.add(child);
  let output = "";
  child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const inbox: MigrateChildMessage[] = [];
  let wake: (() => void) | null = null;
  let exited = false;
  child.on("message", (message: MigrateChildMessage) => {
    inbox.push(message);
    wake?.();
  });
  child.on("exit", () => {
    exited = true;
    children.delete(child);
    wake?.();
  });
  return {
    go: () => child.send({ type: "go" }),
    next: (timeoutMs = 30_000) =>
      new Promise<MigrateChildMessage>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`migrate child ${child.pid}: no message within ${timeoutMs} ms. Output:\n${output}`)), timeoutMs);
        const check = () => {
          const message = inbox.shift();
          if (message) {
            clearTimeout(timer);
            wake = null;
            resolve(message);
          } else if (exited) {
            clearTimeout(timer);
            reject(new Error(`migrate child ${child.pid} exited without a message. Output:\n${output}`));
          }
        };
        wake = check;
        check();
      }),
  };
}

function killChildren(): void {
  for (const child of children) child.kill("SIGKILL");
}

async function migrationRows(schema: string): Promise<{ checksum: string; version: number }[]> {
  return withPg(async (client) => (await client.query(`SELECT version, checksum FROM "${schema}".migrations ORDER BY version`)).rows);
}

describe("PostgreSQL migrations", () => {
  after(killChildren);

  it("five processes starting at once on an empty schema all succeed, and each migration is applied once", { timeout: 60_000 }, async (t) => {
    const pg = tempPgSchema("migrate");
    try {
      const processes = Array.from({ length: 5 }, () => startChild(pg.url, "migrate"));
      // Each child has loaded its code and opened nothing: on "go" they all reach the empty schema together.
      for (const p of processes) assert.deepEqual(await p.next(), { type: "ready" });
      for (const p of processes) p.go();
      const results = await Promise.all(processes.map((p) => p.next()));
      for (const result of results) assert.equal(result.type, "done", JSON.stringify(result));
      const done = results as Extract<MigrateChildMessage, { type: "done" }>[];
      t.diagnostic(`migrate() per process: ${done.map((d) => `${Math.round(d.ms)} ms${d.status.applied.length ? ` (applied ${d.status.applied.join(", ")})` : ""}`).join("; ")}`);

      const appliers = done.filter((d) => d.status.applied.length > 0);
      assert.equal(appliers.length, 1, `exactly one process applied migrations: ${JSON.stringify(done.map((d) => d.status))}`);
      assert.deepEqual(appliers[0]!.status.applied, POSTGRES_MIGRATIONS.map((m) => m.version).sort((a, b) => a - b));
      for (const d of done) assert.equal(d.status.version, NEWEST);
      const rows = await migrationRows(pg.schema);
      assert.deepEqual(rows.map((r) => r.version), POSTGRES_MIGRATIONS.map((m) => m.version).sort((a, b) => a - b), "one row per migration");

      // And the schema they made works.
      const offload = createOffload({ database: pg.url, logger: false, postgres: { poolSize: 1 } });
      try {
        const job = await offload.define("noop", { schema: z.object({}) }, async () => null).enqueue({});
        assert.equal((await offload.getJob(job.id))?.status, "queued");
      } finally {
        await offload.close();
      }
    } finally {
      killChildren();
      await pg.cleanup();
    }
  });

  it("a process whose code is older than the database refuses to start, and changes nothing", { timeout: 60_000 }, async () => {
    const pg = tempPgSchema("migrate_newer");
    try {
      const setup = createOffload({ database: pg.url, logger: false, postgres: { poolSize: 1 } });
      await setup.migrate();
      await setup.close();
      await withPg((client) =>
        client.query(`INSERT INTO "${pg.schema}".migrations (version, name, checksum) VALUES ($1, 'from a newer release', 'unknown')`, [NEWEST + 1]),
      );
      const before = await migrationRows(pg.schema);

      const worker = startChild(pg.url, "start");
      assert.deepEqual(await worker.next(), { type: "ready" });
      worker.go();
      const refused = await worker.next();
      assert.equal(refused.type, "failed");
      const { code, message } = refused as Extract<MigrateChildMessage, { type: "failed" }>;
      assert.equal(code, "OFFLOAD_ERR_MIGRATION", message);
      assert.match(message, new RegExp(`schema is at version ${NEWEST + 1}, newer than this version of Offload knows \\(${NEWEST}\\)`));
      assert.match(message, /Upgrade Offload/);

      // In this process too, every entry point refuses.
      const offload = createOffload({ database: pg.url, logger: false, postgres: { poolSize: 1 } });
      const noop = offload.define("noop", { schema: z.object({}) }, async () => null);
      try {
        await rejectsWithCode(offload.migrate(), "OFFLOAD_ERR_MIGRATION", `version ${NEWEST + 1}`);
        await rejectsWithCode(noop.enqueue({}), "OFFLOAD_ERR_MIGRATION");
        await rejectsWithCode(offload.start(), "OFFLOAD_ERR_MIGRATION");
      } finally {
        await offload.close();
      }
      assert.deepEqual(await migrationRows(pg.schema), before, "the migration history is untouched");
    } finally {
      killChildren();
      await pg.cleanup();
    }
  });

  it("refuses a database whose recorded migration differs from the code's (checksum)", async () => {
    const pg = tempPgSchema("migrate_sum");
    try {
      const setup = createOffload({ database: pg.url, logger: false, postgres: { poolSize: 1 } });
      await setup.migrate();
      await setup.close();
      await withPg((client) => client.query(`UPDATE "${pg.schema}".migrations SET checksum = 'edited by hand' WHERE version = 1`));
      const offload = createOffload({ database: pg.url, logger: false, postgres: { poolSize: 1 } });
      try {
        await rejectsWithCode(offload.migrate(), "OFFLOAD_ERR_MIGRATION", "Migration 1", "checksum");
      } finally {
        await offload.close();
      }
    } finally {
      await pg.cleanup();
    }
  });

  it("has the jobs table vacuumed early (a queue table's dead claim-index entries slow claims)", async () => {
    const pg = tempPgSchema("migrate_vacuum");
    try {
      const offload = createOffload({ database: pg.url, logger: false, postgres: { poolSize: 1 } });
      await offload.migrate();
      await offload.close();
      const { rows } = await withPg((client) => client.query<{ reloptions: string[] }>(`SELECT reloptions FROM pg_class WHERE oid = '"${pg.schema}".jobs'::regclass`));
      assert.ok(rows[0]!.reloptions.includes("autovacuum_vacuum_scale_factor=0.01"), String(rows[0]!.reloptions));
      assert.ok(rows[0]!.reloptions.includes("autovacuum_vacuum_threshold=1000"));
    } finally {
      await pg.cleanup();
    }
  });
});
