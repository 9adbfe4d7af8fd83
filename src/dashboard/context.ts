import type { Api } from "./api.js";
import type { LifecycleEvent, Session } from "./api-types.js";
import { EventStream } from "./event-stream.js";
import type { Route } from "./router.js";
import type { SseMessage } from "./sse-parser.js";

/** What every view is given. */
export interface AppContext {
  readonly api: Api;
  /** Admin: pause and resume queues. */
  readonly canControlQueues: boolean;
  /** Admin and owner tokens: cancel, retry, delete, run now. Read-only tokens get no action controls at all. */
  readonly canChangeJobs: boolean;
  /** Admin and read-only: queue figures, throughput and workers (figures across owners). */
  readonly canSeeOperations: boolean;
  /** Shows a message in the banner; errors stay until dismissed or replaced. */
  flash(message: string, kind?: "error" | "info"): void;
  /** Opens a stream with the session's token; 401 signs out. */
  openStream(url: string, handlers: StreamHandlers): EventStream;
  readonly session: Session;
}

/** What a view hears from one of its event streams. */
export interface StreamHandlers {
  onEnd?(): boolean;
  onMessage(message: SseMessage): void;
  /** Each (re)connection. */
  onOpen?(): void;
  onRefused?(status: number, message: string): void;
}

/** A view draws itself into `root` and returns what stops its streams and timers. */
export type View = (root: HTMLElement, ctx: AppContext, route: Route) => () => void;

/** The library's event names that `/api/events` sends. */
const LIFECYCLE = new Set(["job:cancelled", "job:completed", "job:enqueued", "job:failed", "job:progress", "job:retrying", "job:started"]);

/** Whether a message of `/api/events` is a job's event, without parsing its data. */
export function isLifecycle(message: SseMessage): boolean {
  return LIFECYCLE.has(message.event);
}

/** Parses a message of `/api/events`; null for anything else. */
export function lifecycleEvent(message: SseMessage): LifecycleEvent | null {
  if (!LIFECYCLE.has(message.event)) return null;
  try {
    return { name: message.event as LifecycleEvent["name"], payload: JSON.parse(message.data) as LifecycleEvent["payload"] };
  } catch {
    return null;
  }
}

/** Error text for a failed call: the API's message. */
export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
