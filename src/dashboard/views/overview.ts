import { ApiError } from "../api.js";
import type { QueueSummary, QueueThroughput, WorkerView } from "../api-types.js";
import { lineChart, stackedBars } from "../chart.js";
import { errorText, isLifecycle, type AppContext, type View } from "../context.js";
import { el, replace, setText } from "../dom.js";
import { count, duration, relative, shortId, time } from "../format.js";
import { Batcher, Refresher } from "../live.js";
import { hashFor, jobHash } from "../router.js";
import { markReady, placeholder, section } from "../widgets.js";
import { QueueTable } from "./queue-table.js";

/** Jobs listed per worker; the rest are counted. */
const RUNNING_SHOWN = 6;

/** Throughput changes by the minute: re-read it at most this often, queues and workers every second. */
const THROUGHPUT_EVERY_MS = 5_000;

/** Latency of all queues per minute: the average of the queues' averages, weighted by the jobs that ended. */
export function overallLatency(throughput: QueueThroughput): (number | null)[] {
  return throughput.buckets.map((_, i) => {
    let weight = 0;
    let sum = 0;
    for (const item of throughput.items) {
      const latency = item.latencyMs[i];
      if (latency === null || latency === undefined) continue;
      const jobs = (item.completed[i] ?? 0) + (item.failed[i] ?? 0) || 1;
      weight += jobs;
      sum += latency * jobs;
    }
    return weight === 0 ? null : sum / weight;
  });
}

function sumSeries(throughput: QueueThroughput, pick: "completed" | "failed"): number[] {
  return throughput.buckets.map((_, i) => throughput.items.reduce((sum, item) => sum + (item[pick][i] ?? 0), 0));
}

function tile(label: string, value: HTMLElement, hint?: string): HTMLElement {
  return el("div", { class: "tile", title: hint }, el("div", { class: "tile-label" }, label), value);
}

/** Workers seen recently: host and pid, queues and slots, the jobs they run, when they started and last reported. */
export function workersTable(workers: WorkerView[]): HTMLElement {
  if (workers.length === 0) return placeholder("No worker has reported in the last minute.");
  return el(
    "table",
    { class: "table workers" },
    el("thead", null, el("tr", null, el("th", null, "Worker"), el("th", null, "Queues (slots)"), el("th", null, "Running"), el("th", null, "Started"), el("th", null, "Last seen"))),
    el(
      "tbody",
      null,
      workers.map((worker) =>
        el(
          "tr",
          { dataset: { worker: worker.id } },
          el("td", { title: worker.id }, `${worker.host} · pid ${worker.pid}`),
          el("td", null, worker.queues.map((q) => `${q.queue} ×${q.concurrency}`).join(", ") || "—"),
          el(
            "td",
            { class: "running-jobs" },
            worker.running.length === 0
              ? el("span", { class: "muted" }, "idle")
              : [
                  // The longest-running first; a busy worker's list is cut short, with a count of the rest.
                  [...worker.running]
                    .sort((a, b) => a.startedAt.localeCompare(b.startedAt))
                    .slice(0, RUNNING_SHOWN)
                    .map((job) =>
                      el("div", null, el("a", { href: jobHash(job.id) }, job.type, " ", el("code", null, shortId(job.id))), el("span", { class: "muted" }, ` attempt ${job.attempt}, started ${relative(job.startedAt)}`)),
                    ),
                  worker.running.length > RUNNING_SHOWN ? el("div", { class: "muted" }, `and ${count(worker.running.length - RUNNING_SHOWN)} more`) : null,
                ],
          ),
          el("td", { title: worker.startedAt }, relative(worker.startedAt)),
          el("td", { title: worker.lastSeenAt }, relative(worker.lastSeenAt)),
        ),
      ),
    ),
  );
}

/** A reason an optional figure is missing: an older server without the endpoint, or an error. */
function unavailable(what: string, error: unknown): HTMLElement {
  return placeholder(error instanceof ApiError && error.status === 404 ? `${what}: this server does not report it.` : `${what}: ${errorText(error)}`);
}

/** `#/`: queues, throughput, latency and workers at a glance. */
export const overviewView: View = (root, ctx) => {
  const tiles = el("div", { class: "tiles" });
  const throughputChart = el("div", { class: "chart-box" }, placeholder("Loading…"));
  const latencyChart = el("div", { class: "chart-box" }, placeholder("Loading…"));
  const table = new QueueTable(ctx, { onChanged: () => void refresher.now(), sparklines: false });
  const queuesBox = el("div", { class: "table-wrap" }, placeholder("Loading…"));
  const workersBox = el("div", { class: "table-wrap" }, placeholder("Loading…"));
  const updated = el("span", { class: "muted updated" });
  replace(
    root,
    el("div", { class: "page-head" }, el("h1", null, "Overview"), updated),
    tiles,
    el(
      "div",
      { class: "charts" },
      section("Jobs finished per minute, last hour", throughputChart, el("p", { class: "legend" }, el("span", { class: "key completed" }), "completed ", el("span", { class: "key failed" }), "failed")),
      section("Enqueue-to-start latency, average per minute", latencyChart),
    ),
    section("Queues", queuesBox),
    section("Workers", workersBox),
  );

  let throughput: QueueThroughput | null = null;
  let throughputAt = -Infinity;
  let loaded = false;

  // Each figure is drawn as soon as it arrives: the queues (the first view) wait for nothing else.
  const refresh = async () => {
    const wantThroughput = performance.now() - throughputAt >= THROUGHPUT_EVERY_MS;
    const queuesRead = ctx.api.get<{ items: QueueSummary[] }>("/api/queues");
    const workersRead = ctx.api.get<{ items: WorkerView[] }>("/api/workers");
    const throughputRead = wantThroughput ? ctx.api.get<QueueThroughput>("/api/queues/throughput?minutes=60") : null;
    let queues: QueueSummary[] | null = null;
    let workers: WorkerView[] | null = null;
    await Promise.allSettled([
      queuesRead.then(
        ({ items }) => {
          queues = items;
          if (queuesBox.firstElementChild !== table.element) replace(queuesBox, table.element);
          table.update(items, null);
          renderTiles(items, workers);
          if (!loaded) {
            loaded = true;
            markReady("overview");
          }
        },
        (error) => replace(queuesBox, placeholder(`Queues: ${errorText(error)}`)),
      ),
      workersRead.then(
        ({ items }) => {
          workers = items;
          replace(workersBox, workersTable(items));
          if (queues) renderTiles(queues, items);
        },
        (error) => replace(workersBox, unavailable("Workers", error)),
      ),
      throughputRead?.then(
        (next) => {
          throughput = next;
          throughputAt = performance.now();
          replace(
            throughputChart,
            stackedBars(
              next.buckets,
              [
                { className: "completed", label: "completed", values: sumSeries(next, "completed") },
                { className: "failed", label: "failed", values: sumSeries(next, "failed") },
              ],
              "Jobs finished per minute over the last hour",
            ),
          );
          replace(latencyChart, lineChart(next.buckets, overallLatency(next), "Average enqueue-to-start latency per minute"));
        },
        (error) => {
          replace(throughputChart, unavailable("Throughput", error));
          replace(latencyChart, unavailable("Latency", error));
        },
      ),
    ]);
    setText(updated, `updated ${time(new Date().toISOString())}`);
  };

  const renderTiles = (queues: QueueSummary[], workers: WorkerView[] | null) => {
    const total = (pick: (q: QueueSummary) => number) => queues.reduce((sum, q) => sum + pick(q), 0);
    const oldest = Math.max(-1, ...queues.map((q) => q.oldestQueuedAgeMs ?? -1));
    const link = (text: string, status: string) => el("a", { class: "tile-value", href: hashFor("/jobs", { status }) }, text);
    replace(
      tiles,
      tile("Running", link(count(total((q) => q.counts.running)), "running")),
      tile("Queued", link(count(total((q) => q.counts.queued)), "queued"), "Ready to run now"),
      tile("Scheduled", link(count(total((q) => q.counts.scheduled)), "scheduled"), "Waiting for their time (delayed, or retrying after a backoff)"),
      tile("Failed", link(count(total((q) => q.counts.failed)), "failed")),
      tile(
        "Last minute",
        el("div", { class: "tile-value" }, el("span", { class: "ok" }, count(total((q) => q.lastMinute.completed))), " / ", el("span", { class: "bad" }, count(total((q) => q.lastMinute.failed)))),
        "Jobs completed / failed in the last minute",
      ),
      tile("Oldest waiting", el("div", { class: "tile-value" }, oldest < 0 ? "—" : duration(oldest))),
      tile("Paused queues", el("div", { class: "tile-value" }, count(queues.filter((q) => q.paused).length))),
      tile("Workers", el("div", { class: "tile-value" }, workers === null ? "—" : count(workers.length))),
    );
  };

  const refresher = new Refresher(refresh, 1_000, 5_000);
  void refresher.now();
  // Any job event may change the figures: re-read them, at most once a second.
  const events = new Batcher<null>(() => refresher.poke(), 250);
  const stream = ctx.openStream("/api/events", {
    onMessage: (message) => {
      if (isLifecycle(message)) events.push(null);
    },
  });
  return () => {
    stream.close();
    events.dispose();
    refresher.dispose();
  };
};

/** `#/queues`: every queue with its last hour, and pause/resume. */
export const queuesView: View = (root, ctx) => {
  const box = el("div", { class: "table-wrap" }, placeholder("Loading…"));
  const table = new QueueTable(ctx, { onChanged: () => void refresher.now(), sparklines: true });
  replace(root, el("div", { class: "page-head" }, el("h1", null, "Queues")), section("Queues", box));
  let throughput: QueueThroughput | null = null;
  let throughputAt = -Infinity;
  const refresh = async () => {
    const wantThroughput = performance.now() - throughputAt >= THROUGHPUT_EVERY_MS;
    const [queues, next] = await Promise.allSettled([
      ctx.api.get<{ items: QueueSummary[] }>("/api/queues"),
      wantThroughput ? ctx.api.get<QueueThroughput>("/api/queues/throughput?minutes=60") : Promise.resolve(throughput),
    ]);
    if (next.status === "fulfilled" && wantThroughput) {
      throughput = next.value;
      throughputAt = performance.now();
    }
    if (queues.status === "rejected") {
      replace(box, placeholder(`Queues: ${errorText(queues.reason)}`));
      return;
    }
    if (box.firstElementChild !== table.element) replace(box, table.element);
    table.update(queues.value.items, throughput);
    markReady("queues");
  };
  const refresher = new Refresher(refresh, 1_000, 5_000);
  void refresher.now();
  const events = new Batcher<null>(() => refresher.poke(), 250);
  const stream = ctx.openStream("/api/events", {
    onMessage: (message) => {
      if (isLifecycle(message)) events.push(null);
    },
  });
  return () => {
    stream.close();
    events.dispose();
    refresher.dispose();
  };
};
