import type { Job } from "../api-types.js";
import { el, setText } from "../dom.js";
import { fullTime, shortId, time } from "../format.js";
import { jobHash } from "../router.js";
import { ProgressBar, statusBadge, updateStatusBadge } from "../widgets.js";
import type { RowChange } from "../job-events.js";

/** One job as a table row, updated in place. */
export class JobRow {
  readonly checkbox: HTMLInputElement | null;
  readonly row: HTMLTableRowElement;
  private readonly attempt: HTMLElement;
  private readonly badge: HTMLElement;
  private readonly progress: ProgressBar;

  constructor(
    readonly job: Job,
    options: { onSelect: ((id: string, selected: boolean) => void) | null; showOwner: boolean },
  ) {
    this.badge = statusBadge(job.status, job.cancelRequested);
    this.progress = new ProgressBar(true);
    this.progress.update(job.progress, job.status);
    this.attempt = el("td", { class: "num" }, `${job.attempt} / ${job.maxAttempts}`);
    const onSelect = options.onSelect;
    const checkbox = onSelect ? el("input", { "aria-label": `Select job ${job.id}`, onchange: () => onSelect(job.id, checkbox!.checked), type: "checkbox" }) : null;
    this.checkbox = checkbox;
    this.row = el(
      "tr",
      { dataset: { id: job.id } },
      checkbox ? el("td", { class: "check" }, checkbox) : null,
      el("td", null, el("a", { href: jobHash(job.id), title: job.id }, el("code", null, shortId(job.id)))),
      el("td", null, job.type),
      el("td", null, job.queue),
      el("td", null, this.badge),
      this.attempt,
      el("td", { class: "progress-cell" }, this.progress.element),
      el("td", { title: fullTime(job.createdAt) }, time(job.createdAt)),
      options.showOwner ? el("td", null, job.owner ?? el("span", { class: "muted" }, "—")) : null,
    );
  }

  apply(change: RowChange): void {
    if (change.status) {
      this.job.status = change.status;
      updateStatusBadge(this.badge, change.status);
    }
    if (change.attempt !== undefined) {
      this.job.attempt = change.attempt;
      setText(this.attempt, `${change.attempt} / ${this.job.maxAttempts}`);
    }
    if (change.progress) this.job.progress = change.progress;
    this.progress.update(this.job.progress, this.job.status);
  }
}
