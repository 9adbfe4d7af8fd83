import { ApiError } from "../api.js";
import { isFinished, type Job, type JobProgress } from "../api-types.js";
import { errorText, type AppContext, type View } from "../context.js";
import { el, replace, setText, type Child } from "../dom.js";
import type { EventStream } from "../event-stream.js";
import { fullTime, JOB_ID, prettyJson, relative } from "../format.js";
import { timeline } from "../job-timeline.js";
import { Batcher } from "../live.js";
import { hashFor } from "../router.js";
import { actionButton, markReady, placeholder, ProgressBar, progressCounts, section, statusBadge } from "../widgets.js";

function jsonBlock(value: unknown, label: string): HTMLElement {
  return el("pre", { "aria-label": label, class: "json", tabindex: 0 }, prettyJson(value));
}

function field(label: string, ...value: Child[]): Child[] {
  return [el("dt", null, label), el("dd", null, ...value)];
}

/** `#/jobs/<id>`: everything about one job, live over its own event stream. */
export const jobView: View = (root, ctx, route) => {
  const id = (route.segments[1] ?? "").toLowerCase();
  if (!JOB_ID.test(id)) {
    replace(root, placeholder("That is not a job id."));
    return () => {};
  }
  const progressBar = new ProgressBar();
  const progressMessage = el("p", { class: "progress-message" });
  const progressDetail = el("p", { class: "muted progress-counts" });
  const head = el("div", { class: "page-head job-head" });
  const actions = el("div", { class: "actions" });
  const facts = el("dl", { class: "facts" });
  const timelineBox = el("ol", { class: "timeline" });
  const errorsBox = el("div");
  const payloadBox = el("div");
  const resultBox = el("div");
  const deletedNotice = el("div", { class: "notice", hidden: true });
  replace(root, el("p", { class: "crumbs" }, el("a", { href: "#/jobs" }, "Jobs"), " / ", el("code", null, id)), placeholder("Loading…"));

  let job: Job | null = null;
  let stream: EventStream | null = null;
  let disposed = false;

  const renderProgress = (progress: JobProgress, status: Job["status"]) => {
    progressBar.update(progress, status);
    setText(progressMessage, progress.message ?? "");
    setText(progressDetail, progressCounts(progress));
  };

  const render = (next: Job) => {
    job = next;
    replace(
      head,
      el("h1", null, next.type, " ", statusBadge(next.status, next.cancelRequested)),
      el("code", { class: "job-id", title: "Job id" }, next.id),
    );
    renderActions(next);
    replace(
      facts,
      field("Queue", el("a", { href: hashFor("/jobs", { queue: next.queue }) }, next.queue)),
      field("Attempt", `${next.attempt} of ${next.maxAttempts}`),
      field("Priority", String(next.priority)),
      field("Owner", next.owner ?? el("span", { class: "muted" }, "none")),
      next.uniqueKey === null ? null : field("Unique key", el("code", null, next.uniqueKey)),
      field("Created", el("span", { title: fullTime(next.createdAt) }, relative(next.createdAt))),
      field(next.status === "scheduled" ? "Runs" : "Due", el("span", { title: fullTime(next.runAt) }, relative(next.runAt))),
      next.startedAt ? field("Started", el("span", { title: fullTime(next.startedAt) }, relative(next.startedAt))) : null,
      next.finishedAt ? field("Finished", el("span", { title: fullTime(next.finishedAt) }, relative(next.finishedAt))) : null,
    );
    renderProgress(next.progress, next.status);
    replace(
      timelineBox,
      timeline(next).map((entry) =>
        el(
          "li",
          { class: `tl-${entry.kind}` },
          el("time", { datetime: entry.at, title: entry.at }, fullTime(entry.at)),
          el("span", { class: "tl-label" }, entry.label),
          entry.detail ? el("span", { class: "tl-detail" }, entry.detail) : null,
        ),
      ),
    );
    const errors = next.errors.length > 0 ? next.errors : next.error ? [{ attempt: next.attempt, at: next.updatedAt, ...next.error }] : [];
    replace(
      errorsBox,
      errors.length === 0
        ? null
        : section(
            `Errors (${errors.length})`,
            el(
              "ol",
              { class: "errors" },
              [...errors].reverse().map((error) =>
                el(
                  "li",
                  { class: "error-entry", dataset: { attempt: String(error.attempt) } },
                  el("div", { class: "error-head" }, el("strong", null, `Attempt ${error.attempt}`), " ", el("code", { class: "badge status-failed" }, error.code), " ", el("span", { class: "muted", title: error.at }, fullTime(error.at))),
                  el("p", { class: "error-message" }, error.message),
                  error.stack ? el("details", { open: error === errors.at(-1) }, el("summary", null, "Stack trace"), el("pre", { class: "stack" }, error.stack)) : null,
                ),
              ),
            ),
          ),
    );
    replace(payloadBox, section("Payload", jsonBlock(next.payload, "Payload")));
    replace(resultBox, next.status === "completed" || next.result !== null ? section("Result", jsonBlock(next.result, "Result")) : null);
  };

  const renderActions = (current: Job) => {
    if (!ctx.canChangeJobs) {
      replace(actions);
      return;
    }
    const act = (label: string, busy: string, path: string, done: string, kind = "") =>
      actionButton(
        label,
        busy,
        async () => {
          try {
            const updated = await ctx.api.post<Job>(`/api/jobs/${current.id}/${path}`);
            render(updated);
            ctx.flash(done, "info");
            // The stream ends with the finished job; a retried job is live again.
            if (!isFinished(updated.status) && !stream) openStream();
          } catch (error) {
            ctx.flash(`${label}: ${errorText(error)}`);
          }
        },
        kind,
      );
    const buttons: HTMLElement[] = [];
    if (current.status === "scheduled") buttons.push(act("Run now", "Starting…", "run-now", "Queued to run now"));
    if (!isFinished(current.status) && !current.cancelRequested) buttons.push(act("Cancel", "Cancelling…", "cancel", current.status === "running" ? "Cancel requested: the handler is told to stop" : "Cancelled", "danger"));
    if (current.status === "failed" || current.status === "cancelled") buttons.push(act("Retry", "Retrying…", "retry", "Queued again, with fresh attempts"));
    if (isFinished(current.status)) {
      buttons.push(
        actionButton(
          "Delete",
          "Deleting…",
          async () => {
            if (!confirm(`Delete job ${current.id}? This cannot be undone.`)) return;
            try {
              await ctx.api.delete(`/api/jobs/${current.id}`);
              ctx.flash(`Deleted job ${current.id}`, "info");
              location.hash = "#/jobs";
            } catch (error) {
              ctx.flash(`Delete: ${errorText(error)}`);
            }
          },
          "danger",
        ),
      );
    }
    replace(actions, ...buttons);
  };

  // Progress can arrive hundreds of times a second: draw the latest once per frame.
  let latestProgress: JobProgress | null = null;
  const progressBatch = new Batcher<null>(() => {
    if (latestProgress && job) renderProgress(latestProgress, job.status);
  }, 50);

  const openStream = () => {
    stream = ctx.openStream(`/api/jobs/${id}/events`, {
      onEnd: () => {
        // The server ends the stream after the finished job; reconnect only if it ended early.
        if (job && !isFinished(job.status)) return true;
        stream = null;
        return false;
      },
      onMessage: (message) => {
        if (message.event === "job") {
          const next = JSON.parse(message.data) as Job;
          // An event older than what the page shows (an action's answer came first) is skipped.
          if (job && Date.parse(next.updatedAt) < Date.parse(job.updatedAt)) return;
          render(next);
        } else if (message.event === "progress") {
          const data = JSON.parse(message.data) as { attempt: number; progress: JobProgress };
          // Progress of a new attempt may come before the job event that starts it.
          if (!job || data.attempt < job.attempt) return;
          job.progress = data.progress;
          latestProgress = data.progress;
          progressBatch.push(null);
        } else if (message.event === "deleted") {
          replace(deletedNotice, "This job was deleted.");
          deletedNotice.hidden = false;
          replace(actions);
        }
      },
      onRefused: (status, message) => {
        stream = null;
        if (status === 404) {
          replace(deletedNotice, "This job no longer exists.");
          deletedNotice.hidden = false;
        } else ctx.flash(message);
      },
    });
  };

  void (async () => {
    let first: Job;
    try {
      first = await ctx.api.get<Job>(`/api/jobs/${id}`);
    } catch (error) {
      if (disposed) return;
      replace(root, el("p", { class: "crumbs" }, el("a", { href: "#/jobs" }, "Jobs")), placeholder(error instanceof ApiError && error.status === 404 ? `No job has id ${id}.` : errorText(error)));
      return;
    }
    if (disposed) return;
    replace(
      root,
      el("p", { class: "crumbs" }, el("a", { href: "#/jobs" }, "Jobs"), " / ", el("a", { href: hashFor("/jobs", { type: first.type }) }, first.type)),
      head,
      deletedNotice,
      actions,
      el(
        "div",
        { class: "job-grid" },
        el("div", null, section("Progress", progressBar.element, progressMessage, progressDetail), section("Details", facts), payloadBox, resultBox),
        el("div", null, section("Timeline", timelineBox), errorsBox),
      ),
    );
    render(first);
    markReady("job");
    if (!isFinished(first.status)) openStream();
  })();

  return () => {
    disposed = true;
    stream?.close();
    progressBatch.dispose();
  };
};
