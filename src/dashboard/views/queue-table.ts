import type { JobState, QueueSummary, QueueThroughput } from "../api-types.js";
import { sparkline } from "../chart.js";
import { errorText, type AppContext } from "../context.js";
import { el } from "../dom.js";
import { count, duration } from "../format.js";
import { hashFor } from "../router.js";
import { actionButton } from "../widgets.js";

const COUNTED: JobState[] = ["scheduled", "queued", "running", "completed", "failed", "cancelled"];

/**
 * Every queue as a row: counts by status (each a link to those jobs),
 * paused flag, jobs finished in the last minute, enqueue-to-start latency,
 * the oldest waiting job's age, and Pause/Resume for admin tokens. Rows are
 * rebuilt only when their figures change, so buttons stay put under live
 * updates.
 */
export class QueueTable {
  readonly element: HTMLTableElement;
  private readonly body: HTMLTableSectionElement;
  private readonly rows = new Map<string, { key: string; row: HTMLTableRowElement }>();

  constructor(
    private readonly ctx: AppContext,
    private readonly options: { onChanged(): void; sparklines: boolean },
  ) {
    this.body = el("tbody");
    this.element = el(
      "table",
      { class: "table queues" },
      el(
        "thead",
        null,
        el(
          "tr",
          null,
          el("th", null, "Queue"),
          el("th", null, "State"),
          COUNTED.map((s) => el("th", { class: "num" }, s)),
          el("th", { class: "num", title: "Jobs that completed / failed in the last minute" }, "Last minute"),
          options.sparklines ? el("th", null, "Last hour") : null,
          el("th", { class: "num", title: "Average wait from due to start of the jobs that ended in the last minute / hour" }, "Latency 1 min / 1 h"),
          el("th", { class: "num", title: "How long the longest-waiting ready job has waited" }, "Oldest waiting"),
          ctx.canControlQueues ? el("th", null, "") : null,
        ),
      ),
      this.body,
    );
  }

  update(queues: QueueSummary[], throughput: QueueThroughput | null): void {
    const next: HTMLTableRowElement[] = [];
    const seen = new Set<string>();
    for (const queue of queues) {
      const series = this.options.sparklines ? (throughput?.items.find((item) => item.queue === queue.queue) ?? null) : null;
      const key = JSON.stringify([queue, series?.completed, series?.failed]);
      let entry = this.rows.get(queue.queue);
      if (!entry || entry.key !== key) {
        const row = this.row(queue, series, throughput);
        entry?.row.replaceWith(row);
        entry = { key, row };
        this.rows.set(queue.queue, entry);
      }
      seen.add(queue.queue);
      next.push(entry.row);
    }
    for (const name of [...this.rows.keys()]) if (!seen.has(name)) this.rows.delete(name);
    const current = [...this.body.children];
    if (current.length !== next.length || current.some((row, i) => row !== next[i])) this.body.replaceChildren(...next);
  }

  private row(queue: QueueSummary, series: QueueThroughput["items"][number] | null, throughput: QueueThroughput | null): HTMLTableRowElement {
    const latency = queue.latencyMs;
    const latencyText = (ms: number | null | undefined) => (ms === null || ms === undefined ? "—" : duration(ms));
    return el(
      "tr",
      { dataset: { queue: queue.queue } },
      el("td", null, el("a", { href: hashFor("/jobs", { queue: queue.queue }) }, queue.queue)),
      el("td", null, queue.paused ? el("span", { class: "badge paused" }, "paused") : el("span", { class: "badge active" }, "active")),
      COUNTED.map((status) =>
        el(
          "td",
          { class: `num count-${status}`, dataset: { count: status } },
          queue.counts[status] > 0 ? el("a", { href: hashFor("/jobs", { queue: queue.queue, status }) }, count(queue.counts[status])) : "0",
        ),
      ),
      el(
        "td",
        { class: "num" },
        el("span", { class: "ok" }, count(queue.lastMinute.completed)),
        " / ",
        el("span", { class: queue.lastMinute.failed > 0 ? "bad" : "" }, count(queue.lastMinute.failed)),
      ),
      this.options.sparklines
        ? el(
            "td",
            null,
            el(
              "div",
              { class: "last-hour" },
              throughput
              ? sparkline(
                  series?.completed ?? throughput.buckets.map(() => 0),
                  series?.failed ?? throughput.buckets.map(() => 0),
                  `${queue.queue}: jobs finished per minute, last hour`,
                )
              : null,
              el("span", { title: "Completed / failed in the last hour" }, el("span", { class: "ok" }, count(queue.lastHour.completed)), " / ", el("span", { class: queue.lastHour.failed > 0 ? "bad" : "" }, count(queue.lastHour.failed))),
            ),
          )
        : null,
      el("td", { class: "num" }, `${latencyText(latency?.lastMinute)} / ${latencyText(latency?.lastHour)}`),
      el("td", { class: "num" }, queue.oldestQueuedAgeMs === null ? "—" : duration(queue.oldestQueuedAgeMs)),
      this.ctx.canControlQueues ? el("td", { class: "actions" }, this.pauseButton(queue)) : null,
    );
  }

  private pauseButton(queue: QueueSummary): HTMLButtonElement {
    const action = queue.paused ? "resume" : "pause";
    return actionButton(queue.paused ? "Resume" : "Pause", queue.paused ? "Resuming…" : "Pausing…", async () => {
      try {
        await this.ctx.api.post(`/api/queues/${encodeURIComponent(queue.queue)}/${action}`);
        this.ctx.flash(`Queue ${queue.queue} ${action === "pause" ? "paused: its jobs wait until it is resumed" : "resumed"}`, "info");
      } catch (error) {
        this.ctx.flash(`Could not ${action} ${queue.queue}: ${errorText(error)}`);
      }
      this.options.onChanged();
    });
  }
}
