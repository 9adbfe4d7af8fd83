import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createOffload, type EnqueuedJob, type JobView } from "../../src/index.js";
import { tempSqlite } from "../helpers.js";
import { killRunningClis, runCli, spawnCli, type CliProcess } from "./cli-process.js";

describe("offload enqueue (database mode)", () => {
  const db = tempSqlite("offload-cli-enqueue");
  const env = { OFFLOAD_DATABASE: db.url };
  let worker: CliProcess;

  before(async () => {
    worker = spawnCli(["start", "--no-demo", "--concurrency", "4"], { env });
    await worker.waitForLine(/^Worker running/);
  });

  after(async () => {
    worker.child.kill("SIGINT");
    await worker.waitForExit().catch(() => undefined);
    killRunningClis();
    db.cleanup();
  });

  it("--watch shows the progress bar of a running demo job and ends in a summary line", async () => {
    const result = await runCli(["enqueue", "demo.transcribe", '{"minutes":0.03}', "--watch"], { env });
    assert.equal(result.code, 0, result.stderr);
    const lines = result.stdout.split("\n");
    assert.match(lines[0]!, /^Enqueued demo\.transcribe job [0-9a-f-]{36} in queue media: queued\. Watching it; Ctrl-C stops watching, not the job\.$/);
    // Not a terminal here: a line per change, each with the time, status, attempt and progress.
    assert.ok(
      lines.some((l) => /^\d\d:\d\d:\d\d {2}running {2}attempt 1\/3 {2}▮{3}▯{7} 33% {2}1\/3 {2}transcribing 0:01 \/ 0:02$/.test(l)),
      result.stdout,
    );
    assert.match(lines.at(-2)!, /^\d\d:\d\d:\d\d {2}completed {2}attempt 1\/3 {2}▮{10} 100% {2}3\/3 {2}transcribing 0:02 \/ 0:02$/);
    assert.match(lines.at(-1)!, /^completed {2}in \d+(\.\d+)?m?s {2}attempt 1 of 3 {2}→ \{"segments":3,"transcriptPath":"transcripts\/[0-9a-f-]{36}\.txt","words":35\}$/);
  });

  it("--watch --json prints the finished job, and exits 1 with an error line when it failed", async () => {
    const result = await runCli(["enqueue", "demo.flaky", '{"failures":1}', "--attempts", "1", "--watch", "--json"], { env });
    assert.equal(result.code, 1);
    const job = JSON.parse(result.stdout) as JobView;
    assert.equal(job.status, "failed");
    assert.equal(job.attempt, 1);
    assert.equal(job.maxAttempts, 1);
    assert.equal(job.error?.code, "service_unavailable");
    assert.equal(result.stderr, `error: job ${job.id} ended failed`);
  });

  it("--json prints the enqueued job with its options, and a repeated unique key returns the same job", async () => {
    const args = ["enqueue", "demo.export", '{"files":2}', "--json", "--delay", "1h", "--priority", "-5", "--unique-key", "nightly", "--owner", "user-42"];
    const first = await runCli(args, { env });
    assert.equal(first.code, 0, first.stderr);
    const job = JSON.parse(first.stdout) as EnqueuedJob;
    assert.deepEqual([job.type, job.status, job.priority, job.owner, job.uniqueKey, job.deduplicated], ["demo.export", "scheduled", -5, "user-42", "nightly", false]);
    assert.ok(Date.parse(job.runAt) - Date.parse(job.createdAt) >= 3_599_000);

    const again = await runCli(args.filter((a) => a !== "--json"), { env });
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.stdout, `Not enqueued again: job ${job.id} (demo.export) has the same unique key and is still scheduled.`);
  });

  it("refuses a payload the job type's schema rejects, an unknown type and bad arguments, storing nothing", async () => {
    const client = createOffload({ database: db.url, logger: false });
    const count = async () => (await client.listJobs({ limit: 500 })).items.length;
    const before = await count();

    const invalid = await runCli(["enqueue", "demo.transcribe", '{"minutes":-1}'], { env });
    assert.equal(invalid.code, 1);
    assert.match(invalid.stderr, /^error: Invalid payload of job type "demo\.transcribe": payload\.minutes: /);

    const unknown = await runCli(["enqueue", "demo.nope", "{}"], { env });
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /^error: Unknown job type "demo\.nope": defined types are "demo\.export", "demo\.flaky", "demo\.timeout", "demo\.transcribe"$/);

    const badJson = await runCli(["enqueue", "demo.export", "{files:2}"], { env });
    assert.equal(badJson.code, 2);
    assert.match(badJson.stderr, /^error: command-argument value '\{files:2\}' is invalid for argument 'json'\. expected JSON/);

    const both = await runCli(["enqueue", "demo.export", "{}", "--delay", "1s", "--run-at", "2030-01-01T00:00:00Z"], { env });
    assert.equal(both.code, 2);
    assert.match(both.stderr, /cannot be used with option/);

    assert.equal(await count(), before);
    await client.close();
  });
});
