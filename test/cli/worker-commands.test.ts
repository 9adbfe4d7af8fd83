import assert from "node:assert/strict";
import { after, afterEach, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { createOffload, type Offload } from "../../src/index.js";
import { tempSqlite, waitFor } from "../helpers.js";
import { killRunningClis, runCli, spawnCli } from "./cli-process.js";
import defineFixtureJobs from "./fixtures/echo-jobs.js";

const FIXTURES = fileURLToPath(new URL("./fixtures/", import.meta.url));

describe("offload start and offload worker", () => {
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    killRunningClis();
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  after(killRunningClis);

  /** A temp database and a client on it that knows the fixture job types (it enqueues; it runs nothing). */
  function fixture(): { client: Offload; url: string } {
    const db = tempSqlite("offload-cli");
    const client = createOffload({ database: db.url, logger: false });
    defineFixtureJobs(client);
    cleanups.push(db.cleanup, () => client.close());
    return { client, url: db.url };
  }

  it("runs a job enqueued by another process, with start --no-demo --jobs <module relative to the cwd>", async () => {
    const { client, url } = fixture();
    const cli = spawnCli(["start", "--no-demo", "--jobs", "./echo-jobs.ts"], { cwd: FIXTURES, env: { OFFLOAD_DATABASE: url } });
    await cli.waitForLine(/^Worker running/);
    assert.ok(cli.stdout.some((l) => /job types +demo\.export, .*fixture\.echo, fixture\.sleep/.test(l)));

    const job = await client.enqueue("fixture.echo", { text: "hello" });
    const completed = await cli.waitForLine(new RegExp(`fixture\\.echo .* completed .*"echoed":"hello"`));
    assert.match(completed, /^\d\d:\d\d:\d\d {2}fixture\.echo/);
    assert.equal((await client.getJob(job.id))?.status, "completed");
    assert.equal((await client.listJobs()).items.length, 1, "--no-demo enqueues no demo job");

    cli.child.kill("SIGINT");
    await cli.waitForLine(/^Stopped\.$/);
    assert.equal(await cli.waitForExit(), 0);
  });

  it("prints the demo jobs' progress and the demo export's result as they happen, and releases a running job on SIGINT", async () => {
    const { client, url } = fixture();
    const cli = spawnCli(["start", "--grace", "200ms"], { env: { OFFLOAD_DATABASE: url } });
    await cli.waitForLine(/demo\.export +\S+ +enqueued /);
    const progress = await cli.waitForLine(/demo\.export +\S+ +[▮▯]{10} \d+(\.\d)?% +\d+\/12 +added notes-\d\d\.pdf$/);
    assert.ok(progress);
    await cli.waitForLine(/demo\.export +\S+ +completed +in [\d.]+m?s +→ \{"bytes":\d+,"files":12,"path":"exports\/.+\.zip"\}$/);
    await cli.waitForLine(/demo\.transcribe +\S+ +[▮▯]{10} \d+% +\d+\/50 +transcribing/);

    cli.child.kill("SIGINT");
    await cli.waitForLine(/^SIGINT: stopping\. No new jobs are claimed/);
    await cli.waitForLine(/demo\.transcribe +\S+ +released: back to queued/);
    assert.equal(await cli.waitForExit(), 0);
    const [transcribe] = (await client.listJobs({ type: "demo.transcribe" })).items;
    assert.equal(transcribe?.status, "queued");
    assert.equal(transcribe?.attempt, 0, "a released attempt is not counted");
  });

  it("enqueues no second set of demo jobs on a restart while the first is unfinished", async () => {
    const { client, url } = fixture();
    const first = spawnCli(["start", "--grace", "0ms"], { env: { OFFLOAD_DATABASE: url } });
    await first.waitForLine(/demo\.transcribe +\S+ +started/);
    first.child.kill("SIGINT");
    assert.equal(await first.waitForExit(), 0);

    const second = spawnCli(["start", "--grace", "0ms"], { env: { OFFLOAD_DATABASE: url } });
    await second.waitForLine(/demo\.transcribe +\S+ +not enqueued again: the demo job of an earlier start is still (queued|running)/);
    await second.waitForLine(/^Worker running/);
    assert.equal((await client.listJobs({ type: "demo.transcribe" })).items.length, 1);
    second.child.kill("SIGINT");
    assert.equal(await second.waitForExit(), 0);
  });

  it("exits at once on a second SIGINT while it waits for running jobs", async () => {
    const { client, url } = fixture();
    const cli = spawnCli(["worker", "--jobs", `${FIXTURES}echo-jobs.ts`, "--grace", "60s"], { env: { OFFLOAD_DATABASE: url } });
    await cli.waitForLine(/^Worker running/);
    await client.enqueue("fixture.sleep", { ms: 60_000 });
    await cli.waitForLine(/fixture\.sleep +\S+ +started/);
    cli.child.kill("SIGINT");
    const stoppingAt = Date.now();
    await cli.waitForLine(/^SIGINT: stopping\. .*the running job gets up to 1m to finish/);
    // Repeats within 500 ms count as the same Ctrl-C (npm forwards it too); the clock is the subject here.
    await waitFor(() => Date.now() - stoppingAt > 600, { message: "the repeat window to pass", timeoutMs: 2_000 });
    cli.child.kill("SIGINT");
    await cli.waitForLine(/^SIGINT again: exiting now/);
    assert.equal(await cli.waitForExit(5_000), 130);
  });

  it("fails with a clear error and exit code 1 when the --jobs module does not exist", async () => {
    const { url } = fixture();
    const result = await runCli(["worker", "--jobs", "missing.js"], { cwd: FIXTURES, env: { OFFLOAD_DATABASE: url } });
    assert.equal(result.code, 1);
    assert.match(result.stderr, new RegExp(`^error: Job module missing\\.js not found: no file at ${FIXTURES}missing\\.js$`, "m"));
  });

  it("fails with exit code 1 when the --jobs module exports no function, or its function defines no job type", async () => {
    const { url } = fixture();
    const noFunction = await runCli(["worker", "--jobs", "no-define.mjs"], { cwd: FIXTURES, env: { OFFLOAD_DATABASE: url } });
    assert.equal(noFunction.code, 1);
    assert.match(noFunction.stderr, /^error: Job module no-define\.mjs exports no function to define jobs: expected .*; it exports jobs$/m);

    const nothing = await runCli(["worker", "--jobs", "defines-nothing.mjs"], { cwd: FIXTURES, env: { OFFLOAD_DATABASE: url } });
    assert.equal(nothing.code, 1);
    assert.match(nothing.stderr, /^error: Job module defines-nothing\.mjs defined no job types/m);
  });

  it("exits 2 on bad arguments: a missing --jobs, a bad --concurrency", async () => {
    const missing = await runCli(["worker"]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /required option '--jobs <module>' not specified/);
    const concurrency = await runCli(["start", "--concurrency", "zero"]);
    assert.equal(concurrency.code, 2);
    assert.match(concurrency.stderr, /--concurrency <n>' argument 'zero' is invalid\. expected a whole number/);
  });
});
