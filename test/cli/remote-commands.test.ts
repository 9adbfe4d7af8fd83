import assert from "node:assert/strict";
import { createServer as createNetServer } from "node:net";
import { after, before, describe, it } from "node:test";
import type { EnqueuedJob, JobView } from "../../src/index.js";
import type { StatsSummary } from "../../src/cli/queues-commands.js";
import type { QueueSummary } from "../../src/cli/source.js";
import { tempSqlite } from "../helpers.js";
import { killRunningClis, runCli, spawnCli, type CliProcess } from "./cli-process.js";

/** A port nothing listens on: bound by the system, then released. */
async function closedPort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe("offload job commands against a server (--url, --token)", () => {
  const db = tempSqlite("offload-cli-remote");
  let server: CliProcess;
  let url = "";
  // The server has the database; the commands get only the URL and a token.
  const as = (token: string) => ({ OFFLOAD_DATABASE: "sqlite:/nonexistent/never-opened.db", OFFLOAD_TOKEN: token, OFFLOAD_URL: url });

  before(async () => {
    server = spawnCli(["start", "--no-demo", "--concurrency", "4"], {
      env: { OFFLOAD_DATABASE: db.url, OFFLOAD_TOKENS: "admin-key=admin,reader-key=read-only,ann-key=owner:ann" },
    });
    const line = await server.waitForLine(/http:\/\/127\.0\.0\.1:\d+/);
    url = /http:\/\/127\.0\.0\.1:\d+/.exec(line)![0];
    await server.waitForLine(/^Worker running/);
  });

  after(async () => {
    server.child.kill("SIGINT");
    await server.waitForExit().catch(() => undefined);
    killRunningClis();
    db.cleanup();
  });

  it("enqueue --watch follows a demo job over the event stream to its summary line", async () => {
    const result = await runCli(["enqueue", "demo.transcribe", '{"minutes":0.03}', "--watch", "--url", url, "--token", "admin-key"], { env: { OFFLOAD_URL: "" } });
    assert.equal(result.code, 0, result.stderr);
    const lines = result.stdout.split("\n");
    assert.match(lines[0]!, /^Enqueued demo\.transcribe job [0-9a-f-]{36} in queue media: queued\./);
    assert.ok(lines.some((l) => / {2}running {2}attempt 1\/3 {2}▮{6}▯{4} 67% {2}2\/3 {2}transcribing 0:01 \/ 0:02$/.test(l)), result.stdout);
    assert.match(lines.at(-1)!, /^completed {2}in \d+(\.\d+)?m?s {2}attempt 1 of 3 {2}→ \{"segments":3,/);
  });

  it("lists, shows, cancels and retries jobs, pauses a queue, and reads queues and stats, as JSON", async () => {
    const enqueued = await runCli(["enqueue", "demo.export", '{"files":2}', "--delay", "1h", "--owner", "ann", "--json"], { env: as("admin-key") });
    assert.equal(enqueued.code, 0, enqueued.stderr);
    const job = JSON.parse(enqueued.stdout) as EnqueuedJob;
    assert.deepEqual([job.status, job.owner], ["scheduled", "ann"]);

    const listed = JSON.parse((await runCli(["jobs", "list", "--json", "--type", "demo.export"], { env: as("ann-key") })).stdout) as { items: JobView[] };
    assert.deepEqual(listed.items.map((j) => j.id), [job.id], "the owner's token sees its job");
    const shown = JSON.parse((await runCli(["jobs", "show", job.id, "--json"], { env: as("reader-key") })).stdout) as JobView;
    assert.equal(shown.id, job.id);

    const cancelled = await runCli(["jobs", "cancel", job.id, "--json"], { env: as("ann-key") });
    assert.equal(cancelled.code, 0, cancelled.stderr);
    assert.equal((JSON.parse(cancelled.stdout) as JobView).status, "cancelled");
    const retried = await runCli(["jobs", "retry", job.id], { env: as("admin-key") });
    assert.equal(retried.code, 0, retried.stderr);
    assert.equal(retried.stdout, `Queued ${job.id} (demo.export) again, with a fresh set of 3 attempts.`);

    const paused = await runCli(["queues", "pause", "media", "--json"], { env: as("admin-key") });
    assert.equal(paused.code, 0, paused.stderr);
    assert.equal((JSON.parse(paused.stdout) as { paused: boolean }).paused, true);
    const queues = JSON.parse((await runCli(["queues", "--json"], { env: as("admin-key") })).stdout) as { items: QueueSummary[] };
    assert.equal(queues.items.find((q) => q.queue === "media")?.paused, true);
    const stats = JSON.parse((await runCli(["stats", "--json"], { env: as("admin-key") })).stdout) as StatsSummary;
    assert.ok(stats.total >= 1);
    assert.deepEqual(stats.pausedQueues, ["media"]);
  });

  it("prints the server's error and exits 1: a read-only token, no token, an unknown job, no server", async () => {
    const readOnly = await runCli(["enqueue", "demo.export", "{}"], { env: as("reader-key") });
    assert.equal(readOnly.code, 1);
    assert.match(readOnly.stderr, /^error: .*read-only/);

    const anonymous = await runCli(["stats", "--url", url], { env: { OFFLOAD_TOKEN: "", OFFLOAD_URL: "" } });
    assert.equal(anonymous.code, 1);
    assert.match(anonymous.stderr, /^error: .*[Bb]earer token/);

    const unknown = await runCli(["jobs", "show", "01a204b7-96c7-76a2-8fa2-4a9eb86ba1c0"], { env: as("admin-key") });
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /^error: .*01a204b7-96c7-76a2-8fa2-4a9eb86ba1c0/);

    const port = await closedPort();
    const down = await runCli(["stats", "--url", `http://127.0.0.1:${port}`], { env: { OFFLOAD_URL: "" } });
    assert.equal(down.code, 1);
    assert.equal(down.stderr, `error: Cannot reach the Offload server at http://127.0.0.1:${port}: ECONNREFUSED`);

  });
});
