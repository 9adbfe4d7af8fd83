import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { z } from "zod";
import { nextEvent, waitFor } from "../helpers.js";
import { gate, openOffload, recordEvents, whenAborted } from "./fixture.js";

const schema = z.object({ hold: z.boolean(), n: z.number() });

/**
 * A type whose jobs return at once, or (hold) wait for the test's gate or
 * their signal; records which jobs started and the most running at once.
 */
function defineProbe(offload: ReturnType<typeof openOffload>) {
  const held = gate();
  const started = new Set<string>();
  let running = 0;
  let maxRunning = 0;
  const type = offload.define("probe", { schema }, async ({ hold }, ctx) => {
    started.add(ctx.id);
    maxRunning = Math.max(maxRunning, ++running);
    try {
      if (hold) await Promise.race([held.promise, whenAborted(ctx.signal)]);
    } finally {
      running--;
    }
  });
  return { held, maxRunning: () => maxRunning, started, type };
}

async function countsOf(offload: ReturnType<typeof openOffload>) {
  return (await offload.queueStats()).find((q) => q.queue === "default")!.counts;
}

describe("prefetch", () => {
  it("claims short jobs ahead of its free slots, starts them from memory, and never runs more than the concurrency", async (t) => {
    const offload = openOffload(t);
    const probe = defineProbe(offload);
    await offload.start({ concurrency: 2 });
    // Short jobs first: the worker learns that this queue's jobs take no time.
    const quick = await probe.type.enqueueMany(Array.from({ length: 20 }, (_, n) => ({ hold: false, n })));
    await waitFor(async () => (await countsOf(offload)).completed === quick.length);

    const held = await probe.type.enqueueMany(Array.from({ length: 6 }, (_, n) => ({ hold: true, n })));
    // Two run; for jobs this short the other four are claimed ahead at once.
    await waitFor(async () => (await countsOf(offload)).running === 6 && probe.started.size === quick.length + 2, { message: "6 claimed, 2 started" });
    assert.equal((await countsOf(offload)).queued, 0);
    assert.equal(probe.maxRunning(), 2);

    // A job claimed ahead and cancelled ends cancelled without its handler ever running.
    const waiting = held.filter((j) => !probe.started.has(j.id));
    const victim = (await Promise.all(waiting.map((j) => offload.getJob(j.id)))).find((j) => j!.status === "running")!;
    const cancelled = nextEvent(offload, "job:cancelled", (e) => e.id === victim.id);
    await offload.cancel(victim.id);
    await cancelled;
    assert.equal((await offload.getJob(victim.id))!.status, "cancelled");
    assert.equal(probe.started.has(victim.id), false);

    // Shutdown gives back what waits in memory: queued again, its attempt refunded; the running ones too.
    await offload.stop({ grace: 0 });
    const after = await Promise.all(held.map((j) => offload.getJob(j.id)));
    for (const job of after) {
      if (job!.id === victim.id) continue;
      assert.equal(job!.status, "queued", `${job!.id} is back in its queue`);
      assert.equal(job!.attempt, 0);
    }
    assert.equal(probe.maxRunning(), 2);
    probe.held.open();
  });

  it("skips a job cancelled while claimed ahead when its turn comes, and runs the rest", async (t) => {
    const offload = openOffload(t);
    const probe = defineProbe(offload);
    await offload.start({ concurrency: 1 });
    const quick = await probe.type.enqueueMany(Array.from({ length: 20 }, (_, n) => ({ hold: false, n })));
    await waitFor(async () => (await countsOf(offload)).completed === quick.length);
    const events = recordEvents(offload, ["job:started"]);
    const [first, victim, last] = await probe.type.enqueueMany([0, 1, 2].map((n) => ({ hold: true, n })));
    await waitFor(async () => (await countsOf(offload)).running === 3 && probe.started.has(first!.id), { message: "all three claimed, the first started" });
    const cancelled = nextEvent(offload, "job:cancelled", (e) => e.id === victim!.id);
    await offload.cancel(victim!.id);
    await cancelled;
    probe.held.open();
    await waitFor(async () => (await offload.getJob(last!.id))!.status === "completed");
    assert.equal((await offload.getJob(first!.id))!.status, "completed");
    assert.equal((await offload.getJob(victim!.id))!.status, "cancelled");
    assert.equal(probe.started.has(victim!.id), false, "the cancelled job never ran");
    assert.deepEqual(
      events.map((e) => e.payload.id),
      [first!.id, last!.id],
      "no job:started for the cancelled job",
    );
    assert.equal(probe.maxRunning(), 1);
  });

  it("claims no more than its free slots while it knows nothing of the jobs' duration", async (t) => {
    const offload = openOffload(t);
    const probe = defineProbe(offload);
    await offload.start({ concurrency: 2 });
    const held = await probe.type.enqueueMany(Array.from({ length: 5 }, (_, n) => ({ hold: true, n })));
    await waitFor(() => probe.started.size === 2);
    assert.deepEqual(await countsOf(offload), { cancelled: 0, completed: 0, failed: 0, queued: 3, running: 2, scheduled: 0 });
    probe.held.open();
    await waitFor(async () => (await countsOf(offload)).completed === held.length);
    assert.equal(probe.maxRunning(), 2);
  });
});
