/**
 * The PostgreSQL engine's steady state, statement by statement: what one
 * claim cycle costs the server and Node, and how it drifts as a run goes on.
 *
 *   node --import tsx bench/pg-statements.ts [--jobs 50000] [--batch 50] [--windows 5]
 *        [--pg-options="-c plan_cache_mode=force_generic_plan"] [--vacuum-every N] [--analyze] [--plans]
 *
 * In a fresh schema (dropped afterwards): enqueues a backlog (enqueueMany of
 * 1,000), then drives the engine through the storage seam exactly as the
 * worker's claim loop does with no-op jobs, without the worker around it: one
 * jobAckAndClaim per cycle, acking the previous cycle's jobs as completed and
 * claiming `batch` more. Per window of jobs it prints cycles/s, wall time per
 * cycle, and CPU per job of the server backends of this connection pool
 * (/proc/<pid>/schedstat) and of this Node process.
 *
 * Half-way it captures the statements the engine sent (by watching pg's
 * Client.query) and runs EXPLAIN (ANALYZE, BUFFERS) of each as a pooled
 * connection would: PREPAREd, executed 5 times first so that the plan cache
 * makes its custom-or-generic choice, all in a transaction rolled back. It
 * prints planning and execution time (the whole plans with --plans).
 *
 * --vacuum-every N runs VACUUM on the table every N cycles (untimed, on another
 * connection), as autovacuum would; --analyze runs ANALYZE after loading (a
 * fresh table has no statistics until autovacuum gets to it, and autovacuum
 * is off on some servers, this project's among them).
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import type PgModule from "pg";
import { z } from "zod";
import type { ClaimedJob, JobAck } from "../src/backend/types.js";
import { createOffload } from "../src/index.js";

// The pg that Offload's engine loads (the repository root's), not bench/'s own copy (installed
// for the peers): the statement capture below patches its Client.
const pg = createRequire(new URL("../src/index.ts", import.meta.url))("pg") as typeof PgModule;
type PgClient = PgModule.Client;

const PG_URL = process.env.OFFLOAD_BENCH_PG_URL ?? process.env.OFFLOAD_TEST_PG_URL ?? "postgres://postgres@127.0.0.1:5432/test";

const { values } = parseArgs({
  options: {
    analyze: { type: "boolean", default: false },
    batch: { type: "string", default: "50" },
    jobs: { type: "string", default: "50000" },
    "pg-options": { type: "string" },
    plans: { type: "boolean", default: false },
    "vacuum-every": { type: "string", default: "0" },
    windows: { type: "string", default: "5" },
  },
});
const JOBS = Number(values.jobs);
const BATCH = Number(values.batch);
const WINDOWS = Number(values.windows);
const VACUUM_EVERY = Number(values["vacuum-every"]);

/** Statements the engine sent, by prepared-statement name: the latest text and parameters of each. */
const captured = new Map<string, { text: string; values: unknown[] }>();
let capturing = false;
const clientQuery = pg.Client.prototype.query;
pg.Client.prototype.query = function (this: PgClient, ...args: unknown[]) {
  const config = args[0] as { name?: string; text?: string; values?: unknown[] } | string;
  if (capturing && typeof config === "object" && config?.name && config.text) captured.set(config.name, { text: config.text, values: config.values ?? [] });
  return (clientQuery as (...a: unknown[]) => unknown).apply(this, args);
} as typeof pg.Client.prototype.query;

function cpuNs(pid: number): number {
  try {
    return Number(readFileSync(`/proc/${pid}/schedstat`, "utf8").split(" ")[0]);
  } catch {
    return 0;
  }
}

/** A literal for EXPLAIN ... EXECUTE: the parameters as pg would send them, quoted. */
function literal(value: unknown): string {
  if (value === null || value === undefined) return "NULL";
  const text = Array.isArray(value) ? arrayLiteral(value) : typeof value === "object" ? JSON.stringify(value) : String(value);
  return `'${text.replaceAll("'", "''")}'`;
}

function arrayLiteral(items: unknown[]): string {
  return `{${items.map((v) => (v === null ? "NULL" : `"${String(v).replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`)).join(",")}}`;
}

async function main(): Promise<void> {
  const schema = `offload_bench_stmt_${randomBytes(5).toString("hex")}`;
  const url = new URL(PG_URL);
  url.searchParams.set("schema", schema);
  url.searchParams.set("application_name", schema);
  if (values["pg-options"]) url.searchParams.set("options", values["pg-options"]);
  const observer = new pg.Client({ application_name: "offload_bench_observer", connectionString: PG_URL });
  await observer.connect();
  const offload = createOffload({ database: url.toString(), logger: false });
  const noop = offload.define("bench.noop", { schema: z.object({ i: z.number().int() }) }, async () => undefined);
  try {
    const t0 = performance.now();
    for (let done = 0; done < JOBS; done += 1_000) await noop.enqueueMany(Array.from({ length: Math.min(1_000, JOBS - done) }, (_, k) => ({ i: done + k })));
    if (values.analyze) await observer.query(`ANALYZE "${schema}".jobs`);
    process.stdout.write(
      `${JOBS.toLocaleString("en")} jobs enqueued in ${((performance.now() - t0) / 1000).toFixed(1)} s; claim batch ${BATCH}` +
        `${values["pg-options"] ? `; server options ${values["pg-options"]}` : ""}${VACUUM_EVERY ? `; VACUUM every ${VACUUM_EVERY} cycles (untimed)` : ""}` +
        `${values.analyze ? "; ANALYZE after loading" : ""}\n`,
    );
    const backend = await offload.backend();
    const pids = async () =>
      (await observer.query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE application_name = $1", [schema])).rows.map((r) => r.pid);
    const claim = { leaseMs: 30_000, queues: [{ limit: BATCH, queue: "default" }], workerId: "bench/pg-statements" };
    let previous: ClaimedJob[] = await backend.jobClaim(claim);
    let done = 0;
    let cycles = 0;
    const window = Math.max(BATCH, Math.floor(JOBS / WINDOWS));
    let explained = false;
    process.stdout.write("jobs done        cycles/s  jobs/s   wall/cycle  PG CPU/job  Node CPU/job\n");
    while (previous.length > 0) {
      const servers = await pids();
      const pg0 = servers.reduce((s, p) => s + cpuNs(p), 0);
      const node0 = process.cpuUsage();
      const w0 = performance.now();
      let windowCycles = 0;
      let windowJobs = 0;
      let wallMs = 0;
      let vacuumMs = 0;
      while (previous.length > 0 && windowJobs < window) {
        const acks: JobAck[] = previous.map((c) => ({ id: c.id, leaseToken: c.leaseToken, outcome: "completed", resultJson: "null" }));
        capturing = !explained && done >= JOBS / 2;
        const c0 = performance.now();
        const { claimed } = await backend.jobAckAndClaim({ acks, claim });
        wallMs += performance.now() - c0;
        capturing = false;
        windowJobs += acks.length;
        done += acks.length;
        windowCycles++;
        cycles++;
        previous = claimed;
        if (VACUUM_EVERY > 0 && cycles % VACUUM_EVERY === 0) {
          // Untimed, on another connection: what autovacuum would do in the background (it is off on some servers).
          const v0 = performance.now();
          await observer.query(`VACUUM "${schema}".jobs`);
          vacuumMs += performance.now() - v0;
        }
        if (!explained && captured.size > 0) {
          explained = true;
          await explain(observer, done);
          break;
        }
      }
      const elapsed = performance.now() - w0 - vacuumMs;
      const pgMs = ((await pids()).reduce((s, p) => s + cpuNs(p), 0) - pg0) / 1e6;
      const node = process.cpuUsage(node0);
      if (windowJobs === 0) continue;
      process.stdout.write(
        `${String(done).padStart(9)}  ${(windowCycles / (elapsed / 1000)).toFixed(0).padStart(10)}  ${(windowJobs / (elapsed / 1000)).toFixed(0).padStart(7)}` +
          `  ${(wallMs / windowCycles).toFixed(2).padStart(7)} ms  ${((1000 * pgMs) / windowJobs).toFixed(1).padStart(7)} µs  ${((node.user + node.system) / windowJobs).toFixed(1).padStart(9)} µs\n`,
      );
    }
  } finally {
    await offload.close();
    await observer.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await observer.end();
  }
}

/** EXPLAIN (ANALYZE, BUFFERS) of each captured statement, as a pooled connection would have planned it; rolled back. */
async function explain(client: PgClient, done: number): Promise<void> {
  process.stdout.write(`--- statements of the cycle at ${done.toLocaleString("en")} jobs done (EXPLAIN ANALYZE after 5 executions, rolled back)\n`);
  await client.query("BEGIN");
  try {
    // The engine's pool plans every statement generically (PostgresBackend's pool options).
    await client.query("SET LOCAL plan_cache_mode = force_generic_plan");
    if (values["pg-options"]) {
      // Same session settings as the engine's connections (only `-c name=value` pairs are understood here).
      for (const [, name, value] of values["pg-options"].matchAll(/-c\s*([a-z_.]+)=(\S+)/g)) await client.query(`SET LOCAL ${name} = '${value}'`);
    }
    for (const [name, { text, values: params }] of captured) {
      await client.query(`PREPARE bench_${name} AS ${text}`);
      const args = params.map(literal).join(", ");
      for (let i = 0; i < 5; i++) {
        await client.query("SAVEPOINT s");
        await client.query(`EXECUTE bench_${name}(${args})`);
        await client.query("ROLLBACK TO SAVEPOINT s");
      }
      const { rows } = await client.query<{ "QUERY PLAN": string }>(`EXPLAIN (ANALYZE, BUFFERS) EXECUTE bench_${name}(${args})`);
      const lines = rows.map((r) => r["QUERY PLAN"]);
      const first = text.trim().split("\n")[0]!.trim().slice(0, 60);
      const times = lines.filter((l) => /^(Planning|Execution) Time/.test(l.trim())).map((l) => l.trim());
      const buffers = lines.find((l) => /Buffers:/.test(l))?.trim() ?? "";
      process.stdout.write(`${name} (${first}...): ${times.join(", ")}; top node ${buffers}\n`);
      if (values.plans) process.stdout.write(`${lines.map((l) => `    ${l}`).join("\n")}\n`);
    }
  } finally {
    await client.query("ROLLBACK");
  }
  process.stdout.write("---\n");
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
