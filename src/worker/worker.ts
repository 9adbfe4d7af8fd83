import { hostname } from "node:os";
import { randomUUID } from "node:crypto";
import type { Backend, QueueClaim } from "../backend/backend.js";
import type { ClaimedJob, JobAck, JobAckResult } from "../backend/types.js";
import type { JobTypeDefinition } from "../job/definition.js";
import { toJobErrorView } from "../job/view.js";
import type { Logger } from "../observability/logger.js";
import type { OffloadEventBus } from "../observability/events.js";
import { WorkerPresence } from "./presence.js";
import { Maintenance } from "../maintenance/maintenance.js";
import { Attempt, type AttemptHooks } from "./attempt.js";
import { MAX_FLUSHES, OutcomeWriter, type PendingOutcome } from "./outcome-writer.js";
import type { ResolvedWorkerOptions } from "./worker-options.js";

interface Slot {
  /** Average handler duration (ms, moving), or null before the first attempt ends: decides the prefetch. */
  avgMs: number | null;
  limit: number;
  /** Claimed ahead, waiting for a slot, in claim order: their leases are held and renewed. */
  waiting: Attempt[];
  /** Jobs asked for by claims in flight. */
  claiming: number;
  /** Starting the line's next jobs is deferred to the next event-loop turn (see onHandlerSettled). */
  resumeScheduled: boolean;
  used: number;
}

/**
 * Prefetch: a claim may take, beyond a queue's free slots, the jobs its
 * slots are expected to finish within this horizon (at most
 * {@link MAX_PREFETCH}). Short jobs then start from memory the moment a slot
 * frees, and one claim round trip and one commit carry hundreds of jobs;
 * jobs that take long are never held back from other workers (their
 * prefetch rounds to 0). Measured with no-op jobs (PostgreSQL, concurrency
 * 10): 2,713 jobs/s without prefetch, 4,182 with at most the concurrency
 * (10), ~10,000 with at most 500. At most 1,000 since two worker processes
 * share a queue at once: interleaved runs of 2 x 50 on PostgreSQL, medians
 * of 6, 27,500 -> 29,400 jobs/s (fewer, larger claims stepping over each
 * other's locked rows); one process unchanged within the noise.
 */
const PREFETCH_HORIZON_MS = 20;
const MAX_PREFETCH = 1_000;
/** Weight of the newest duration in a queue's moving average. */
const DURATION_WEIGHT = 0.1;

/** How many jobs of `slot`'s queue to claim ahead, beyond its free slots. */
function prefetchFor(slot: Slot): number {
  if (slot.avgMs === null) return 0;
  const expected = Math.floor((slot.limit * PREFETCH_HORIZON_MS) / Math.max(slot.avgMs, 0.01));
  return Math.min(MAX_PREFETCH, expected);
}

/** Longest wait of {@link Worker.warmUp}: start() does not hang on a database out of reach. */
const WARM_UP_MAX_MS = 2_000;

/** Longest pause between retries of a failed claim. */
const MAX_ERROR_BACKOFF_MS = 5_000;

/**
 * Claims in flight at once where writes run side by side (PostgreSQL): while
 * one claim is in the database, a second tops up the line, so the slots do
 * not run dry waiting for a claim that a busy server answers late. A single
 * writer (SQLite) claims one at a time.
 */
const MAX_CLAIMS_IN_FLIGHT = 2;

/**
 * The worker runtime of one process: claims jobs into per-queue slots, runs
 * them, renews their leases in one write per heartbeat, and writes their
 * outcomes in batches. Every write for an attempt carries its lease token,
 * so a worker that lost a job can never overwrite the attempt that replaced it.
 */
export class Worker {
  readonly id = `${hostname()}/${process.pid}/${randomUUID().slice(0, 8)}`;
  private state: "running" | "stopping" | "stopped" = "running";
  private readonly slots = new Map<string, Slot>();
  /** Attempts whose outcome is not yet written, by job id: their leases are renewed. */
  private readonly active = new Map<string, Attempt>();
  /** Attempts whose outcome is not known yet. */
  private outcomesPending = 0;
  /** Handlers that have not returned yet (their slots are held). */
  private handlersPending = 0;
  /** Waits of `stop()` for the counts above, checked whenever one drops. */
  private readonly countWaiters = new Set<() => void>();
  private readonly hooks: AttemptHooks = {
    onHandlerSettled: (attempt) => this.onHandlerSettled(attempt),
    onOutcome: (attempt, ack) => this.onOutcome(attempt, ack),
    onProgress: (attempt) => this.onProgress(attempt),
  };
  private wake: (() => void) | null = null;
  private wakePending = false;
  private wakeScheduled = false;
  private loopDone: Promise<void> = Promise.resolve();
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private heartbeating = false;
  private progressTimer: NodeJS.Timeout | null = null;
  /** One wake-up timer per due time (epoch ms) this process knows of. */
  private readonly dueTimers = new Map<number, NodeJS.Timeout>();
  private readonly outcomes: OutcomeWriter;
  private readonly unsubscribe: () => void;
  private readonly maintenance: Maintenance;
  private readonly presence: WorkerPresence;
  private stopping: Promise<void> | null = null;
  /** Backoff after a failed claim, and when the next claim may go. */
  private claimBackoffMs = 0;
  private claimRetryAt = 0;
  /** Outcomes are written with the claims (single-writer engines), not beside them. */
  private readonly ridingAcks: boolean;
  /** Completed jobs are deleted by their ack, not kept (`prune.completed: 0`). */
  private readonly deleteCompleted: boolean;
  /** Free slots per queue as this worker last wrote them to the engine's waiters (engines with hand-offs). */
  private waitingAs = new Map<string, number>();
  private waitingWrite: Promise<void> | null = null;
  private waitingDirty = false;
  private waitingWrittenAt = 0;

  constructor(
    private readonly backend: Backend,
    private readonly types: ReadonlyMap<string, JobTypeDefinition>,
    private readonly events: OffloadEventBus,
    private readonly logger: Logger,
    private readonly options: ResolvedWorkerOptions,
  ) {
    const queues =
      typeof options.concurrency === "number"
        ? new Map([...new Set([...types.values()].map((t) => t.options.queue))].map((q) => [q, options.concurrency as number]))
        : options.concurrency;
    for (const [queue, limit] of queues) this.slots.set(queue, { avgMs: null, claiming: 0, limit, resumeScheduled: false, used: 0, waiting: [] });
    const ready = backend.notifier.onJobsReady((queue) => {
      if (queue === null || this.slots.has(queue)) this.signal();
    });
    // Another process cancelled a job: if it runs here, abort now instead of at the next heartbeat.
    const cancel = backend.notifier.onCancelRequested((id) => this.cancelLocal(id));
    // A job an enqueue elsewhere claimed for this worker while it waited: it takes the free slot it was sent for.
    const handOff = backend.waitersPut && backend.notifier.onHandOff ? backend.notifier.onHandOff((claimed) => this.takeHandOff(claimed)) : () => undefined;
    this.unsubscribe = () => {
      ready();
      cancel();
      handOff();
    };
    this.ridingAcks = !backend.capabilities.concurrentWrites;
    this.deleteCompleted = options.pruneAges.completed === 0;
    this.maintenance = new Maintenance(backend, events, logger, options);
    this.presence = new WorkerPresence(backend, logger, this.id, () => [...this.slots].map(([queue, slot]) => ({ concurrency: slot.limit, queue })));
    this.outcomes = new OutcomeWriter(
      backend,
      logger,
      {
        claimLoopWillTake: () => this.ridingAcks && this.wakeScheduled && this.state === "running",
        onAbandoned: ({ attempt }) => this.forget(attempt),
        onWritten: (pending, result) => this.afterAck(pending, result),
      },
      this.deleteCompleted,
    );
  }

  /** How long a claim holds a job without a heartbeat. */
  get leaseMs(): number {
    return this.options.leaseMs;
  }

  /** Queues this worker serves, with their slots. */
  get queues(): ReadonlyMap<string, { limit: number; used: number }> {
    return this.slots;
  }

  /**
   * Readies the engine for this worker's first claims and acks
   * (Backend.workerWarmUp): as many connections as it uses at once (its
   * claims share one; each outcome write in flight takes one). Never throws,
   * and waits at most {@link WARM_UP_MAX_MS}: claims open what they need anyway.
   */
  async warmUp(): Promise<void> {
    if (!this.backend.workerWarmUp) return;
    const started = Date.now();
    let timer: NodeJS.Timeout | undefined;
    const warming = this.backend
      .workerWarmUp({ connections: 1 + (this.ridingAcks ? 0 : MAX_FLUSHES), deleteCompleted: this.deleteCompleted, queues: [...this.slots.keys()] })
      .then(
        () => this.logger.debug({ ms: Date.now() - started, workerId: this.id }, "worker warmed up"),
        (error: unknown) => this.logger.warn({ err: error }, "could not ready the database connections before the first claim; claims will open them"),
      );
    await Promise.race([warming, new Promise<void>((resolve) => (timer = setTimeout(resolve, WARM_UP_MAX_MS)))]);
    clearTimeout(timer);
  }

  start(): void {
    this.logger.info({ queues: Object.fromEntries([...this.slots].map(([q, s]) => [q, s.limit])), workerId: this.id }, "worker started");
    this.loopDone = this.claimLoop();
    this.heartbeatTimer = setInterval(() => void this.heartbeat(), this.options.heartbeatIntervalMs);
    this.maintenance.start();
    this.presence.start();
  }

  /** Asks the attempt running job `id` in this process, if any, to stop now. */
  cancelLocal(id: string): void {
    this.active.get(id)?.abort("cancelled", "Cancellation was requested");
  }

  /**
   * Wakes the claim loop at `ms` (epoch), when a job this process knows of
   * becomes due: a delayed enqueue or a retry's backoff. Polling covers jobs
   * scheduled by other processes. A timer per distinct due time, not one for
   * the earliest only: a single timer forgot every later job once it fired,
   * leaving them to the next poll (up to `pollInterval` late).
   */
  wakeAt(ms: number): void {
    const delay = ms - Date.now();
    if (this.state !== "running" || this.dueTimers.has(ms) || delay > 2 ** 31 - 1) return;
    this.dueTimers.set(
      ms,
      setTimeout(() => {
        this.dueTimers.delete(ms);
        // A timer can fire a millisecond or so before Date.now() reaches `ms`; a claim then finds nothing due.
        if (Date.now() < ms) this.wakeAt(ms);
        else this.signal();
      }, Math.max(0, delay)),
    );
  }

  /** Wakes the claim loop (new jobs, or a slot came free). */
  signal(): void {
    if (this.wakeScheduled) return;
    this.wakeScheduled = true;
    // Deferred to the next turn of the event loop so that every slot freed in
    // this turn is claimed for in one batch, not one claim per finished job.
    setImmediate(() => {
      this.wakeScheduled = false;
      if (this.wake) {
        const wake = this.wake;
        this.wake = null;
        wake();
      } else {
        this.wakePending = true;
      }
    });
  }

  private async claimLoop(): Promise<void> {
    const inFlight = new Set<Promise<void>>();
    const maxInFlight = this.ridingAcks ? 1 : MAX_CLAIMS_IN_FLIGHT;
    while (this.state === "running") {
      const backoff = this.claimRetryAt - Date.now();
      if (backoff > 0) {
        await this.sleep(backoff);
        continue;
      }
      const wanted = inFlight.size < maxInFlight ? this.wantedClaims() : [];
      if (wanted.length === 0) {
        await this.sleep(this.options.pollIntervalMs);
        continue;
      }
      this.wakePending = false;
      const claiming = this.claimOnce(wanted);
      if (maxInFlight === 1) {
        // One claim at a time: wait for it; claim again at once while claims come back full, after
        // the backoff when one failed; a short one waits for a wake-up (new jobs, a slot freed) or the poll.
        if ((await claiming) === "short" && this.state === "running") await this.sleep(this.options.pollIntervalMs);
        continue;
      }
      const tracked: Promise<void> = claiming.then((outcome) => {
        inFlight.delete(tracked);
        // A full claim may leave more to take, and a failed one is retried after its backoff: the
        // loop looks again. A short one waits for a wake-up or the poll.
        if (outcome !== "short") this.signal();
      });
      inFlight.add(tracked);
    }
    // Jobs of claims still in flight are admitted when they return, then released by stop() with the rest.
    await Promise.all(inFlight);
  }

  /**
   * What to claim now, per queue: claim when a slot is free, or when the jobs
   * claimed ahead (and those being claimed) run low, so that the claim's round
   * trip overlaps their run.
   */
  private wantedClaims(): QueueClaim[] {
    const wanted: QueueClaim[] = [];
    for (const [queue, slot] of this.slots) {
      const prefetch = prefetchFor(slot);
      const line = slot.waiting.length + slot.claiming;
      if (slot.used < slot.limit || line * 2 < prefetch) {
        const want = slot.limit + prefetch - slot.used - line;
        if (want > 0) wanted.push({ limit: want, queue });
      }
    }
    return wanted;
  }

  /**
   * One claim (with outcomes riding on it on a single writer): `filled` when
   * every queue got all it asked for, `short` when one got less, `failed`
   * when the claim failed (retried after {@link claimRetryAt}).
   */
  private async claimOnce(wanted: QueueClaim[]): Promise<"failed" | "filled" | "short"> {
    // On a single writer, outcomes waiting to be written ride on the claim: one transaction per cycle
    // instead of two. Where writes run side by side, the claim goes alone: riding, it waited for the
    // acks' commit to reach the disk (measured on PostgreSQL, concurrency 10, interleaved runs:
    // median 27,500 jobs/s riding, 34,200 alone).
    const acks = this.ridingAcks ? this.outcomes.take() : [];
    const claim = { leaseMs: this.options.leaseMs, queues: wanted, workerId: this.id };
    for (const w of wanted) this.slots.get(w.queue)!.claiming += w.limit;
    let claimed: ClaimedJob[] = [];
    let ackResults: JobAckResult[] = [];
    try {
      if (acks.length > 0) {
        ({ acks: ackResults, claimed } = await this.backend.jobAckAndClaim({ acks: acks.map((p) => p.ack), claim, deleteCompleted: this.deleteCompleted }));
      } else {
        claimed = await this.backend.jobClaim(claim);
      }
      this.claimBackoffMs = 0;
    } catch (error) {
      if (acks.length > 0) this.outcomes.putBack(acks);
      this.claimBackoffMs = Math.min(MAX_ERROR_BACKOFF_MS, Math.max(100, this.claimBackoffMs * 2));
      this.claimRetryAt = Date.now() + this.claimBackoffMs;
      this.logger.warn({ err: error, retryInMs: this.claimBackoffMs }, "claim failed; retrying");
      return "failed";
    } finally {
      for (const w of wanted) this.slots.get(w.queue)!.claiming -= w.limit;
    }
    // Committed: from here on nothing may be mistaken for a failed write.
    this.outcomes.written(acks, ackResults);
    this.admitAll(claimed);
    this.outcomes.flushSoon(true);
    this.writeWaiting(false);
    return claimed.length > 0 && claimed.length === wanted.reduce((n, w) => n + w.limit, 0) ? "filled" : "short";
  }

  /**
   * Tells the engine (where it hands jobs over) the queues where this worker
   * waits, idle with free slots: nothing claimed ahead, no claim in flight.
   * Written when that changes, after a claim, and again on heartbeat ticks
   * (`refresh`) so that the rows stay fresh; one write at a time.
   */
  private writeWaiting(refresh: boolean): void {
    if (!this.backend.waitersPut || this.state !== "running") return;
    if (this.waitingWrite) {
      this.waitingDirty = true;
      return;
    }
    const queues = [...this.slots].map(([queue, slot]) => ({
      free: slot.waiting.length === 0 && slot.claiming === 0 ? Math.max(0, slot.limit - slot.used) : 0,
      queue,
    }));
    const changed = queues.some((q) => (this.waitingAs.get(q.queue) ?? 0) !== q.free);
    const stale = refresh && queues.some((q) => q.free > 0) && Date.now() - this.waitingWrittenAt >= this.options.heartbeatIntervalMs / 2;
    if (!changed && !stale) return;
    const written = new Map(queues.map((q) => [q.queue, q.free]));
    this.waitingWrite = this.backend
      .waitersPut({ leaseMs: this.options.leaseMs, queues, ttlMs: this.waitingTtlMs(), workerId: this.id })
      .then(
        (waiting) => {
          this.waitingAs = waiting ? written : new Map();
          this.waitingWrittenAt = Date.now();
        },
        (error: unknown) => {
          // Unknown what the engine holds now: written again at the next change or tick.
          this.waitingAs = new Map();
          this.logger.warn({ err: error }, "could not write where this worker waits for jobs; it claims them as usual");
        },
      )
      .finally(() => {
        this.waitingWrite = null;
        if (this.waitingDirty) {
          this.waitingDirty = false;
          this.writeWaiting(false);
        }
      });
  }

  /** Rows written where this worker waits stay fresh for two heartbeat ticks and a second, so one missed write does not drop them. */
  private waitingTtlMs(): number {
    return 2 * this.options.heartbeatIntervalMs + 1_000;
  }

  /** A job an enqueue claimed for this worker, in a free slot the worker said it had. */
  private takeHandOff(claimed: ClaimedJob): void {
    if (claimed.job.workerId !== this.id) return;
    const free = this.waitingAs.get(claimed.job.queue);
    if (free !== undefined && free > 0) this.waitingAs.set(claimed.job.queue, free - 1);
    this.admitSafely(claimed);
  }

  /** Waits for a wake-up, or `ms`. */
  private sleep(ms: number): Promise<void> {
    if (this.wakePending) {
      this.wakePending = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wake = null;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  /**
   * Holds a free slot of `queue` for a job this process is enqueuing, when
   * the worker is idle there (a free slot, nothing claimed ahead): the
   * enqueue may then claim its own job in the same statement. Every true
   * answer is followed by {@link admitReserved} or {@link unreserve}.
   */
  reserve(queue: string): boolean {
    const slot = this.slots.get(queue);
    if (this.state !== "running" || !slot || slot.used >= slot.limit || slot.waiting.length > 0) return false;
    slot.used++;
    return true;
  }

  /** Runs a job the enqueue claimed for this worker in the slot {@link reserve} held. */
  admitReserved(claimed: ClaimedJob): void {
    const slot = this.slots.get(claimed.job.queue);
    if (slot) slot.used--;
    this.admitSafely(claimed);
  }

  /** Gives back a slot {@link reserve} held: the enqueue stored its job without claiming it. */
  unreserve(queue: string): void {
    const slot = this.slots.get(queue);
    if (slot) slot.used--;
    this.signal();
  }

  /**
   * Tracks a claimed job (its lease is renewed from now on) and puts it at
   * the end of its queue's line; returns the queue's slots, or undefined when
   * it has none here (the job then runs at once, outside any limit). The
   * caller starts the line.
   */
  private line(claimed: ClaimedJob): Slot | undefined {
    const { job } = claimed;
    // This worker may claim a job again whose earlier attempt it still tracks (the lease was lost and
    // the job rescued before a heartbeat told it): that attempt is over, and must not shadow this one.
    this.active.get(job.id)?.abort("lease_lost", "The job was claimed again after this attempt's lease was lost");
    const attempt = new Attempt(claimed, this.types.get(job.type), this.hooks, this.options.leaseMs);
    this.active.set(attempt.id, attempt);
    this.outcomesPending++;
    const slot = this.slots.get(job.queue);
    if (!slot) {
      this.runAttempt(attempt, undefined);
      return undefined;
    }
    // Behind the jobs already claimed ahead, even when a slot is free: one whose start was deferred
    // (see onHandlerSettled) came from an earlier claim and goes first. Claims in flight answer in the
    // order sent (Backend.jobClaim), so the line stays in claim order.
    slot.waiting.push(attempt);
    return slot;
  }

  private runAttempt(attempt: Attempt, slot: Slot | undefined): void {
    const { job } = attempt;
    if (slot) slot.used++;
    this.handlersPending++;
    if (this.events.has("job:started")) {
      this.events.emit("job:started", {
        attempt: job.attempt,
        id: job.id,
        maxAttempts: job.maxAttempts,
        queue: job.queue,
        runAt: new Date(job.runAt).toISOString(),
        type: job.type,
        workerId: this.id,
      });
    }
    attempt.start();
  }

  private onOutcome(attempt: Attempt, ack: JobAck | null): void {
    this.outcomesPending--;
    // Settled while claimed ahead (cancelled, lease lost, shutdown): it never starts, and leaves the line.
    if (!attempt.started) {
      const waiting = this.slots.get(attempt.job.queue)?.waiting;
      const at = waiting?.indexOf(attempt) ?? -1;
      if (at !== -1) waiting!.splice(at, 1);
    }
    if (ack) {
      this.outcomes.add({ ack, attempt });
    } else {
      this.forget(attempt);
      this.logger.warn({ attempt: attempt.job.attempt, jobId: attempt.id }, "lease lost; the attempt was abandoned without writing its outcome");
    }
    this.checkCountWaiters();
  }

  /** Stops tracking `attempt`, unless a newer attempt of the same job has taken its place. */
  private forget(attempt: Attempt): void {
    if (this.active.get(attempt.id) === attempt) this.active.delete(attempt.id);
  }

  /**
   * Admits a claim's jobs: every one into its line first, then the lines
   * start what their free slots take. Not a loop in the async claimOnce, and
   * no start per job: V8 compiles a function with a hot loop on the spot
   * (on-stack replacement), callees inlined, and a start per job inlined the
   * whole of a job's start into this loop's compile (see completedResults in
   * the PostgreSQL engine).
   */
  private admitAll(claimed: readonly ClaimedJob[]): void {
    const touched = new Set<Slot>();
    for (const job of claimed) {
      const slot = this.lineSafely(job);
      if (slot) touched.add(slot);
    }
    for (const slot of touched) this.startFromLine(slot);
  }

  /** Admits one job (a hand-off, an enqueue's own job): into its line, then the line starts. */
  private admitSafely(claimed: ClaimedJob): void {
    const slot = this.lineSafely(claimed);
    if (slot) this.startFromLine(slot);
  }

  /** `line`, where a bug can cost one job (rescued when its lease expires) but never the claim loop. */
  private lineSafely(claimed: ClaimedJob): Slot | undefined {
    try {
      return this.line(claimed);
    } catch (error) {
      this.logger.error({ err: error, jobId: claimed.id }, "could not start the attempt; the job will be rescued when its lease expires");
      return undefined;
    }
  }


  /** The slot is held until the handler itself returns, even when the outcome was settled by an abort first. */
  private onHandlerSettled(attempt: Attempt): void {
    this.handlersPending--;
    const slot = this.slots.get(attempt.job.queue);
    if (slot) {
      slot.used--;
      const ms = Date.now() - attempt.startedAt;
      slot.avgMs = slot.avgMs === null ? ms : slot.avgMs + DURATION_WEIGHT * (ms - slot.avgMs);
      if (this.state === "running" && slot.waiting.length > 0) {
        if (slot.claiming === 0 && slot.waiting.length * 2 < prefetchFor(slot)) {
          // The line runs low and no claim is on its way: the claim loop must send one now. Handlers
          // that return at once settle in one chain of microtasks, which would run the whole line
          // before the loop (woken through the event loop) and the pool (process.nextTick) get a
          // turn, so the claim left only once the line was empty (measured: every claim of a no-op
          // queue asked for the full line, none overlapped). Starting the next job one event-loop
          // turn later lets the claim go out first.
          if (!slot.resumeScheduled) {
            slot.resumeScheduled = true;
            setImmediate(() => {
              slot.resumeScheduled = false;
              this.startFromLine(slot);
            });
          }
        } else {
          // A job claimed ahead takes the slot at once, from memory.
          this.startFromLine(slot);
        }
      }
    }
    this.signal();
    this.checkCountWaiters();
  }

  /** Starts jobs claimed ahead into the free slots of `slot`'s queue. */
  private startFromLine(slot: Slot): void {
    while (this.state === "running" && slot.used < slot.limit && slot.waiting.length > 0) {
      const next = slot.waiting.shift()!;
      try {
        this.runAttempt(next, slot);
      } catch (error) {
        this.logger.error({ err: error, jobId: next.id }, "could not start the attempt; the job will be rescued when its lease expires");
      }
    }
  }

  /** Gives back every job claimed ahead that has not started (shutdown): released, its attempt refunded. */
  private releaseWaiting(): void {
    for (const slot of this.slots.values()) {
      const waiting = slot.waiting;
      slot.waiting = [];
      for (const attempt of waiting) attempt.abort("shutdown", "The worker is shutting down");
    }
  }

  private checkCountWaiters(): void {
    // Empty but while stop() waits: called twice a job, the loop over an empty set is not worth V8's compile.
    if (this.countWaiters.size === 0) return;
    for (const check of this.countWaiters) check();
  }

  /** Resolves once `done()` holds, or after `timeoutMs`. */
  private waitFor(done: () => boolean, timeoutMs: number): Promise<void> {
    if (done()) return Promise.resolve();
    return new Promise((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        this.countWaiters.delete(check);
        resolve();
      };
      const check = () => {
        if (done()) finish();
      };
      const timer = setTimeout(finish, timeoutMs);
      this.countWaiters.add(check);
    });
  }

  private onProgress(attempt: Attempt): void {
    const job = attempt.job;
    if (this.events.has("job:progress")) {
      this.events.emit("job:progress", { attempt: job.attempt, id: job.id, progress: attempt.progress, queue: job.queue, type: job.type });
    }
    if (!this.progressTimer) this.progressTimer = setTimeout(() => void this.flushProgress(), this.options.progressIntervalMs);
  }

  /** Writes every attempt's latest unwritten progress in one transaction. */
  private async flushProgress(): Promise<void> {
    this.progressTimer = null;
    const dirty = [...this.active.values()].filter((a) => a.progressDirty && !a.outcomeKnown);
    if (dirty.length === 0) return;
    for (const a of dirty) a.progressDirty = false;
    try {
      await this.backend.jobProgressMany({ updates: dirty.map((a) => ({ id: a.id, leaseToken: a.leaseToken, progress: a.progress })) });
    } catch (error) {
      this.logger.warn({ err: error }, "progress write failed; will retry");
      for (const a of dirty) if (!a.outcomeKnown) a.progressDirty = true;
      if (!this.progressTimer) this.progressTimer = setTimeout(() => void this.flushProgress(), Math.max(1_000, this.options.progressIntervalMs));
    }
  }

  private afterAck(pending: PendingOutcome, result: JobAckResult): void {
    const { ack, attempt } = pending;
    this.forget(attempt);
    const { job } = attempt;
    if (result.applied && result.status === "completed" && !this.events.has("job:completed")) return; // the common case: nothing to tell
    const base = { attempt: job.attempt, id: job.id, queue: job.queue, type: job.type };
    if (!result.applied) {
      this.logger.warn({ ...base, outcome: ack.outcome }, "outcome not written: the lease had been taken over");
      return;
    }
    switch (result.status) {
      case "completed":
        if (ack.outcome === "completed") {
          this.events.emit("job:completed", { ...base, durationMs: attempt.durationMs, result: JSON.parse(ack.resultJson) });
        }
        break;
      case "failed":
        if ("error" in ack && ack.error) this.events.emit("job:failed", { ...base, durationMs: attempt.durationMs, error: toJobErrorView(ack.error) });
        break;
      case "scheduled":
      case "queued":
        if (ack.outcome === "retry") {
          this.wakeAt(Date.now() + ack.delayMs);
          this.events.emit("job:retrying", {
            ...base,
            durationMs: attempt.durationMs,
            error: toJobErrorView(ack.error),
            runAt: new Date(Date.now() + ack.delayMs).toISOString(),
          });
        }
        break;
      case "cancelled":
        this.events.emit("job:cancelled", base);
        break;
      default:
        break;
    }
  }

  private async heartbeat(): Promise<void> {
    this.writeWaiting(true);
    if (this.heartbeating || this.active.size === 0) return;
    this.heartbeating = true;
    const attempts = [...this.active.values()];
    const sentAt = Date.now();
    try {
      const results = await this.backend.jobHeartbeatMany({
        leaseMs: this.options.leaseMs,
        leases: attempts.map((a) => ({ id: a.id, leaseToken: a.leaseToken })),
        workerId: this.id,
      });
      for (let i = 0; i < results.length; i++) {
        const result = results[i]!;
        const attempt = attempts[i]!;
        if (!result.renewed) {
          attempt.abort("lease_lost", "The lease on this job was lost: it expired and was handed to another worker");
        } else {
          attempt.leaseExpiresAt = sentAt + this.options.leaseMs;
          if (result.cancelRequested) attempt.abort("cancelled", "Cancellation was requested");
        }
      }
    } catch (error) {
      this.logger.warn({ err: error }, "heartbeat failed");
      const now = Date.now();
      for (const attempt of attempts) {
        if (now >= attempt.leaseExpiresAt) attempt.abort("lease_lost", "The lease could not be renewed before it expired");
      }
    } finally {
      this.heartbeating = false;
    }
  }

  /**
   * Stops claiming, lets running attempts finish for up to `graceMs`, then
   * aborts the rest and puts their jobs back to `queued` without spending an
   * attempt. Resolves when every outcome is written.
   */
  stop(graceMs: number): Promise<void> {
    this.stopping ??= this.doStop(graceMs);
    return this.stopping;
  }

  private async doStop(graceMs: number): Promise<void> {
    this.state = "stopping";
    this.signal();
    // No more hand-offs: this returns once those already under way committed, and their jobs arrive
    // (and are released with the others) while the listener still runs, until unsubscribe below.
    if (this.backend.waitersDelete) {
      await this.waitingWrite;
      await this.backend.waitersDelete({ workerId: this.id }).catch((error: unknown) => this.logger.warn({ err: error }, "could not remove where this worker waits for jobs; the rows expire by themselves"));
    }
    await this.loopDone;
    this.releaseWaiting();
    await this.maintenance.stop();
    await this.waitFor(() => this.outcomesPending === 0, graceMs);
    // Aborting settles every outcome at once (released), whatever the handlers do.
    for (const attempt of this.active.values()) attempt.abort("shutdown", "The worker is shutting down");
    // Outcomes that cannot be written within a lease are left to the sweeper rather than holding stop() forever.
    await this.outcomes.drain(this.options.leaseMs);
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    if (this.progressTimer) clearTimeout(this.progressTimer);
    for (const timer of this.dueTimers.values()) clearTimeout(timer);
    this.dueTimers.clear();
    this.unsubscribe();
    await this.presence.stop();
    // Handlers that ignore their signal get a moment to return; their jobs are already written.
    await this.waitFor(() => this.handlersPending === 0, 1_000);
    if (this.handlersPending > 0) this.logger.warn({ handlers: this.handlersPending }, "handlers still running after stop: they ignore their AbortSignal");
    this.state = "stopped";
    this.logger.info({ workerId: this.id }, "worker stopped");
  }
}
