import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { z } from "zod";
import type { Offload } from "../../src/index.js";
import { waitFor } from "../helpers.js";
import { openOffload, openPgOffload } from "./fixture.js";

/**
 * Makes every claim of `offload`'s engine answer `delayMs` late (a busy
 * database) and counts the claims in flight at once. The claims themselves
 * are the engine's own.
 */
async function slowClaims(offload: Offload, delayMs: number): Promise<{ maxInFlight: () => number }> {
  const backend = await offload.backend();
  const claim = backend.jobClaim.bind(backend);
  const ackAndClaim = backend.jobAckAndClaim.bind(backend);
  let inFlight = 0;
  let maxInFlight = 0;
  const delayed = async <T>(run: () => Promise<T>): Promise<T> => {
    maxInFlight = Math.max(maxInFlight, ++inFlight);
    try {
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      return await run();
    } finally {
      inFlight--;
    }
  };
  backend.jobClaim = (params) => delayed(() => claim(params));
  backend.jobAckAndClaim = (params) => delayed(() => ackAndClaim(params));
  return { maxInFlight: () => maxInFlight };
}

/** Runs 1,500 no-op jobs at concurrency 4 with claims answering 20 ms late; returns what was seen. */
async function runThrough(offload: Offload) {
  let running = 0;
  let maxRunning = 0;
  const runs = new Map<number, number>();
  // Returns at once: a line of such jobs settles in one chain of microtasks, which must not keep the
  // next claim from leaving until the line is empty.
  const type = offload.define("quick", { schema: z.object({ n: z.number() }) }, async ({ n }) => {
    maxRunning = Math.max(maxRunning, ++running);
    runs.set(n, (runs.get(n) ?? 0) + 1);
    running--;
  });
  await offload.migrate();
  const probe = await slowClaims(offload, 20);
  const total = 1_500;
  for (let n = 0; n < total; n += 500) await type.enqueueMany(Array.from({ length: 500 }, (_, i) => ({ n: n + i })));
  await offload.start({ concurrency: 4 });
  await waitFor(async () => (await offload.queueStats()).find((q) => q.queue === "default")!.counts.completed === total, {
    message: "every job completed",
    timeoutMs: 30_000,
  });
  await offload.stop({ grace: 1_000 });
  return { maxInFlight: probe.maxInFlight(), maxRunning, runs, total };
}

describe("claims in flight", () => {
  it("PostgreSQL: a second claim tops up the line while the first is in the database, never a third, and every job runs once within the concurrency", async (t) => {
    const offload = openPgOffload(t, "pipeline");
    const seen = await runThrough(offload);
    assert.equal(seen.maxInFlight, 2);
    assert.ok(seen.maxRunning <= 4, `at most 4 handlers at once, saw ${seen.maxRunning}`);
    assert.equal(seen.runs.size, seen.total);
    for (const [n, count] of seen.runs) assert.equal(count, 1, `job ${n} ran ${count} times`);
  });

  it("SQLite: one claim at a time (a single writer), with every job run once within the concurrency", async (t) => {
    const offload = openOffload(t);
    const seen = await runThrough(offload);
    assert.equal(seen.maxInFlight, 1);
    assert.ok(seen.maxRunning <= 4, `at most 4 handlers at once, saw ${seen.maxRunning}`);
    assert.equal(seen.runs.size, seen.total);
    for (const [n, count] of seen.runs) assert.equal(count, 1, `job ${n} ran ${count} times`);
  });

  for (const engine of ["PostgreSQL", "SQLite"] as const) {
    it(`${engine}: a failed claim is retried after its backoff, not at the next poll`, async (t) => {
      const offload = engine === "PostgreSQL" ? openPgOffload(t, "claimretry") : openOffload(t);
      const type = offload.define("once", { schema: z.object({}) }, async () => "ran");
      await offload.migrate();
      const backend = await offload.backend();
      const claim = backend.jobClaim.bind(backend);
      let armed = false;
      let failures = 0;
      let settledClaims = 0;
      backend.jobClaim = async (params) => {
        try {
          if (armed) {
            armed = false;
            failures++;
            throw new Error("database briefly out of reach");
          }
          return await claim(params);
        } finally {
          settledClaims++;
        }
      };
      // Polls every 10 minutes: only the retry after the failed claim can find the job in time.
      await offload.start({ concurrency: 1, pollInterval: "10m" });
      await waitFor(() => settledClaims > 0, { message: "the worker's first claim" });
      // A delayed job is not handed over at enqueue: its due-time wake-up claims it, and that claim fails.
      armed = true;
      const job = await type.enqueue({}, { delay: 50 });
      await waitFor(async () => (await offload.getJob(job.id))?.status === "completed", { message: "the job completed after the retried claim", timeoutMs: 5_000 });
      assert.equal(failures, 1);
    });
  }
});
