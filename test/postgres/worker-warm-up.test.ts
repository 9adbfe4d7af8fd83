import assert from "node:assert/strict";
import { performance } from "node:perf_hooks";
import { describe, it } from "node:test";
import { pino } from "pino";
import { z } from "zod";
import { buildStatements } from "../../src/backends/postgres/statements.js";
import { createOffload } from "../../src/index.js";
import { TcpProxy } from "../chaos/fixtures/tcp-proxy.js";
import { newJob } from "../conformance/backend-conformance.js";
import { waitFor } from "../helpers.js";
import { openPgOffload } from "../offload/fixture.js";
import { PG_URL, recordStatements, tempPgSchema } from "../pg.js";

/**
 * A worker starting on PostgreSQL opens the connections its claims and acks
 * use, and has their statements planned, before its first claim: a new
 * connection costs the server about 15 ms of CPU and its first claim about
 * 14 ms more, which the first jobs would otherwise wait for.
 */
describe("PostgreSQL worker warm-up", () => {
  const sql = buildStatements("offload", 0);
  /** A statement's text with its process's statistics shard (random, see buildStatements) as in `sql`. */
  const unsharded = (text: string) => text.replaceAll(/(c\.now % 10000|SELECT e\.queue), \d+, /g, "$1, 0, ");

  it("opens the connections side by side and runs a claim of no job and an ack of none on each, changing no job", async (t) => {
    const offload = openPgOffload(t, "warm");
    const backend = await offload.backend();
    const jobs = [newJob({ queue: "q" }), newJob({ queue: "q" })];
    await backend.jobInsertMany({ jobs });
    const statements = recordStatements(t);

    await backend.workerWarmUp!({ connections: 3, deleteCompleted: true, queues: ["q", "other"] });

    const sent = statements.sent();
    assert.equal(statements.clients().size, 3, "three connections");
    for (const client of statements.clients()) {
      const own = sent.filter((s) => s.client === client);
      assert.deepEqual(
        own.map((s) => unsharded(s.text)),
        [sql.claim, sql.ackCompletedDeleting],
        "each connection planned the claim, then the ack the worker will send",
      );
      assert.deepEqual(own[0]!.values.slice(1, 3), [["q", "other"], [0, 0]], "the claim asks for no job of any queue");
      assert.equal(own[1]!.values[1], "[]", "the ack carries no job");
    }
    for (const job of jobs) {
      const stored = await backend.jobGet({ id: job.id });
      assert.equal(stored?.status, "queued");
      assert.equal(stored?.attempt, 0);
    }
  });

  it("keeps within the pool: never more connections than poolSize", async (t) => {
    const schema = tempPgSchema("warmpool");
    const offload = createOffload({ database: schema.url, logger: false, postgres: { poolSize: 2 } });
    t.after(async () => {
      await offload.close({ grace: 0 });
      await schema.cleanup();
    });
    const backend = await offload.backend();
    const statements = recordStatements(t);
    await backend.workerWarmUp!({ connections: 3, deleteCompleted: false, queues: ["q"] });
    assert.equal(statements.clients().size, 2);
    assert.deepEqual(new Set(statements.texts().map(unsharded)), new Set([sql.claim, sql.ackCompleted]));
  });

  it("start(): the worker's connections are ready before its first claim, and its first job runs", async (t) => {
    const offload = openPgOffload(t, "warmstart");
    const type = offload.define("warm.job", { schema: z.object({ n: z.number() }) }, async ({ n }) => n * 2);
    const statements = recordStatements(t);
    await offload.start({ concurrency: 5 });

    const claims = statements.sent().filter((s) => s.text === sql.claim);
    const warm = claims.filter((s) => (s.values[2] as number[]).every((limit) => limit === 0));
    // Claims share one connection and each outcome write in flight takes one (two at most).
    assert.equal(new Set(warm.map((s) => s.client)).size, 3, "three connections warmed");
    assert.deepEqual(claims.slice(0, warm.length), warm, "no claim for jobs went before the warm-up's");

    const completed = new Promise<unknown>((resolve) => offload.on("job:completed", (e) => resolve(e.result)));
    await type.enqueue({ n: 21 });
    assert.equal(await completed, 42);
  });

  it("start() does not wait on a database that does not answer: it gives up on the warm-up and claims as usual", { timeout: 30_000 }, async (t) => {
    const schema = tempPgSchema("warmhole");
    const target = new URL(PG_URL);
    const proxy = await TcpProxy.start({ host: target.hostname, port: Number(target.port || 5432) });
    const warnings: string[] = [];
    const logger = pino({ level: "warn" }, { write: (line: string) => void warnings.push((JSON.parse(line) as { msg: string }).msg) });
    // Migrated first, through the proxy while it forwards; then it swallows everything. Deadlines of
    // 3 s: longer than the warm-up's own 2 s, which start() must not wait past.
    const offload = createOffload({ database: `${proxy.url(schema.url)}&connectTimeoutMs=3000&queryTimeoutMs=3000`, logger });
    t.after(async () => {
      await proxy.forward();
      await offload.close({ grace: 0 });
      await proxy.close();
      await schema.cleanup();
    });
    offload.define("warm.job", { schema: z.object({}) }, async () => undefined);
    await offload.migrate();
    await proxy.blackhole();

    const started = performance.now();
    await offload.start({ concurrency: 1 });
    const ms = performance.now() - started;
    // The warm-up is given up on after 2 s; margin for a busy machine.
    assert.ok(ms < 2_900, `start() took ${Math.round(ms)} ms`);
    assert.ok(offload.workerId, "the worker runs");
    t.diagnostic(`start() returned after ${Math.round(ms)} ms`);
    // The warm-up is still waiting on the swallowed connections; once they time out it says so.
    await waitFor(() => warnings.some((m) => m.startsWith("could not ready the database connections")), { message: "the warm-up's warning" });
  });
});
