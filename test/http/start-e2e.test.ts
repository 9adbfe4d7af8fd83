import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { killRunningClis, runCli, spawnCli } from "../cli/cli-process.js";
import { tempSqlite } from "../helpers.js";
import { openEvents } from "./server-fixture.js";

describe("offload start: the seed flow end to end", () => {
  after(killRunningClis);

  it("serves the demo jobs over HTTP: a transcription polled every 2 s rises to 100 % and completes, and its stream delivers each progress report within 100 ms", async () => {
    const db = tempSqlite("offload-e2e");
    const probe = join(db.dir, "progress.jsonl");
    const cli = spawnCli(["start", "--no-demo", "--jobs", "test/http/fixtures/progress-probe.ts"], {
      env: { OFFLOAD_DATABASE: db.url, OFFLOAD_TOKENS: "e2e-admin=admin", PORT: "0", PROGRESS_PROBE_FILE: probe },
    });
    try {
      const line = await cli.waitForLine(/http api +http:\/\/127\.0\.0\.1:\d+/, 30_000);
      const url = /http:\/\/127\.0\.0\.1:\d+/.exec(line)![0];
      await cli.waitForLine(/^Worker running/);
      const headers = { authorization: "Bearer e2e-admin", "content-type": "application/json" };

      // 0.1 minute of "audio": 10 segments of 0.6 s.
      const created = await fetch(`${url}/api/jobs`, { body: JSON.stringify({ payload: { minutes: 0.1 }, type: "demo.transcribe" }), headers, method: "POST" });
      assert.equal(created.status, 201);
      const job = (await created.json()) as { id: string };
      const stream = await openEvents(`${url}/api/jobs/${job.id}/events`, "e2e-admin");

      // The seed application's loop: GET the job every 2 s until it is finished.
      const percents: number[] = [];
      let last: any;
      for (let polls = 0; polls < 30; polls++) {
        last = await (await fetch(`${url}/api/jobs/${job.id}`, { headers })).json();
        percents.push(last.progress.percent ?? 0);
        if (["completed", "failed", "cancelled"].includes(last.status)) break;
        await sleep(2_000); // the polling interval under test, not a wait for a condition
      }
      assert.equal(last.status, "completed");
      assert.deepEqual(last.result, { segments: 10, transcriptPath: `transcripts/${job.id}.txt`, words: last.result.words });
      assert.equal(last.progress.percent, 100);
      assert.ok(percents.some((p) => p > 0 && p < 100), `progress seen rising: ${percents.join(", ")}`);
      assert.deepEqual([...percents].sort((a, b) => a - b), percents, "progress never goes back");

      await stream.done;
      const arrivals = stream.events.filter((e) => e.event === "progress").map((e) => ({ at: performance.timeOrigin + e.at, processed: e.data.progress.processed as number }));
      const reports = readFileSync(probe, "utf8")
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as { at: number; id: string; processed: number })
        .filter((r) => r.id === job.id);
      assert.deepEqual(reports.map((r) => r.processed), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      assert.deepEqual(arrivals.map((a) => a.processed), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], "every progress change is streamed");
      const delays = reports.map((r) => arrivals.find((a) => a.processed === r.processed)!.at - r.at);
      assert.ok(delays.every((d) => d < 100), `stream delays (ms): ${delays.map((d) => d.toFixed(1)).join(", ")}`);
      assert.equal(stream.events.at(-1)?.data.status, "completed");
    } finally {
      cli.child.kill("SIGINT");
      await cli.waitForExit(15_000).catch(() => undefined);
      db.cleanup();
    }
  });

  it("refuses to serve another address than loopback without tokens, and bad PORT or token settings, saying what to set", async () => {
    const db = tempSqlite("offload-e2e-refuse");
    try {
      const open = await runCli(["start", "--no-demo"], { env: { HOST: "0.0.0.0", OFFLOAD_DATABASE: db.url } });
      assert.equal(open.code, 1);
      assert.match(open.stderr, /^error: Refusing to listen on 0\.0\.0\.0 without tokens: .*OFFLOAD_TOKENS/m);
      const port = await runCli(["start", "--no-demo"], { env: { OFFLOAD_DATABASE: db.url, PORT: "http" } });
      assert.match(port.stderr, /^error: PORT: expected a port number/m);
      const tokens = await runCli(["start", "--no-demo"], { env: { OFFLOAD_DATABASE: db.url, OFFLOAD_TOKENS: "k1=root" } });
      assert.match(tokens.stderr, /^error: OFFLOAD_TOKENS entry 1: unknown role "root"/m);
      assert.equal(tokens.code, 1);
    } finally {
      db.cleanup();
    }
  });
});
