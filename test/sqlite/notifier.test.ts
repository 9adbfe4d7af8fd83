import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { z } from "zod";
import { createOffload } from "../../src/index.js";
import { nextEvent, tempSqlite } from "../helpers.js";

describe("SQLite wake-ups across connections", () => {
  it("wakes an idle worker on another connection when a job is committed, without waiting for its poll", async (t) => {
    const db = tempSqlite("offload-notifier");
    // The worker's safety-net poll is 10 minutes and its claim poll 10 minutes: only the WAL watch can wake it in time.
    const worker = createOffload({ database: `${db.url}?notifyPollMs=600000`, logger: false });
    const enqueuer = createOffload({ database: db.url, logger: false });
    t.after(async () => {
      await worker.close({ grace: 0 });
      await enqueuer.close({ grace: 0 });
      db.cleanup();
    });
    const schema = z.object({ n: z.number() });
    worker.define("task", { schema }, async ({ n }) => n);
    const type = enqueuer.define("task", { schema }, async ({ n }) => n);
    await enqueuer.migrate();
    await worker.start({ concurrency: 1, pollInterval: "10m" });
    for (let n = 0; n < 3; n++) {
      const completed = nextEvent(worker, "job:completed", undefined, 5_000);
      const job = await type.enqueue({ n });
      assert.equal((await completed).id, job.id);
    }
  });
});
