import type { Offload } from "../client/offload.js";
import type { OffloadEventName, OffloadEvents } from "../observability/events.js";

/** One lifecycle event as the hub hands it on. */
export type HubEvent = { [E in OffloadEventName]: { name: E; payload: OffloadEvents[E] } }[OffloadEventName];

type Listener = (event: HubEvent) => void;

const EVENT_NAMES: readonly OffloadEventName[] = ["job:enqueued", "job:started", "job:progress", "job:retrying", "job:completed", "job:failed", "job:cancelled"];

/** Owners remembered for owner-scoped streams; beyond this, the oldest are forgotten and read again when needed. */
const OWNER_CACHE_SIZE = 10_000;

/**
 * Fans the Offload instance's lifecycle events out to event streams: one
 * listener per event name on the instance, however many streams are open,
 * and a lookup by job id, so an event costs the same with 1 or 1,000 streams
 * on other jobs. Listens only while a stream is open.
 */
export class EventHub {
  private readonly byJob = new Map<string, Set<Listener>>();
  private readonly everything = new Set<Listener>();
  private readonly owners = new Map<string, string | null>();
  private attached = false;
  private readonly handlers = new Map<OffloadEventName, (payload: OffloadEvents[OffloadEventName]) => void>();

  constructor(private readonly offload: Offload) {
    for (const name of EVENT_NAMES) {
      this.handlers.set(name, (payload) => this.dispatch({ name, payload } as HubEvent));
    }
  }

  /** Calls `listener` with every event of job `id` until the returned function is called. */
  watchJob(id: string, listener: Listener): () => void {
    let set = this.byJob.get(id);
    if (!set) {
      set = new Set();
      this.byJob.set(id, set);
    }
    set.add(listener);
    this.attach();
    return () => {
      set.delete(listener);
      if (set.size === 0) this.byJob.delete(id);
      this.detachIfIdle();
    };
  }

  /** Calls `listener` with every event until the returned function is called. */
  watchAll(listener: Listener): () => void {
    this.everything.add(listener);
    this.attach();
    return () => {
      this.everything.delete(listener);
      this.detachIfIdle();
    };
  }

  /** The owner of job `id`: from the enqueue event when this process saw it, else read from the database (null if the job is gone). */
  async ownerOf(id: string): Promise<string | null | undefined> {
    if (this.owners.has(id)) return this.owners.get(id);
    const job = await this.offload.getJob(id);
    if (!job) return undefined;
    this.remember(id, job.owner);
    return job.owner;
  }

  private remember(id: string, owner: string | null): void {
    if (this.owners.size >= OWNER_CACHE_SIZE) this.owners.delete(this.owners.keys().next().value!);
    this.owners.set(id, owner);
  }

  private dispatch(event: HubEvent): void {
    if (event.name === "job:enqueued") this.remember(event.payload.id, event.payload.job.owner);
    const listeners = this.byJob.get(event.payload.id);
    if (listeners) for (const listener of [...listeners]) listener(event);
    for (const listener of [...this.everything]) listener(event);
  }

  private attach(): void {
    if (this.attached) return;
    this.attached = true;
    for (const [name, handler] of this.handlers) this.offload.on(name, handler);
  }

  private detachIfIdle(): void {
    if (!this.attached || this.byJob.size > 0 || this.everything.size > 0) return;
    this.attached = false;
    for (const [name, handler] of this.handlers) this.offload.off(name, handler);
  }

  /** Stops listening, whatever is still watching. */
  close(): void {
    this.byJob.clear();
    this.everything.clear();
    this.detachIfIdle();
  }
}
