import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { v7 as uuidv7 } from "uuid";
import { PostgresBackend } from "../../src/backends/postgres/postgres-backend.js";
import type { JobInsert } from "../../src/backend/types.js";
import { waitFor } from "../helpers.js";
import { PG_URL, tempPgSchema } from "../pg.js";

function job(queue: string): JobInsert {
  return { id: uuidv7(), maxAttempts: 1, owner: null, payloadJson: "{}", priority: 0, queue, runAt: null, timeoutMs: null, type: "t", uniqueKey: null };
}

describe("PostgreSQL notifier", () => {
  it("whenListening: resolves at once with no LISTEN session being opened, else once the session is up", async () => {
    const backend = new PostgresBackend({ connectionString: PG_URL, poolSize: 1 });
    try {
      const started = Date.now();
      await backend.notifier.whenListening(5_000);
      assert.equal(backend.notifier.listening, false, "nobody subscribed: no session, nothing to wait for");
      assert.ok(Date.now() - started < 1_000);
      const unsubscribe = backend.notifier.onJobsReady(() => undefined);
      assert.equal(backend.notifier.listening, false, "the session opens in the background");
      const waited = Date.now();
      await backend.notifier.whenListening(5_000);
      assert.equal(backend.notifier.listening, true);
      assert.ok(Date.now() - waited < 2_500, "it resolved as the session came up, not at its timeout");
      unsubscribe();
    } finally {
      await backend.close();
    }
  });

  it("wakes its subscribers once connected, then hears jobs made ready by other sessions, not its own process's (which woke its workers directly)", async () => {
    const temp = tempPgSchema("notifier");
    const mine = new PostgresBackend({ connectionString: PG_URL, poolSize: 2, schema: temp.schema });
    const theirs = new PostgresBackend({ connectionString: PG_URL, poolSize: 2, schema: temp.schema });
    try {
      await mine.migrate();
      const heard: (string | null)[] = [];
      let onOther: () => void = () => undefined;
      const other = new Promise<void>((resolve) => (onOther = resolve));
      const unsubscribe = mine.notifier.onJobsReady((queue) => {
        heard.push(queue);
        if (queue === "other") onOther();
      });
      await waitFor(() => mine.notifier.listening, { message: "the LISTEN connection" });
      await mine.jobInsertMany({ jobs: [job("own")] });
      // Notifications arrive in commit order: had its own been delivered, it would be heard before this one.
      await theirs.jobInsertMany({ jobs: [job("other")] });
      await other;
      // null: the wake-up every subscriber gets once the listener is connected.
      assert.deepEqual(heard, [null, "other"]);
      unsubscribe();
    } finally {
      await mine.close();
      await theirs.close();
      await temp.cleanup();
    }
  });
});
