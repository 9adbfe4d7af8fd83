import assert from "node:assert/strict";
import { after, afterEach, describe, it } from "node:test";
import { createOffload, type JobView } from "../../src/index.js";
import { tempSqlite } from "../helpers.js";
import { killRunningClis, runCli } from "./cli-process.js";
import defineFixtureJobs from "./fixtures/echo-jobs.js";

describe("offload jobs and offload migrate", () => {
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  after(killRunningClis);

  /** A temp database holding two queued fixture jobs (no worker runs them). */
  async function fixture() {
    const db = tempSqlite("offload-cli-jobs");
    const client = createOffload({ database: db.url, logger: false });
    defineFixtureJobs(client);
    cleanups.push(db.cleanup, () => client.close());
    const first = await client.enqueue("fixture.echo", { text: "one" });
    const second = await client.enqueue("fixture.sleep", { ms: 5 }, { priority: 3 });
    return { client, first, second, url: db.url };
  }

  it("jobs list --json prints { items, nextCursor }, newest first", async () => {
    const { first, second, url } = await fixture();
    const result = await runCli(["jobs", "list", "--json", "--database", url]);
    assert.equal(result.code, 0, result.stderr);
    const page = JSON.parse(result.stdout) as { items: JobView[]; nextCursor: string | null };
    assert.deepEqual(
      page.items.map((j) => [j.id, j.type, j.status]),
      [
        [second.id, "fixture.sleep", "queued"],
        [first.id, "fixture.echo", "queued"],
      ],
    );
    assert.equal(page.nextCursor, null);
  });

  it("jobs list filters by type and pages with --limit and --cursor", async () => {
    const { first, second, url } = await fixture();
    const env = { OFFLOAD_DATABASE: url };
    const byType = JSON.parse((await runCli(["jobs", "list", "--json", "--type", "fixture.echo"], { env })).stdout) as { items: JobView[] };
    assert.deepEqual(byType.items.map((j) => j.id), [first.id]);

    const page1 = JSON.parse((await runCli(["jobs", "list", "--json", "--limit", "1"], { env })).stdout) as { items: JobView[]; nextCursor: string };
    assert.deepEqual(page1.items.map((j) => j.id), [second.id]);
    const page2 = JSON.parse((await runCli(["jobs", "list", "--json", "--limit", "1", "--cursor", page1.nextCursor], { env })).stdout) as { items: JobView[] };
    assert.deepEqual(page2.items.map((j) => j.id), [first.id]);
  });

  it("jobs list prints a table for people", async () => {
    const { first, url } = await fixture();
    const result = await runCli(["jobs", "list", "--database", url]);
    assert.equal(result.code, 0, result.stderr);
    const [header, ...rows] = result.stdout.split("\n");
    assert.match(header!, /^ID +TYPE +QUEUE +STATUS +ATTEMPT +PROGRESS +CREATED +DETAIL$/);
    assert.equal(rows.length, 2);
    assert.match(rows[1]!, new RegExp(`^${first.id} +fixture\\.echo +default +queued +0/3 +\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d$`));
  });

  it("jobs show prints a job's fields, or the JobView with --json", async () => {
    const { first, url } = await fixture();
    const text = await runCli(["jobs", "show", first.id, "--database", url]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, new RegExp(`^id +${first.id}$`, "m"));
    assert.match(text.stdout, /^payload +\{"text":"one"\}$/m);
    assert.match(text.stdout, /^attempt +0 of 3$/m);

    const json = await runCli(["jobs", "show", first.id, "--json", "--database", url]);
    const view = JSON.parse(json.stdout) as JobView;
    assert.equal(view.id, first.id);
    assert.deepEqual(view.payload, { text: "one" });
  });

  it("jobs cancel then jobs retry move a job to cancelled, then back to queued", async () => {
    const { client, first, url } = await fixture();
    const env = { OFFLOAD_DATABASE: url };
    const cancelled = await runCli(["jobs", "cancel", first.id], { env });
    assert.equal(cancelled.code, 0, cancelled.stderr);
    assert.equal(cancelled.stdout, `Cancelled ${first.id} (fixture.echo).`);
    assert.equal((await client.getJob(first.id))?.status, "cancelled");

    const again = await runCli(["jobs", "cancel", first.id], { env });
    assert.equal(again.code, 1);
    assert.match(again.stderr, /^error: Job .* is already cancelled: only scheduled, queued or running jobs can be cancelled$/);

    const retried = await runCli(["jobs", "retry", first.id, "--json"], { env });
    assert.equal(retried.code, 0, retried.stderr);
    assert.equal((JSON.parse(retried.stdout) as JobView).status, "queued");
  });

  it("prints error: <message> and exits 1 for an unknown job id; exits 2 for a bad --status", async () => {
    const { url } = await fixture();
    const unknown = await runCli(["jobs", "show", "no-such-job", "--database", url]);
    assert.equal(unknown.code, 1);
    assert.equal(unknown.stderr, "error: No job has id no-such-job");

    const badStatus = await runCli(["jobs", "list", "--status", "done", "--database", url]);
    assert.equal(badStatus.code, 2);
    assert.match(badStatus.stderr, /Allowed choices are scheduled, queued, running, completed, failed, cancelled/);
  });

  it("migrate creates the schema of a new database, then reports it up to date", async () => {
    const db = tempSqlite("offload-cli-migrate");
    cleanups.push(db.cleanup);
    const first = await runCli(["migrate", "--json", "--database", db.url]);
    assert.equal(first.code, 0, first.stderr);
    const status = JSON.parse(first.stdout) as { applied: number[]; database: string; version: number };
    assert.equal(status.database, db.url);
    assert.ok(status.applied.length > 0 && status.version === Math.max(...status.applied));

    const second = await runCli(["migrate", "--database", db.url]);
    assert.equal(second.stdout, `Database ${db.url} (${db.file}) is up to date: schema version ${status.version}.`);
  });
});
