import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { createOffload } from "../../src/index.js";
import type { QueueSummary } from "../../src/cli/source.js";
import type { StatsSummary } from "../../src/cli/queues-commands.js";
import { tempSqlite } from "../helpers.js";
import { killRunningClis, runCli } from "./cli-process.js";
import defineFixtureJobs from "./fixtures/echo-jobs.js";

describe("offload queues and offload stats (database mode)", () => {
  after(killRunningClis);

  it("lists queues, pauses and resumes one, and adds every queue up in stats", async (t) => {
    const db = tempSqlite("offload-cli-queues");
    const client = createOffload({ database: db.url, logger: false });
    defineFixtureJobs(client);
    t.after(async () => {
      await client.close();
      db.cleanup();
    });
    await client.enqueue("fixture.echo", { text: "a" });
    await client.enqueue("fixture.sleep", { ms: 1 }, { delay: "1h" });
    const env = { OFFLOAD_DATABASE: db.url };

    const paused = await runCli(["queues", "pause", "default"], { env });
    assert.equal(paused.code, 0, paused.stderr);
    assert.equal(paused.stdout, "Paused queue default: workers claim none of its jobs from now on; running jobs finish, and new jobs are still accepted.");
    assert.equal((await client.queueStats()).find((q) => q.queue === "default")?.paused, true);

    const listed = await runCli(["queues", "--json"], { env });
    assert.equal(listed.code, 0, listed.stderr);
    const { items } = JSON.parse(listed.stdout) as { items: QueueSummary[] };
    assert.equal(items.length, 1);
    assert.equal(items[0]!.queue, "default");
    assert.equal(items[0]!.paused, true);
    assert.deepEqual(items[0]!.counts, { cancelled: 0, completed: 0, failed: 0, queued: 1, running: 0, scheduled: 1 });

    const table = await runCli(["queues"], { env });
    const [header, row] = table.stdout.split("\n");
    assert.match(header!, /^QUEUE +STATE +SCHEDULED +QUEUED +RUNNING +COMPLETED +FAILED +CANCELLED +LAST MINUTE +LAST HOUR +OLDEST WAITING$/);
    assert.match(row!, /^default +paused +1 +1 +0 +0 +0 +0 +0 done, 0 failed +0 done, 0 failed +\d+(\.\d+)?m?s$/);

    const resumed = await runCli(["queues", "resume", "default", "--json"], { env });
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.deepEqual(JSON.parse(resumed.stdout), { paused: false, pausedAt: null, queue: "default" });

    const stats = await runCli(["stats", "--json"], { env });
    assert.equal(stats.code, 0, stats.stderr);
    const summary = JSON.parse(stats.stdout) as StatsSummary;
    assert.equal(summary.total, 2);
    assert.deepEqual(summary.pausedQueues, []);
    assert.equal(summary.queues, 1);
    assert.deepEqual(summary.lastMinute, { completed: 0, failed: 0, processed: 0 });
    assert.ok(summary.oldestQueuedAgeMs !== null && summary.oldestQueuedAgeMs >= 0);
  });

  it("exits 2 for a bad queue name, and for --token without --url", async () => {
    const badName = await runCli(["queues", "pause", "no spaces"]);
    assert.equal(badName.code, 2);
    assert.match(badName.stderr, /^error: command-argument value 'no spaces' is invalid for argument 'name'/);
    const token = await runCli(["stats", "--token", "k1"], { env: { OFFLOAD_URL: "" } });
    assert.equal(token.code, 2);
    assert.equal(token.stderr, "error: --token needs --url (or env OFFLOAD_URL): a token is for a server, not for a database");
  });
});
