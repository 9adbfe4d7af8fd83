/**
 * Offload's web dashboard: signs in with a token, then shows the view the
 * hash names. It talks only to the public HTTP API, with the token in the
 * `Authorization` header (kept in sessionStorage, so it ends with the tab).
 */
import { Api, ApiError } from "./api.js";
import type { Session } from "./api-types.js";
import { errorText, type AppContext, type StreamHandlers, type View } from "./context.js";
import { el, replace, setText } from "./dom.js";
import { EventStream } from "./event-stream.js";
import { parseHash } from "./router.js";
import { markReady } from "./widgets.js";
import { jobView } from "./views/job-page.js";
import { jobsView } from "./views/jobs-list.js";
import { overviewView, queuesView } from "./views/overview.js";

const TOKEN_KEY = "offload.token";

const app = document.getElementById("app")!;
let token: string | null = sessionStorage.getItem(TOKEN_KEY);
let session: Session | null = null;
let disposeView: (() => void) | null = null;
/** Streams of the current view: all end on sign-out. */
const streams = new Set<EventStream>();

const api = new Api({
  onUnauthorized: (message) => {
    if (session) signOut(`Signed out: ${message}`);
  },
  token: () => token,
});

// The frame: header with navigation and session, a message banner, the view.
const nav = el("nav", { "aria-label": "Main", class: "nav" });
const who = el("div", { class: "who" });
const live = el("span", { class: "live", title: "Event stream" });
const banner = el("div", { "aria-live": "polite", class: "banner", hidden: true, role: "status" });
const main = el("main", { class: "main" });
const header = el("header", { class: "header" }, el("a", { class: "brand", href: "#/" }, "Offload"), nav, live, who);
replace(app, header, banner, main);

let bannerTimer: ReturnType<typeof setTimeout> | null = null;
function flash(message: string, kind: "error" | "info" = "error"): void {
  if (bannerTimer !== null) clearTimeout(bannerTimer);
  banner.className = `banner ${kind}`;
  replace(banner, el("span", null, message), el("button", { "aria-label": "Dismiss", class: "link-button", onclick: () => (banner.hidden = true), type: "button" }, "×"));
  banner.hidden = false;
  // Confirmations fade; errors stay until dismissed or replaced.
  if (kind === "info") bannerTimer = setTimeout(() => (banner.hidden = true), 6_000);
}

let connected = 0;
function setLive(delta: number): void {
  connected += delta;
  live.className = connected > 0 ? "live on" : "live";
  setText(live, connected > 0 ? "● live" : streams.size > 0 ? "○ reconnecting" : "");
}

function openStream(url: string, handlers: StreamHandlers): EventStream {
  let up = false;
  const mark = (state: boolean) => {
    const delta = state === up ? 0 : state ? 1 : -1;
    up = state;
    setLive(delta);
  };
  const stream: EventStream = new EventStream({
    headers: () => api.headers(),
    onEnd: () => {
      const again = handlers.onEnd?.() ?? true;
      if (!again) streams.delete(stream);
      mark(false);
      return again;
    },
    onMessage: handlers.onMessage,
    onRefused: (status, message) => {
      streams.delete(stream);
      mark(false);
      if (status === 401) signOut(`Signed out: ${message}`);
      else handlers.onRefused?.(status, message);
    },
    onState: (state) => {
      mark(state);
      if (state) handlers.onOpen?.();
    },
    url,
  });
  streams.add(stream);
  const close = stream.close.bind(stream);
  stream.close = () => {
    close();
    streams.delete(stream);
    mark(false);
  };
  return stream;
}

const routes: Record<string, View> = { "": overviewView, jobs: jobsView, queues: queuesView };

function context(current: Session): AppContext {
  return {
    api,
    canChangeJobs: current.role !== "read-only",
    canControlQueues: current.role === "admin",
    canSeeOperations: current.role !== "owner",
    flash,
    openStream,
    session: current,
  };
}

function renderNav(current: Session): void {
  const path = parseHash(location.hash).segments[0] ?? "";
  const link = (href: string, label: string, key: string) => el("a", { "aria-current": path === key ? "page" : undefined, href }, label);
  replace(nav, current.role === "owner" ? null : link("#/", "Overview", ""), link("#/jobs", "Jobs", "jobs"), current.role === "owner" ? null : link("#/queues", "Queues", "queues"));
  const role = current.role === "owner" ? `owner ${current.owner ?? ""}` : current.role;
  replace(
    who,
    el("span", { class: `badge role role-${current.role}` }, role),
    current.tokensRequired ? el("button", { class: "link-button", onclick: () => signOut("Signed out."), type: "button" }, "Sign out") : null,
  );
}

function route(): void {
  if (!session) return;
  disposeView?.();
  disposeView = null;
  delete document.body.dataset["ready"];
  const current = parseHash(location.hash);
  const [first = "", second] = current.segments;
  // Owner tokens cannot read figures across owners: their home is their jobs.
  if (session.role === "owner" && (first === "" || first === "queues")) {
    location.replace("#/jobs");
    return;
  }
  renderNav(session);
  const view = first === "jobs" && second !== undefined ? jobView : routes[first];
  if (!view) {
    replace(main, el("p", { class: "placeholder" }, "No such page. ", el("a", { href: "#/" }, "Go to the overview")));
    return;
  }
  document.title = `${first === "" ? "Overview" : first === "jobs" ? (second ? "Job" : "Jobs") : "Queues"} · Offload`;
  disposeView = view(main, context(session), current);
}

function signOut(message: string): void {
  disposeView?.();
  disposeView = null;
  for (const stream of [...streams]) stream.close();
  session = null;
  token = null;
  sessionStorage.removeItem(TOKEN_KEY);
  showSignIn(message);
}

function showSignIn(message: string | null): void {
  replace(nav);
  replace(who);
  delete document.body.dataset["ready"];
  document.title = "Sign in · Offload";
  const input = el("input", { autocomplete: "current-password", id: "token", name: "token", required: true, spellcheck: "false", type: "password" });
  const error = el("p", { class: "form-error", role: "alert" }, message ?? "");
  const submit = el("button", { class: "button primary", type: "submit" }, "Sign in");
  const form = el(
    "form",
    {
      class: "sign-in",
      onsubmit: async (event: Event) => {
        event.preventDefault();
        const candidate = input.value.trim();
        if (!candidate) return;
        submit.disabled = true;
        setText(error, "");
        try {
          await start(candidate);
        } catch (failure) {
          setText(error, failure instanceof ApiError && failure.status === 401 ? "This token is not accepted by the server." : errorText(failure));
        } finally {
          submit.disabled = false;
        }
      },
    },
    el("h1", null, "Sign in"),
    el("p", { class: "muted" }, "Enter an API token (one of OFFLOAD_TOKENS). It is kept in this tab only."),
    el("label", { for: "token" }, "Token"),
    input,
    error,
    submit,
  );
  replace(main, form);
  markReady("sign-in");
  input.focus();
}

/** Asks the server who `candidate` is (null: no token); throws the API's error. */
async function start(candidate: string | null): Promise<void> {
  const previous = token;
  token = candidate;
  try {
    session = await api.get<Session>("/api/session");
  } catch (error) {
    token = previous;
    throw error;
  }
  if (candidate) sessionStorage.setItem(TOKEN_KEY, candidate);
  route();
}

addEventListener("hashchange", route);

void (async () => {
  try {
    // A stored token, or none: a server without tokens (on a loopback address) answers without one.
    await start(token);
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      const hadToken = token !== null;
      token = null;
      sessionStorage.removeItem(TOKEN_KEY);
      showSignIn(hadToken ? "The saved token is no longer accepted: sign in again." : null);
    } else if (error instanceof ApiError && error.status === 404) {
      replace(main, el("p", { class: "placeholder" }, "This server has no GET /api/session: the dashboard needs a newer Offload server."));
    } else {
      replace(main, el("p", { class: "placeholder" }, `Cannot load the dashboard: ${errorText(error)} `, el("button", { class: "button", onclick: () => location.reload(), type: "button" }, "Try again")));
    }
  }
})();
