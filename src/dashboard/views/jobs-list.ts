import { mapLimited } from "../api.js";
import { JOB_STATES, type Job, type JobPage, type JobState, type JobType, type LifecycleEvent, type QueueSummary } from "../api-types.js";
import { errorText, lifecycleEvent, type AppContext, type View } from "../context.js";
import { el, replace, setText } from "../dom.js";
import { count, JOB_ID, shortId } from "../format.js";
import { Batcher } from "../live.js";
import { hashFor, jobHash } from "../router.js";
import { markReady, placeholder } from "../widgets.js";
import { foldEvents, matches, type Filters } from "../job-events.js";
import { JobRow } from "./job-row.js";

const PAGE_SIZE = 50;
/** How often the page is read again for what no event reports (workers in other processes). */
const POLL_MS = 5_000;
/** Bulk actions run this many requests at a time: quick, and well inside the API's rate limit. */
const BULK_CONCURRENCY = 4;

/**
 * `#/jobs?status=&queue=&type=&owner=&cursor=`: a page of jobs, newest
 * first. Rows update in place from the event stream; jobs enqueued while
 * the first page is open are counted in a notice rather than pushed in, so
 * rows never move under the pointer. "Next" follows the API's cursor, which
 * stays correct while jobs arrive.
 */
export const jobsView: View = (root, ctx, route) => {
  const filters: Filters = {
    owner: ctx.session.role === "owner" ? "" : (route.params.get("owner") ?? ""),
    queue: route.params.get("queue") ?? "",
    status: JOB_STATES.includes(route.params.get("status") as JobState) ? route.params.get("status")! : "",
    type: route.params.get("type") ?? "",
  };
  const cursor = route.params.get("cursor");
  const go = (change: Partial<Filters> & { cursor?: string }) => {
    location.hash = hashFor("/jobs", { ...filters, ...change });
  };

  // Filters.
  const tabs = el(
    "nav",
    { "aria-label": "Status", class: "tabs" },
    ["", ...JOB_STATES].map((status) =>
      el("a", { class: status === filters.status ? "tab current" : "tab", dataset: { tab: status || "all" }, href: hashFor("/jobs", { ...filters, status }) }, status || "all", el("span", { class: "tab-count" })),
    ),
  );
  const queueSelect = el("select", { "aria-label": "Queue", name: "queue", onchange: () => go({ queue: queueSelect.value }) }, el("option", { value: "" }, "all queues"));
  const typeSelect = el("select", { "aria-label": "Type", name: "type", onchange: () => go({ type: typeSelect.value }) }, el("option", { value: "" }, "all types"));
  for (const [select, value] of [
    [queueSelect, filters.queue],
    [typeSelect, filters.type],
  ] as const) {
    if (value) select.append(el("option", { value }, value));
    select.value = value;
  }
  const ownerInput = el("input", { "aria-label": "Owner", name: "owner", placeholder: "owner", type: "search", value: filters.owner });
  const ownerForm =
    ctx.session.role === "owner"
      ? null
      : el(
          "form",
          {
            class: "inline",
            onsubmit: (event: Event) => {
              event.preventDefault();
              go({ owner: ownerInput.value.trim() });
            },
          },
          ownerInput,
        );
  const searchInput = el("input", { "aria-label": "Job id", autocomplete: "off", name: "id", placeholder: "job id", type: "search" });
  const searchForm = el(
    "form",
    {
      class: "inline search",
      onsubmit: (event: Event) => {
        event.preventDefault();
        const id = searchInput.value.trim().toLowerCase();
        if (JOB_ID.test(id)) location.hash = jobHash(id);
        else ctx.flash("Enter a whole job id (a UUID such as 01a2045c-c4a5-7148-9a21-484ed1416e90) to open it; part of one filters this page.");
      },
    },
    searchInput,
    el("button", { class: "button", type: "submit" }, "Open"),
  );
  // Part of an id filters the rows of this page as it is typed.
  searchInput.addEventListener("input", () => {
    const text = searchInput.value.trim().toLowerCase();
    for (const entry of rows.values()) entry.row.hidden = text !== "" && !entry.job.id.includes(text);
  });
  const hasFilters = Boolean(filters.queue || filters.type || filters.owner || filters.status);

  // Notice, bulk bar, table, pager.
  const notice = el("div", { class: "notice", hidden: true });
  const selected = new Set<string>();
  const selectedText = el("span", { class: "muted" });
  const selectAll = ctx.canChangeJobs
    ? el("input", {
        "aria-label": "Select all on this page",
        onchange: () => {
          for (const entry of rows.values()) {
            if (!entry.checkbox || entry.row.hidden) continue;
            entry.checkbox.checked = selectAll!.checked;
            if (selectAll!.checked) selected.add(entry.job.id);
            else selected.delete(entry.job.id);
          }
          updateSelection();
        },
        type: "checkbox",
      })
    : null;
  const retryButton = el("button", { class: "button", disabled: true, onclick: () => void bulk("retry"), type: "button" }, "Retry selected");
  const cancelButton = el("button", { class: "button danger", disabled: true, onclick: () => void bulk("cancel"), type: "button" }, "Cancel selected");
  const bulkBar = ctx.canChangeJobs ? el("div", { class: "bulk" }, selectedText, retryButton, cancelButton) : null;
  const body = el("tbody");
  const showOwner = ctx.session.role !== "owner";
  const table = el(
    "table",
    { class: "table jobs" },
    el(
      "thead",
      null,
      el(
        "tr",
        null,
        selectAll ? el("th", { class: "check" }, selectAll) : null,
        el("th", null, "Job"),
        el("th", null, "Type"),
        el("th", null, "Queue"),
        el("th", null, "Status"),
        el("th", { class: "num" }, "Attempt"),
        el("th", null, "Progress"),
        el("th", null, "Created"),
        showOwner ? el("th", null, "Owner") : null,
      ),
    ),
    body,
  );
  const tableBox = el("div", { class: "table-wrap" }, placeholder("Loading…"));
  const pager = el("div", { class: "pager" });
  replace(
    root,
    el("div", { class: "page-head" }, el("h1", null, "Jobs"), searchForm),
    tabs,
    el(
      "div",
      { class: "filters" },
      queueSelect,
      typeSelect,
      ownerForm,
      hasFilters ? el("a", { class: "clear", href: "#/jobs" }, "clear filters") : null,
    ),
    notice,
    bulkBar,
    tableBox,
    pager,
  );

  const rows = new Map<string, JobRow>();
  let disposed = false;
  /** Jobs that arrived after the page loaded and match its filters: counted from events, and by the poll (jobs of other processes' enqueues). */
  let newByEvents = 0;
  let newByPoll = 0;
  let newestCreatedAt = "";

  function updateSelection(): void {
    for (const id of [...selected]) if (!rows.has(id)) selected.delete(id);
    setText(selectedText, selected.size === 0 ? "Select jobs to retry or cancel them together" : `${count(selected.size)} selected`);
    retryButton.disabled = cancelButton.disabled = selected.size === 0;
  }

  function renderRow(job: Job): JobRow {
    const onSelect = (id: string, checked: boolean) => {
      if (checked) selected.add(id);
      else selected.delete(id);
      updateSelection();
    };
    return new JobRow(job, { onSelect: ctx.canChangeJobs ? onSelect : null, showOwner });
  }

  async function load(): Promise<void> {
    const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
    for (const [key, value] of Object.entries(filters)) if (value) query.set(key, value);
    if (cursor) query.set("cursor", cursor);
    let page: JobPage;
    try {
      page = await ctx.api.get<JobPage>(`/api/jobs?${query}`);
    } catch (error) {
      replace(tableBox, placeholder(`Jobs: ${errorText(error)}`));
      return;
    }
    if (disposed) return;
    rows.clear();
    newByEvents = newByPoll = 0;
    newestCreatedAt = page.items[0]?.createdAt ?? new Date(0).toISOString();
    notice.hidden = true;
    if (selectAll) selectAll.checked = false;
    const built = page.items.map((job) => {
      const entry = renderRow(job);
      rows.set(job.id, entry);
      if (selected.has(job.id) && entry.checkbox) entry.checkbox.checked = true;
      return entry.row;
    });
    body.replaceChildren(...built);
    replace(tableBox, page.items.length === 0 ? placeholder(cursor ? "No more jobs." : hasFilters ? "No jobs match these filters." : "No jobs yet.") : table);
    updateSelection();
    replace(
      pager,
      cursor ? el("a", { class: "button", href: hashFor("/jobs", { ...filters }) }, "← Newest") : null,
      el("span", { class: "muted" }, page.items.length === 0 ? "" : `${count(page.items.length)} job${page.items.length === 1 ? "" : "s"} on this page`),
      page.nextCursor ? el("a", { class: "button", href: hashFor("/jobs", { ...filters, cursor: page.nextCursor }), rel: "next" }, "Next page →") : null,
    );
    markReady("jobs");
  }

  async function loadCounts(): Promise<void> {
    if (!ctx.canSeeOperations || filters.type || filters.owner) return;
    try {
      const { items } = await ctx.api.get<{ items: QueueSummary[] }>("/api/queues");
      const queues = items.filter((q) => !filters.queue || q.queue === filters.queue);
      for (const tab of tabs.querySelectorAll<HTMLElement>("[data-tab]")) {
        const status = tab.dataset["tab"]!;
        const n = queues.reduce((sum, q) => sum + (status === "all" ? JOB_STATES.reduce((s, state) => s + q.counts[state], 0) : (q.counts[status as JobState] ?? 0)), 0);
        setText(tab.querySelector(".tab-count")!, count(n));
      }
    } catch {
      // counts are a convenience; the list itself says what went wrong
    }
  }

  async function loadOptions(): Promise<void> {
    const [types, queues] = await Promise.allSettled([
      ctx.api.get<{ items: JobType[] }>("/api/job-types"),
      ctx.canSeeOperations ? ctx.api.get<{ items: QueueSummary[] }>("/api/queues") : Promise.resolve({ items: [] as QueueSummary[] }),
    ]);
    const typeNames = new Set(types.status === "fulfilled" ? types.value.items.map((t) => t.name) : []);
    const queueNames = new Set([...(types.status === "fulfilled" ? types.value.items.map((t) => t.queue) : []), ...(queues.status === "fulfilled" ? queues.value.items.map((q) => q.queue) : [])]);
    for (const [select, names, current] of [
      [queueSelect, queueNames, filters.queue],
      [typeSelect, typeNames, filters.type],
    ] as const) {
      for (const name of [...names].sort()) if (name !== current) select.append(el("option", { value: name }, name));
      select.value = current;
    }
  }

  async function bulk(action: "cancel" | "retry"): Promise<void> {
    const ids = [...selected];
    if (ids.length === 0) return;
    retryButton.disabled = cancelButton.disabled = true;
    const results = await mapLimited(ids, BULK_CONCURRENCY, (id) => ctx.api.post<Job>(`/api/jobs/${id}/${action}`));
    const failures = results.flatMap((result, i) => (result.status === "rejected" ? [`${shortId(ids[i]!)}: ${errorText(result.reason)}`] : []));
    const done = ids.length - failures.length;
    const verb = action === "retry" ? "Retried" : "Cancelled";
    if (failures.length === 0) ctx.flash(`${verb} ${count(done)} job${done === 1 ? "" : "s"}`, "info");
    else ctx.flash(`${verb} ${count(done)} of ${count(ids.length)}; not ${action === "retry" ? "retried" : "cancelled"}: ${failures.join("; ")}`);
    selected.clear();
    await load();
  }

  // Live: batched, applied at most every 200 ms.
  const batcher = new Batcher<LifecycleEvent>((events) => {
    const { changes, enqueued } = foldEvents(events, (id) => rows.has(id));
    for (const [id, change] of changes) rows.get(id)!.apply(change);
    const arrived = cursor ? 0 : enqueued.filter((job) => matches(job, filters) && !rows.has(job.id)).length;
    newByEvents += arrived;
    if (arrived > 0) showNotice();
    if (changes.size > 0 || arrived > 0) void loadCountsThrottled();
  }, 200);

  function showNotice(): void {
    const n = Math.max(newByEvents, newByPoll);
    if (n === 0) return;
    const text = newByEvents < newByPoll && newByPoll >= PAGE_SIZE ? `${count(n)}+` : count(n);
    replace(notice, `${text} new job${n === 1 ? "" : "s"} since this page was loaded — `, el("button", { class: "link-button", onclick: () => void load(), type: "button" }, "show"));
    notice.hidden = false;
  }

  /**
   * Reads the page again without moving its rows: updates the jobs shown,
   * and counts newer ones. Catches what no event told this page: jobs run
   * by workers in other processes, and events missed while reconnecting.
   */
  async function poll(): Promise<void> {
    if (disposed || document.hidden) return;
    const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
    for (const [key, value] of Object.entries(filters)) if (value) query.set(key, value);
    if (cursor) query.set("cursor", cursor);
    let page: JobPage;
    try {
      page = await ctx.api.get<JobPage>(`/api/jobs?${query}`);
    } catch {
      return; // the next poll tries again
    }
    if (disposed) return;
    let newer = 0;
    for (const job of page.items) {
      const entry = rows.get(job.id);
      if (entry) entry.apply({ attempt: job.attempt, progress: job.progress, status: job.status });
      else if (!cursor && job.createdAt > newestCreatedAt) newer++;
    }
    newByPoll = newer;
    showNotice();
  }

  let countsAt = 0;
  const loadCountsThrottled = async () => {
    if (performance.now() - countsAt < 2_000) return;
    countsAt = performance.now();
    await loadCounts();
  };

  let connections = 0;
  const stream = ctx.openStream(`/api/events${filters.queue ? `?queue=${encodeURIComponent(filters.queue)}` : ""}`, {
    onMessage: (message) => {
      const event = lifecycleEvent(message);
      if (event) batcher.push(event);
    },
    // Events sent while the stream was down are lost: read the page again.
    onOpen: () => {
      if (connections++ > 0) void poll();
    },
  });
  const poller = setInterval(() => void poll(), POLL_MS);
  void load();
  void loadOptions();
  void loadCounts();
  return () => {
    disposed = true;
    clearInterval(poller);
    stream.close();
    batcher.dispose();
  };
};
