import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, it } from "node:test";
import { z } from "zod";
import { createServer } from "../../src/http/index.js";
import { createMetrics } from "../../src/observability/metrics.js";
import { nextEvent } from "../helpers.js";
import { gate, openOffload } from "../offload/fixture.js";

const promtool = spawnSync("promtool", ["--version"], { encoding: "utf8" });
const PROMTOOL_MISSING = promtool.error ? "promtool is not installed (Debian package prometheus: apt-get install prometheus); .ci/run installs it" : false;

/** `promtool check metrics`: the exposition's syntax and Prometheus's naming and help conventions. */
function promtoolCheck(text: string): { output: string; status: number | null } {
  const result = spawnSync("promtool", ["check", "metrics"], { encoding: "utf8", input: text });
  return { output: `${result.stdout}${result.stderr}`, status: result.status };
}

/** The value of one sample, by its name and exact labels as rendered; undefined when absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split("\n")) {
    const match = /^([a-z_:][a-z0-9_:]*)(?:\{(.*)\})? (\S+)$/i.exec(line);
    if (!match || match[1] !== name) continue;
    const found = Object.fromEntries([...(match[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.keys(found).length === Object.keys(labels).length && Object.entries(labels).every(([k, v]) => found[k] === v)) return Number(match[3]);
  }
  return undefined;
}

const schema = z.object({ n: z.number() });

describe("createMetrics", () => {
  it("passes promtool check metrics, before any job and after jobs of every outcome", { skip: PROMTOOL_MISSING }, async (t) => {
    const offload = openOffload(t);
    offload.define("metrics.ok", { queue: "fast", schema }, async () => ({ ok: true }));
    offload.define("metrics.flaky", { attempts: 2, backoff: { delay: 1, type: "fixed" }, schema }, async () => {
      throw new Error("always");
    });
    const metrics = createMetrics(offload);
    t.after(() => metrics.close());

    const empty = await metrics.render();
    assert.deepEqual(promtoolCheck(empty), { output: "", status: 0 });

    const failed = nextEvent(offload, "job:failed");
    const completed = nextEvent(offload, "job:completed");
    await offload.start({ concurrency: 2 });
    await offload.enqueue("metrics.ok", { n: 1 });
    await offload.enqueue("metrics.flaky", { n: 2 });
    await Promise.all([failed, completed]);
    const text = await metrics.render();
    assert.deepEqual(promtoolCheck(text), { output: "", status: 0 }, text);
    assert.match(metrics.contentType, /^text\/plain; version=0\.0\.4/);
  });

  it("is what GET /metrics serves, with its content type, and that passes promtool too", { skip: PROMTOOL_MISSING }, async (t) => {
    const offload = openOffload(t);
    offload.define("metrics.ok", { schema }, async () => ({ ok: true }));
    const server = await createServer({ offload, port: 0, tokens: "ops-key=read-only" });
    t.after(() => server.close());
    const completed = nextEvent(offload, "job:completed");
    await offload.start({ concurrency: 1 });
    await offload.enqueue("metrics.ok", { n: 1 });
    await completed;
    const response = await fetch(`${server.url}/metrics`, { headers: { authorization: "Bearer ops-key" } });
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
    const text = await response.text();
    assert.equal(sample(text, "offload_jobs_completed_total", { queue: "default", type: "metrics.ok" }), 1);
    assert.deepEqual(promtoolCheck(text), { output: "", status: 0 }, text);
  });

  it("counts enqueued, completed, retried and failed jobs, with run time and start latency histograms", async (t) => {
    const offload = openOffload(t);
    offload.define("metrics.ok", { queue: "fast", schema }, async () => ({ ok: true }));
    offload.define("metrics.flaky", { attempts: 2, backoff: { delay: 1, type: "fixed" }, schema }, async () => {
      throw new Error("always");
    });
    const metrics = createMetrics(offload);
    t.after(() => metrics.close());
    const ok = { queue: "fast", type: "metrics.ok" };
    const flaky = { queue: "default", type: "metrics.flaky" };

    for (let n = 0; n < 3; n++) await offload.enqueue("metrics.ok", { n });
    await offload.enqueue("metrics.flaky", { n: 9 });
    let text = await metrics.render();
    assert.equal(sample(text, "offload_jobs_enqueued_total", ok), 3);
    assert.equal(sample(text, "offload_jobs_enqueued_total", flaky), 1);
    assert.equal(sample(text, "offload_jobs", { queue: "fast", status: "queued" }), 3);
    assert.equal(sample(text, "offload_jobs", { queue: "fast", status: "completed" }), 0);
    assert.equal(sample(text, "offload_queue_depth", { queue: "fast" }), 3);
    assert.equal(sample(text, "offload_jobs_completed_total", ok), undefined, "no completion yet");
    assert.equal(sample(text, "offload_worker_concurrency_limit", { queue: "fast" }), undefined, "no worker in this process yet");

    let done = 0;
    const allDone = new Promise<void>((resolve) => {
      const count = () => void (++done === 4 && resolve());
      offload.on("job:completed", count).on("job:failed", count);
    });
    await offload.start({ concurrency: { default: 2, fast: 3 } });
    await allDone;
    text = await metrics.render();
    assert.equal(sample(text, "offload_jobs_completed_total", ok), 3);
    assert.equal(sample(text, "offload_jobs_failed_total", flaky), 1);
    assert.equal(sample(text, "offload_jobs_retried_total", flaky), 1);
    assert.equal(sample(text, "offload_jobs", { queue: "fast", status: "completed" }), 3);
    assert.equal(sample(text, "offload_jobs", { queue: "fast", status: "queued" }), 0);
    assert.equal(sample(text, "offload_jobs", { queue: "default", status: "failed" }), 1);
    assert.equal(sample(text, "offload_queue_depth", { queue: "fast" }), 0);
    assert.equal(sample(text, "offload_queue_oldest_job_age_seconds", { queue: "fast" }), 0);
    assert.equal(sample(text, "offload_job_run_duration_seconds_count", { ...ok, outcome: "completed" }), 3);
    assert.equal(sample(text, "offload_job_run_duration_seconds_count", { ...flaky, outcome: "retried" }), 1);
    assert.equal(sample(text, "offload_job_run_duration_seconds_count", { ...flaky, outcome: "failed" }), 1);
    assert.equal(sample(text, "offload_job_start_latency_seconds_count", ok), 3);
    assert.equal(sample(text, "offload_job_start_latency_seconds_count", flaky), 2, "one start per attempt");
    // The jobs were enqueued before the worker started: each waited a little, none anywhere near a minute.
    const latency = sample(text, "offload_job_start_latency_seconds_sum", ok)!;
    assert.ok(latency > 0 && latency < 60, `latency sum ${latency}`);
    assert.equal(sample(text, "offload_job_start_latency_seconds_bucket", { ...ok, le: "+Inf" }), 3);
    assert.equal(sample(text, "offload_worker_concurrency_limit", { queue: "fast" }), 3);
    assert.equal(sample(text, "offload_worker_concurrency_limit", { queue: "default" }), 2);
    assert.equal(sample(text, "offload_worker_concurrency_in_use", { queue: "fast" }), 0);
  });

  it("reports slots in use, a queue's oldest wait and its pause at each scrape", async (t) => {
    const offload = openOffload(t);
    const release = gate();
    offload.define("metrics.hold", { queue: "held", schema }, async () => release.promise);
    offload.define("metrics.later", { queue: "later", schema }, async () => null);
    const metrics = createMetrics(offload);
    t.after(() => metrics.close());

    await offload.pauseQueue("later");
    // Due a minute ago: it has waited that long, whatever the test's own speed.
    await offload.enqueue("metrics.later", { n: 1 }, { runAt: Date.now() - 60_000 });
    const started = nextEvent(offload, "job:started");
    await offload.start({ concurrency: 2 });
    await offload.enqueue("metrics.hold", { n: 1 });
    await started;
    let text = await metrics.render();
    assert.equal(sample(text, "offload_worker_concurrency_in_use", { queue: "held" }), 1);
    assert.equal(sample(text, "offload_worker_concurrency_limit", { queue: "held" }), 2);
    assert.equal(sample(text, "offload_queue_paused", { queue: "later" }), 1);
    assert.equal(sample(text, "offload_queue_paused", { queue: "held" }), 0);
    assert.equal(sample(text, "offload_queue_depth", { queue: "later" }), 1);
    const age = sample(text, "offload_queue_oldest_job_age_seconds", { queue: "later" })!;
    assert.ok(age >= 60 && age < 120, `oldest age ${age}`);

    const finished = nextEvent(offload, "job:completed");
    release.open();
    await finished;
    await offload.resumeQueue("later");
    text = await metrics.render();
    assert.equal(sample(text, "offload_queue_paused", { queue: "later" }), 0);
  });

  it("keeps instances apart, and stops counting once closed", async (t) => {
    const offload = openOffload(t);
    offload.define("metrics.ok", { schema }, async () => null);
    const first = createMetrics(offload);
    const second = createMetrics(offload);
    await offload.enqueue("metrics.ok", { n: 1 });
    const labels = { queue: "default", type: "metrics.ok" };
    assert.equal(sample(await first.render(), "offload_jobs_enqueued_total", labels), 1);
    first.close();
    await offload.enqueue("metrics.ok", { n: 2 });
    assert.equal(await first.render(), "");
    assert.equal(sample(await second.render(), "offload_jobs_enqueued_total", labels), 2);
    second.close();
  });
});
