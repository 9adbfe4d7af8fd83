import type { JobProgress, JobState } from "./api-types.js";
import { el, setText } from "./dom.js";
import { count, percentOf } from "./format.js";

/** A job's status as a coloured label. */
export function statusBadge(status: JobState, cancelRequested = false): HTMLElement {
  const badge = el("span", { class: `badge status-${status}`, dataset: { status } }, status);
  if (cancelRequested && status === "running") badge.append(document.createTextNode(" · cancelling"));
  return badge;
}

/** Changes a {@link statusBadge} in place, only if the status moved. */
export function updateStatusBadge(badge: HTMLElement, status: JobState): void {
  if (badge.dataset["status"] === status) return;
  badge.dataset["status"] = status;
  badge.className = `badge status-${status}`;
  badge.textContent = status;
}

/** A progress bar with its percent, updated in place by {@link ProgressBar.update}. */
export class ProgressBar {
  readonly element: HTMLElement;
  private readonly fill: HTMLElement;
  private readonly label: HTMLElement;

  constructor(compact = false) {
    this.fill = el("div", { class: "progress-fill" });
    this.label = el("span", { class: "progress-label" });
    this.element = el(
      "div",
      { "aria-valuemax": 100, "aria-valuemin": 0, class: compact ? "progress compact" : "progress", role: "progressbar" },
      el("div", { class: "progress-track" }, this.fill),
      this.label,
    );
  }

  update(progress: JobProgress | null, status?: JobState): void {
    const percent = progress ? percentOf(progress) : null;
    const shown = percent ?? (status === "completed" ? 100 : 0);
    const width = `${shown}%`;
    if (this.fill.style.width !== width) this.fill.style.width = width;
    this.element.setAttribute("aria-valuenow", String(Math.round(shown * 10) / 10));
    this.element.dataset["status"] = status ?? "";
    setText(this.label, percent === null ? (status === "completed" ? "100 %" : "—") : `${Math.floor(percent)} %`);
  }
}

/** `12 processed · 1 failed · of 50`, from whichever counts were reported. */
export function progressCounts(progress: JobProgress): string {
  const parts: string[] = [];
  if (progress.processed !== null) parts.push(`${count(progress.processed)} processed`);
  if (progress.failed !== null) parts.push(`${count(progress.failed)} failed`);
  if (progress.total !== null) parts.push(`of ${count(progress.total)}`);
  return parts.join(" · ");
}

/** A section with a heading. */
export function section(title: string, ...children: (Node | string | null)[]): HTMLElement {
  return el("section", { class: "panel" }, el("h2", null, title), ...children);
}

/** Text shown while a view loads, or when there is nothing. */
export function placeholder(text: string): HTMLElement {
  return el("p", { class: "muted placeholder" }, text);
}

/** A button that disables itself while its action runs. */
export function actionButton(label: string, busyLabel: string, action: () => Promise<void>, kind = ""): HTMLButtonElement {
  const button = el("button", { class: `button ${kind}`.trim(), type: "button" }, label);
  button.addEventListener("click", async () => {
    if (button.disabled) return;
    button.disabled = true;
    setText(button, busyLabel);
    try {
      await action();
    } finally {
      button.disabled = false;
      setText(button, label);
    }
  });
  return button;
}

/**
 * Marks the view as loaded: `data-ready` on the body for tests and tools to
 * wait on, and a performance mark (`offload:ready:<view>`) timing the first
 * usable view from the navigation's start.
 */
export function markReady(view: string): void {
  if (document.body.dataset["ready"] === view) return;
  document.body.dataset["ready"] = view;
  performance.mark(`offload:ready:${view}`);
}
