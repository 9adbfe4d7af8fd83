import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { z } from "zod";
import type { Offload } from "../../src/index.js";
import { waitFor } from "../helpers.js";
import { openOffload, openPgOffload } from "./fixture.js";

/**
 * Jobs claimed ahead wait in a line and start in claim order; a job of a
 * later claim must never take a free slot while earlier ones still wait.
 */
async function runInOrder(offload: Offload): Promise<void> {
  const started: number[] = [];
  const total = 120;
  const job = offload.define("ordered", { schema: z.object({ n: z.number() }) }, async ({ n }) => {
    started.push(n);
    // The first job takes 5 ms and the rest return at once: the prefetch starts at a handful of jobs
    // (20 ms / 5 ms) and grows, so the line is topped up by many claims while it runs low.
    if (n === total - 1) await new Promise((resolve) => setTimeout(resolve, 5));
  });
  // Priority n: claim order is descending n.
  for (let n = 0; n < total; n++) await job.enqueue({ n }, { priority: n });
  await offload.start({ concurrency: 1 });
  await waitFor(() => started.length === total, { message: "every job started", timeoutMs: 20_000 });
  assert.deepEqual(started, Array.from({ length: total }, (_, i) => total - 1 - i));
}

describe("the line of jobs claimed ahead", () => {
  it("SQLite: starts in claim order across claims (concurrency 1)", async (t) => {
    await runInOrder(openOffload(t));
  });
  it("PostgreSQL: starts in claim order across claims (concurrency 1)", async (t) => {
    await runInOrder(openPgOffload(t, "lineorder"));
  });
});
