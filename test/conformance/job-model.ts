import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { describe, it } from "node:test";
import fc from "fast-check";
import { v7 as uuidv7 } from "uuid";
import type { Backend } from "../../src/backend/backend.js";
import type { ClaimedJob, JobAck, JobListFilter, JobProgress, JobRecord, PruneAges } from "../../src/backend/index.js";
import { OffloadError } from "../../src/errors.js";
import { EMPTY_PROGRESS } from "../../src/job/progress.js";
import { JOB_STATES, isFinished, type JobState } from "../../src/job/states.js";
import type { BackendFactory } from "./backend-conformance.js";

/*
 * An in-memory model of the storage seam's semantics, random command
 * sequences, and a runner that applies each command to an engine and to the
 * model and compares everything observable after every step. Any engine that
 * passes agrees with the model, hence with every other engine that passes.
 */

/**
 * Every call the runner compares is given the model's `now`, so the clock may
 * start anywhere. It starts far from the wall clock, so that a view that
 * read the wall clock instead would disagree about which jobs are due.
 */
const T0 = Date.UTC(2100, 0, 1);
const QUEUES = ["q1", "q2"] as const;

/** How an ack, heartbeat or progress write presents its lease: the job's latest token, the one before, or a made-up one. */
type TokenChoice = "bogus" | "current" | "stale";

interface EnqueueSpec {
  /** Passed as `delayMs` (absent when undefined); a number only when `runAtOffset` is null. */
  delayMs?: number | null;
  maxAttempts: number;
  owner: string | null;
  priority: number;
  queue: string;
  /** Offset from now, or null for "now" by the engine. */
  runAtOffset: number | null;
  type: string;
  uniqueKey: string | null;
}

type AckSpec =
  | { outcome: "cancelled"; withError: boolean }
  | { outcome: "completed"; result: number }
  | { outcome: "failed" }
  | { delayMs: number; outcome: "retry" }
  | { outcome: "released" };

/**
 * Which job a command aims at: an index, modulo their number, into the jobs of
 * `pool` as the model sees them, or into every id handed out so far (`any`:
 * may name a deduplicated, deleted or pruned job). Without pools, a command
 * would seldom hit a running or finished job and most acks would be no-ops.
 */
interface JobPick {
  job: number;
  pool: "any" | "finished" | "running";
}

interface Target extends JobPick {
  token: TokenChoice;
}

type AckTarget = Target & { spec: AckSpec; withProgress: boolean };

/** What a claim asks for, as `jobClaim` and `jobAckAndClaim` take it. */
interface ClaimSpec {
  leaseMs: number;
  queues: { limit: number; queue: string }[];
  workerId: string;
}

/** One step of a random history. */
export type Command =
  | { kind: "ack"; acks: AckTarget[]; deleteCompleted?: boolean }
  | ({ kind: "ackAndClaim"; acks: AckTarget[]; deleteCompleted?: boolean } & ClaimSpec)
  | { kind: "advance"; ms: number }
  | ({ kind: "cancel" } & JobPick)
  | ({ kind: "claim" } & ClaimSpec)
  | ({ kind: "delete" } & JobPick)
  | { kind: "enqueue"; jobs: EnqueueSpec[] }
  | { kind: "heartbeat"; leaseMs: number; targets: Target[] }
  | { filter: JobListFilter; kind: "list"; limit: number }
  | { kind: "progress"; processed: number; targets: Target[] }
  | { ages: PruneAges; kind: "prune" }
  | { kind: "rescue" }
  | ({ kind: "retry" } & JobPick);

interface ErrorEntry {
  attempt: number;
  at: number;
  code: string;
}

/** A job as the model holds it; `status` is raw (a due `scheduled` job is viewed as `queued`). */
interface ModelJob {
  attempt: number;
  cancelRequested: boolean;
  error: ErrorEntry | null;
  errors: ErrorEntry[];
  finishedAt: number | null;
  id: string;
  leaseExpiresAt: number | null;
  maxAttempts: number;
  owner: string | null;
  priority: number;
  progress: JobProgress;
  queue: string;
  result: unknown;
  runAt: number;
  seq: number;
  startedAt: number | null;
  status: JobState;
  type: string;
  uniqueKey: string | null;
  workerId: string | null;
}

/** An ack as the model applies it: `current` tells whether it presents the job's latest lease token. */
interface ModelAck {
  current: boolean;
  error: ErrorEntry;
  id: string;
  progress: JobProgress | undefined;
  spec: AckSpec;
}

interface AckResult {
  applied: boolean;
  id: string;
  status: JobState | null;
}

/** What the runner compares: a job as seen at `now`. */
type Observed = Omit<ModelJob, "seq">;

type Outcome<T> = T | "OFFLOAD_ERR_INVALID_STATE";

/**
 * The semantics of the seam in plain TypeScript. Leases are held through
 * `leaseExpiresAt` inclusive; the rescuer takes those with `leaseExpiresAt < now`.
 */
export class JobModel {
  private readonly jobs = new Map<string, ModelJob>();
  private seq = 0;

  private viewStatus(job: ModelJob, now: number): JobState {
    return job.status === "scheduled" && job.runAt <= now ? "queued" : job.status;
  }

  private clearLease(job: ModelJob): void {
    job.leaseExpiresAt = null;
    job.workerId = null;
  }

  private recordError(job: ModelJob, error: ErrorEntry): void {
    job.error = error;
    job.errors.push(error);
  }

  /** Applies only while the job is running under the presented lease. */
  private held(id: string, current: boolean): ModelJob | undefined {
    const job = this.jobs.get(id);
    return job && job.status === "running" && current ? job : undefined;
  }

  insert(specs: readonly (EnqueueSpec & { id: string })[], now: number): { deduplicated: boolean; id: string; status: JobState }[] {
    return specs.map((spec) => {
      if (spec.uniqueKey !== null) {
        const holder = this.unfinishedHolder(spec.type, spec.uniqueKey);
        if (holder) return { deduplicated: true, id: holder.id, status: this.viewStatus(holder, now) };
      }
      const runAt = now + (spec.runAtOffset ?? spec.delayMs ?? 0);
      const job: ModelJob = {
        attempt: 0,
        cancelRequested: false,
        error: null,
        errors: [],
        finishedAt: null,
        id: spec.id,
        leaseExpiresAt: null,
        maxAttempts: spec.maxAttempts,
        owner: spec.owner,
        priority: spec.priority,
        progress: { ...EMPTY_PROGRESS },
        queue: spec.queue,
        result: null,
        runAt,
        seq: this.seq++,
        startedAt: null,
        status: runAt > now ? "scheduled" : "queued",
        type: spec.type,
        uniqueKey: spec.uniqueKey,
        workerId: null,
      };
      this.jobs.set(job.id, job);
      return { deduplicated: false, id: job.id, status: job.status };
    });
  }

  private unfinishedHolder(type: string, uniqueKey: string): ModelJob | undefined {
    return [...this.jobs.values()].find((j) => j.type === type && j.uniqueKey === uniqueKey && !isFinished(j.status));
  }

  /** Ids claimed per queue, in claim order. */
  claim(queues: readonly { limit: number; queue: string }[], leaseMs: number, workerId: string, now: number): Map<string, string[]> {
    const claimed = new Map<string, string[]>();
    for (const { limit, queue } of queues) {
      const ready = [...this.jobs.values()]
        .filter((j) => j.queue === queue && this.viewStatus(j, now) === "queued")
        .sort((a, b) => b.priority - a.priority || a.runAt - b.runAt || a.seq - b.seq)
        .slice(0, Math.max(0, limit));
      for (const job of ready) {
        Object.assign(job, { attempt: job.attempt + 1, leaseExpiresAt: now + leaseMs, startedAt: now, status: "running", workerId });
      }
      if (ready.length > 0) claimed.set(queue, [...(claimed.get(queue) ?? []), ...ready.map((j) => j.id)]);
    }
    return claimed;
  }

  heartbeat(leases: readonly { current: boolean; id: string }[], leaseMs: number, now: number): { cancelRequested: boolean; id: string; renewed: boolean }[] {
    return leases.map(({ current, id }) => {
      const job = this.held(id, current);
      if (!job) return { cancelRequested: false, id, renewed: false };
      job.leaseExpiresAt = now + leaseMs;
      return { cancelRequested: job.cancelRequested, id, renewed: true };
    });
  }

  progress(updates: readonly { current: boolean; id: string; progress: JobProgress }[]): string[] {
    return updates.filter(({ current, id, progress }) => {
      const job = this.held(id, current);
      if (job) job.progress = progress;
      return job !== undefined;
    }).map((u) => u.id);
  }

  /** `deleteCompleted`: a completed job is deleted (the worker option `prune.completed: 0`). */
  ack(acks: readonly ModelAck[], now: number, deleteCompleted = false): AckResult[] {
    return acks.map(({ current, error, id, progress, spec }) => {
      const job = this.held(id, current);
      if (!job) return { applied: false, id, status: null };
      if (progress) job.progress = progress;
      this.clearLease(job);
      const finish = (status: JobState) => {
        job.status = status;
        job.finishedAt = isFinished(status) ? now : null;
      };
      switch (spec.outcome) {
        case "completed":
          job.result = spec.result;
          job.error = null; // a success clears the latest error; the errors list keeps the history
          finish("completed");
          if (deleteCompleted) this.jobs.delete(id);
          break;
        case "failed":
          this.recordError(job, error);
          finish(job.cancelRequested ? "cancelled" : "failed");
          break;
        case "retry":
          this.recordError(job, error);
          if (job.cancelRequested) finish("cancelled");
          else {
            job.runAt = now + spec.delayMs;
            finish(job.runAt <= now ? "queued" : "scheduled");
          }
          break;
        case "cancelled":
          if (spec.withError) this.recordError(job, error);
          finish("cancelled");
          break;
        case "released":
          if (job.cancelRequested) finish("cancelled");
          else {
            // The attempt is refunded, so the job never started.
            job.attempt -= 1;
            job.startedAt = null;
            finish("queued");
          }
          break;
      }
      return { applied: true, id, status: job.status };
    });
  }

  /** `jobAckAndClaim`: the acks, then a claim that sees the jobs they made ready. */
  ackAndClaim(acks: readonly ModelAck[], claim: ClaimSpec, now: number, deleteCompleted = false): { acks: AckResult[]; claimed: Map<string, string[]> } {
    const results = this.ack(acks, now, deleteCompleted);
    return { acks: results, claimed: this.claim(claim.queues, claim.leaseMs, claim.workerId, now) };
  }

  cancel(id: string, now: number): { outcome: "cancelled" | "finished" | "requested"; status: JobState } | null {
    const job = this.jobs.get(id);
    if (!job) return null;
    if (job.status === "scheduled" || job.status === "queued") {
      job.status = "cancelled";
      job.finishedAt = now;
      return { outcome: "cancelled", status: job.status };
    }
    if (job.status === "running") {
      job.cancelRequested = true;
      return { outcome: "requested", status: job.status };
    }
    return { outcome: "finished", status: job.status };
  }

  retry(id: string, now: number): Outcome<{ status: JobState } | null> {
    const job = this.jobs.get(id);
    if (!job) return null;
    if (job.status !== "failed" && job.status !== "cancelled") return "OFFLOAD_ERR_INVALID_STATE";
    if (job.uniqueKey !== null && this.unfinishedHolder(job.type, job.uniqueKey)) return "OFFLOAD_ERR_INVALID_STATE";
    Object.assign(job, {
      attempt: 0,
      cancelRequested: false,
      error: null,
      finishedAt: null,
      progress: { ...EMPTY_PROGRESS },
      result: null,
      runAt: now,
      startedAt: null,
      status: "queued",
    });
    return { status: job.status };
  }

  delete(id: string): Outcome<boolean> {
    const job = this.jobs.get(id);
    if (!job) return false;
    if (!isFinished(job.status)) return "OFFLOAD_ERR_INVALID_STATE";
    this.jobs.delete(id);
    return true;
  }

  rescue(now: number): { cancelled: string[]; failed: string[]; requeued: string[] } {
    const result = { cancelled: [] as string[], failed: [] as string[], requeued: [] as string[] };
    for (const job of this.jobs.values()) {
      if (job.status !== "running" || job.leaseExpiresAt === null || job.leaseExpiresAt >= now) continue;
      this.recordError(job, { attempt: job.attempt, at: now, code: "lease_expired" });
      this.clearLease(job);
      const status = job.cancelRequested ? "cancelled" : job.attempt >= job.maxAttempts ? "failed" : "queued";
      job.status = status;
      job.finishedAt = status === "queued" ? null : now;
      result[status === "queued" ? "requeued" : status].push(job.id);
    }
    return result;
  }

  prune(ages: PruneAges, now: number): number {
    let deleted = 0;
    for (const job of [...this.jobs.values()]) {
      if (!isFinished(job.status) || job.finishedAt === null || job.finishedAt >= now - ages[job.status]) continue;
      this.jobs.delete(job.id);
      deleted++;
    }
    return deleted;
  }

  /** Every job as seen at `now`, newest first, optionally filtered as `jobList` filters. */
  view(now: number, filter: JobListFilter = {}): Observed[] {
    return [...this.jobs.values()]
      .sort((a, b) => b.seq - a.seq)
      .map((job): Observed => {
        const { seq: _seq, ...fields } = job;
        return { ...fields, errors: [...job.errors], progress: { ...job.progress }, status: this.viewStatus(job, now) };
      })
      .filter(
        (j) =>
          (filter.status === undefined || j.status === filter.status) &&
          (filter.queue === undefined || j.queue === filter.queue) &&
          (filter.type === undefined || j.type === filter.type) &&
          (filter.owner === undefined || j.owner === filter.owner),
      );
  }

  /** Ids of the jobs in `pool`, oldest first. */
  idsIn(pool: "finished" | "running"): string[] {
    return [...this.jobs.values()].filter((j) => (pool === "running" ? j.status === "running" : isFinished(j.status))).map((j) => j.id);
  }

  /** `queueCounts` as seen at `now`. */
  counts(now: number): { counts: Record<JobState, number>; queue: string }[] {
    const byQueue = new Map<string, Record<JobState, number>>();
    for (const job of this.view(now)) {
      const counts = byQueue.get(job.queue) ?? (Object.fromEntries(JOB_STATES.map((s) => [s, 0])) as Record<JobState, number>);
      counts[job.status]++;
      byQueue.set(job.queue, counts);
    }
    return [...byQueue.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([queue, counts]) => ({ counts, queue }));
  }
}

function observe(job: JobRecord): Observed {
  const entry = (e: { attempt: number; at: number; code: string }): ErrorEntry => ({ attempt: e.attempt, at: e.at, code: e.code });
  return {
    attempt: job.attempt,
    cancelRequested: job.cancelRequested,
    error: job.error && entry(job.error),
    errors: job.errors.map(entry),
    finishedAt: job.finishedAt,
    id: job.id,
    leaseExpiresAt: job.leaseExpiresAt,
    maxAttempts: job.maxAttempts,
    owner: job.owner,
    priority: job.priority,
    progress: job.progress,
    queue: job.queue,
    result: job.result,
    runAt: job.runAt,
    startedAt: job.startedAt,
    status: job.status,
    type: job.type,
    uniqueKey: job.uniqueKey,
    workerId: job.workerId,
  };
}

/** The fields of a job that a claim hands back (`ClaimedJobRecord`). */
type ObservedClaim = Omit<Observed, "error" | "errors" | "result">;

function observeClaimed({ job }: ClaimedJob): ObservedClaim {
  // The same projection as observe(), of the fields a claim carries.
  const { error: _error, errors: _errors, result: _result, ...claimed } = observe({ ...job, error: null, errors: [], result: null });
  return claimed;
}

/** The engine's form of a model ack. */
function toJobAck({ error, id, leaseToken, progress, spec }: ModelAck & { leaseToken: string }): JobAck {
  const base = { id, leaseToken, ...(progress ? { progress } : {}) };
  const jobError = { ...error, message: "boom", stack: null };
  switch (spec.outcome) {
    case "completed":
      return { ...base, outcome: "completed", resultJson: JSON.stringify(spec.result) };
    case "failed":
      return { ...base, error: jobError, outcome: "failed" };
    case "retry":
      return { ...base, delayMs: spec.delayMs, error: jobError, outcome: "retry" };
    case "cancelled":
      return { ...base, error: spec.withError ? jobError : null, outcome: "cancelled" };
    case "released":
      return { ...base, outcome: "released" };
  }
}

function progressOf(processed: number): JobProgress {
  return { failed: 0, message: `step ${processed}`, percent: processed * 10, processed, total: 10 };
}

/** Asserts that the engine agrees with the model on `what`, naming it above the assertion's diff. */
function agree(what: string, actual: unknown, expected: unknown): void {
  try {
    assert.deepEqual(actual, expected);
  } catch (error) {
    throw new Error(`${what}: the engine (+ actual) disagrees with the model (- expected)\n${(error as Error).message}`);
  }
}

async function codeOf<T>(promise: Promise<T>): Promise<Outcome<T>> {
  try {
    return await promise;
  } catch (error) {
    if (error instanceof OffloadError && error.code === "OFFLOAD_ERR_INVALID_STATE") return error.code;
    throw error;
  }
}

/** Drives one engine and the model through `commands`, comparing after every step. */
export async function runAgainstModel(backend: Backend, commands: readonly Command[]): Promise<void> {
  const model = new JobModel();
  const ids: string[] = [];
  const tokens = new Map<string, string[]>();
  let now = T0;

  const idAt = ({ job, pool }: JobPick): string | undefined => {
    const inPool = pool === "any" ? [] : model.idsIn(pool);
    const candidates = inPool.length > 0 ? inPool : ids;
    return candidates.length === 0 ? undefined : candidates[job % candidates.length];
  };
  /** The real token a target presents, and whether it is the job's latest one. */
  const lease = (target: Target): { current: boolean; id: string; leaseToken: string } | undefined => {
    const { token } = target;
    const id = idAt(target);
    if (id === undefined) return undefined;
    const history = tokens.get(id) ?? [];
    const pick = token === "current" ? history.at(-1) : token === "stale" ? history.at(-2) : undefined;
    return { current: token === "current" && pick !== undefined, id, leaseToken: pick ?? randomUUID() };
  };
  /** The acks a command's targets make at `step` (targets with no job to name are dropped). */
  const acksOf = (targets: readonly AckTarget[], step: number): (ModelAck & { leaseToken: string })[] =>
    targets.flatMap((a) => {
      const l = lease(a);
      if (!l) return [];
      const error = { attempt: step, at: now, code: `code-${step}` };
      return [{ ...l, error, progress: a.withProgress ? progressOf(step % 11) : undefined, spec: a.spec }];
    });
  /**
   * Records the lease tokens of a claim and compares it with the model's:
   * the ids per queue in claim order, then each claimed record with the
   * model's job after the claim.
   */
  const compareClaimed = (real: readonly ClaimedJob[], expected: Map<string, string[]>, touched: Set<string>): void => {
    const byQueue = new Map<string, string[]>();
    for (const claimed of real) {
      byQueue.set(claimed.job.queue, [...(byQueue.get(claimed.job.queue) ?? []), claimed.id]);
      tokens.set(claimed.id, [...(tokens.get(claimed.id) ?? []), claimed.leaseToken]);
      touched.add(claimed.id);
    }
    agree("ids claimed per queue", byQueue, expected);
    // The ids agree by now, so the model holds every claimed job.
    const after = new Map(model.view(now).map(({ error: _error, errors: _errors, result: _result, ...fields }): [string, ObservedClaim] => [fields.id, fields]));
    for (const claimed of real) agree(`job ${claimed.id} as claimed`, observeClaimed(claimed), after.get(claimed.id));
  };

  for (const [step, command] of commands.entries()) {
    const touched = new Set<string>();
    try {
      switch (command.kind) {
        case "enqueue": {
          const specs = command.jobs.map((spec) => ({ ...spec, id: uuidv7() }));
          ids.push(...specs.map((s) => s.id));
          const real = await backend.jobInsertMany({
            jobs: specs.map((s) => ({
              ...(s.delayMs === undefined ? {} : { delayMs: s.delayMs }),
              id: s.id,
              maxAttempts: s.maxAttempts,
              owner: s.owner,
              payloadJson: JSON.stringify({ n: s.id }),
              priority: s.priority,
              queue: s.queue,
              runAt: s.runAtOffset === null ? null : now + s.runAtOffset,
              timeoutMs: null,
              type: s.type,
              uniqueKey: s.uniqueKey,
            })),
            now,
          });
          agree(
            "jobInsertMany results",
            real.map((r) => ({ deduplicated: r.deduplicated, id: r.job.id, status: r.job.status })),
            model.insert(specs, now),
          );
          for (const r of real) touched.add(r.job.id);
          break;
        }
        case "claim": {
          const real = await backend.jobClaim({ leaseMs: command.leaseMs, now, queues: command.queues, workerId: command.workerId });
          compareClaimed(real, model.claim(command.queues, command.leaseMs, command.workerId, now), touched);
          break;
        }
        case "heartbeat": {
          const leases = command.targets.map(lease).filter((l) => l !== undefined);
          const real = await backend.jobHeartbeatMany({ leaseMs: command.leaseMs, leases: leases.map(({ id, leaseToken }) => ({ id, leaseToken })), now, workerId: "w1" });
          agree("jobHeartbeatMany results", real, model.heartbeat(leases, command.leaseMs, now));
          break;
        }
        case "progress": {
          const updates = command.targets.map(lease).filter((l) => l !== undefined).map((l) => ({ ...l, progress: progressOf(command.processed) }));
          const real = await backend.jobProgressMany({ now, updates: updates.map(({ id, leaseToken, progress }) => ({ id, leaseToken, progress })) });
          agree("ids whose progress was stored", real, model.progress(updates));
          for (const u of updates) touched.add(u.id);
          break;
        }
        case "ack": {
          const acks = acksOf(command.acks, step);
          const deleteCompleted = command.deleteCompleted === true;
          const real = await backend.jobAckMany({ acks: acks.map(toJobAck), deleteCompleted, now });
          agree("jobAckMany results", real, model.ack(acks, now, deleteCompleted));
          for (const a of acks) touched.add(a.id);
          break;
        }
        case "ackAndClaim": {
          const acks = acksOf(command.acks, step);
          const claim = { leaseMs: command.leaseMs, queues: command.queues, workerId: command.workerId };
          // `now` only at the top level (the worker's claim params carry none): the claim must take it from there.
          const deleteCompleted = command.deleteCompleted === true;
          const real = await backend.jobAckAndClaim({ acks: acks.map(toJobAck), claim, deleteCompleted, now });
          const expected = model.ackAndClaim(acks, claim, now, deleteCompleted);
          for (const a of acks) touched.add(a.id);
          agree("jobAckAndClaim ack results", real.acks, expected.acks);
          compareClaimed(real.claimed, expected.claimed, touched);
          break;
        }
        case "cancel": {
          const id = idAt(command);
          if (id === undefined) break;
          const real = await backend.jobCancel({ id, now });
          agree("jobCancel result", real && { outcome: real.outcome, status: real.job.status }, model.cancel(id, now));
          touched.add(id);
          break;
        }
        case "retry": {
          const id = idAt(command);
          if (id === undefined) break;
          const real = await codeOf(backend.jobRetry({ id, now }));
          const expected = model.retry(id, now);
          agree("jobRetry result", real === null || typeof real === "string" ? real : { status: real.status }, expected);
          touched.add(id);
          break;
        }
        case "delete": {
          const id = idAt(command);
          if (id === undefined) break;
          agree("jobDelete result", await codeOf(backend.jobDelete({ id })), model.delete(id));
          touched.add(id);
          break;
        }
        case "advance":
          now += command.ms;
          break;
        case "rescue": {
          const real = await backend.jobRescueExpired({ limit: 1_000, now });
          const sortedIds = (jobs: JobRecord[]) => jobs.map((j) => j.id).sort();
          const expected = model.rescue(now);
          agree(
            "jobs rescued",
            { cancelled: sortedIds(real.cancelled), failed: sortedIds(real.failed), requeued: sortedIds(real.requeued) },
            { cancelled: expected.cancelled.sort(), failed: expected.failed.sort(), requeued: expected.requeued.sort() },
          );
          break;
        }
        case "prune":
          agree("jobs pruned", await backend.jobPrune({ ages: command.ages, limit: 1_000, now }), model.prune(command.ages, now));
          break;
        case "list": {
          const seen: string[] = [];
          let cursor: string | null = null;
          for (let pages = 0; pages === 0 || cursor !== null; pages++) {
            assert.ok(pages <= ids.length + 1, "the cursor should reach the last page");
            const page = await backend.jobList({ cursor, filter: command.filter, limit: command.limit, now });
            assert.ok(page.items.length <= command.limit);
            seen.push(...page.items.map((j) => j.id));
            cursor = page.nextCursor;
          }
          agree(
            "ids listed page by page",
            seen,
            model.view(now, command.filter).map((j) => j.id),
          );
          break;
        }
      }

      // Everything observable, after every command.
      const listed = await backend.jobList({ filter: {}, limit: 10_000, now });
      assert.equal(listed.nextCursor, null);
      const expected = model.view(now);
      agree("jobList ids, newest first", listed.items.map((j) => j.id), expected.map((j) => j.id));
      for (const [i, job] of listed.items.entries()) agree(`job ${job.id} as listed`, observe(job), expected[i]);
      agree("queueCounts", await backend.queueCounts({ now }), model.counts(now));
      // queueStats counts by other means (indexes, a completed-jobs counter kept by acks, deletes and prunes): it must agree.
      // It also lists queues without jobs that ended some in the last hour; those have all counts zero.
      agree(
        "queueStats counts",
        (await backend.queueStats({ now })).filter((s) => Object.values(s.counts).some((n) => n > 0)).map((s) => ({ counts: s.counts, queue: s.queue })),
        model.counts(now),
      );
      const byId = new Map(expected.map((j) => [j.id, j]));
      for (const id of touched) {
        const real = await backend.jobGet({ id, now });
        agree(`jobGet ${id}`, real && observe(real), byId.get(id) ?? null);
      }
    } catch (error) {
      // Flattened rather than chained: the test reporter prints only two levels of causes.
      const detail = error instanceof Error ? (error.stack ?? error.message) : String(error);
      throw new Error(`step ${step} ${JSON.stringify(command)} at now = T0 + ${now - T0} ms\n${detail}`);
    }
  }
}

const jobIndex = fc.nat({ max: 1_000 });
/** Mostly the lease actually held, so that most writes apply. */
const tokenChoice = fc.constantFrom<TokenChoice>("current", "current", "current", "current", "stale", "bogus");
/** A running job, mostly: acks, heartbeats and progress. */
const targetFields = { job: jobIndex, pool: fc.constantFrom<JobPick["pool"]>("running", "running", "running", "any"), token: tokenChoice };
const target: fc.Arbitrary<Target> = fc.record(targetFields);
const pick = (...pools: JobPick["pool"][]): fc.Arbitrary<JobPick> => fc.record({ job: jobIndex, pool: fc.constantFrom(...pools) });

/** When a job runs: a `runAt` offset (with `delayMs` absent or null), or a `delayMs` (with no `runAt`), never both. */
const enqueueTiming: fc.Arbitrary<Pick<EnqueueSpec, "delayMs" | "runAtOffset">> = fc.oneof(
  {
    arbitrary: fc.record({ delayMs: fc.constant(null), runAtOffset: fc.constantFrom(null, null, -1_000, 0, 500, 2_000) }, { requiredKeys: ["runAtOffset"] }),
    weight: 3,
  },
  { arbitrary: fc.record({ delayMs: fc.constantFrom(0, 500, 1_000, 2_000), runAtOffset: fc.constant(null) }), weight: 1 },
);

const enqueueSpec: fc.Arbitrary<EnqueueSpec> = fc
  .tuple(
    fc.record({
      maxAttempts: fc.integer({ max: 3, min: 1 }),
      owner: fc.constantFrom(null, "alice"),
      priority: fc.integer({ max: 2, min: 0 }),
      queue: fc.constantFrom(...QUEUES),
      type: fc.constantFrom("t1", "t2"),
      uniqueKey: fc.constantFrom(null, null, "k1", "k2"),
    }),
    enqueueTiming,
  )
  .map(([fields, timing]) => ({ ...fields, ...timing }));

const ackSpec: fc.Arbitrary<AckSpec> = fc.oneof(
  fc.record({ outcome: fc.constant("completed" as const), result: fc.nat({ max: 99 }) }),
  fc.record({ outcome: fc.constant("failed" as const) }),
  fc.record({ delayMs: fc.constantFrom(0, 1_000), outcome: fc.constant("retry" as const) }),
  fc.record({ outcome: fc.constant("cancelled" as const), withError: fc.boolean() }),
  fc.record({ outcome: fc.constant("released" as const) }),
);

const ackTarget: fc.Arbitrary<AckTarget> = fc.record({ ...targetFields, spec: ackSpec, withProgress: fc.boolean() });
const ackTargets = fc.array(ackTarget, { maxLength: 2, minLength: 1 });
const deleteChoice = fc.constantFrom(false, false, false, true);

/** One or two queues, each with a limit that may be 0. */
const claimFields = {
  leaseMs: fc.constantFrom(1_000, 3_000),
  queues: fc.subarray([...QUEUES], { minLength: 1 }).chain((queues) =>
    fc.tuple(...queues.map((queue) => fc.record({ limit: fc.constantFrom(0, 1, 2, 3), queue: fc.constant(queue) }))),
  ),
  workerId: fc.constantFrom("w1", "w2"),
};

/**
 * Random commands, weighted towards the hot path (enqueue, claim, ack, and
 * the worker's ack-and-claim). `ackAndClaim` has a weight of its own rather
 * than a share of `ack`'s and `claim`'s, so every other command keeps about
 * 90% of the steps it had per history.
 */
export const commandArbitrary: fc.Arbitrary<Command> = fc.oneof(
  { arbitrary: fc.record({ jobs: fc.array(enqueueSpec, { maxLength: 4, minLength: 1 }), kind: fc.constant("enqueue" as const) }), weight: 4 },
  { arbitrary: fc.record({ ...claimFields, kind: fc.constant("claim" as const) }), weight: 5 },
  // One write in four deletes the jobs it completes (prune.completed: 0), as a worker so configured would.
  { arbitrary: fc.record({ acks: ackTargets, deleteCompleted: deleteChoice, kind: fc.constant("ack" as const) }), weight: 5 },
  {
    arbitrary: fc.record({
      ...claimFields,
      // Now and then no acks at all: the engine then only claims.
      acks: fc.oneof({ arbitrary: fc.constant<AckTarget[]>([]), weight: 1 }, { arbitrary: ackTargets, weight: 4 }),
      deleteCompleted: deleteChoice,
      kind: fc.constant("ackAndClaim" as const),
    }),
    weight: 4,
  },
  { arbitrary: fc.record({ kind: fc.constant("heartbeat" as const), leaseMs: fc.constantFrom(1_000, 3_000), targets: fc.array(target, { maxLength: 3, minLength: 1 }) }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant("progress" as const), processed: fc.integer({ max: 10, min: 0 }), targets: fc.array(target, { maxLength: 2, minLength: 1 }) }), weight: 1 },
  { arbitrary: pick("any", "running", "running").map((p) => ({ ...p, kind: "cancel" as const })), weight: 2 },
  { arbitrary: pick("any", "finished", "finished", "finished").map((p) => ({ ...p, kind: "retry" as const })), weight: 2 },
  { arbitrary: pick("any", "finished", "finished").map((p) => ({ ...p, kind: "delete" as const })), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant("advance" as const), ms: fc.constantFrom(1, 500, 999, 1_000, 1_001, 3_000, 5_000) }), weight: 5 },
  { arbitrary: fc.record({ kind: fc.constant("rescue" as const) }), weight: 3 },
  {
    arbitrary: fc.record({
      ages: fc.record({ cancelled: fc.constantFrom(0, 1_000, 5_000), completed: fc.constantFrom(0, 1_000, 5_000), failed: fc.constantFrom(0, 1_000, 5_000) }),
      kind: fc.constant("prune" as const),
    }),
    weight: 1,
  },
  {
    arbitrary: fc.record({
      filter: fc.record(
        {
          owner: fc.constantFrom("alice"),
          queue: fc.constantFrom(...QUEUES),
          status: fc.constantFrom(...JOB_STATES),
          type: fc.constantFrom("t1", "t2"),
        },
        { requiredKeys: [] },
      ),
      kind: fc.constant("list" as const),
      limit: fc.integer({ max: 4, min: 1 }),
    }),
    weight: 1,
  },
);

/** Options of {@link defineJobModelProperty}. */
export interface ModelPropertyOptions {
  /** Longest command sequence (the shortest is 10). Default 60. */
  maxCommands?: number;
  /** Random histories to try. Default 100. */
  numRuns?: number;
  /** Replays a reported failure. */
  seed?: number;
}

/**
 * Registers the model-based property with `node:test`: random command
 * histories, each on a fresh engine from `factory`, must agree with
 * {@link JobModel} on every observable after every command.
 */
export function defineJobModelProperty(name: string, factory: BackendFactory, options: ModelPropertyOptions = {}): void {
  const { maxCommands = 60, numRuns = 100, seed } = options;
  describe(`${name} backend against the job model`, () => {
    it("agrees with the in-memory model after every command of random histories", async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(commandArbitrary, { maxLength: maxCommands, minLength: Math.min(10, maxCommands), size: "max" }), async (commands) => {
          const { backend, cleanup } = await factory();
          try {
            await backend.migrate();
            await runAgainstModel(backend, commands);
          } finally {
            await cleanup();
          }
        }),
        { numRuns, ...(seed === undefined ? {} : { seed }) },
      );
    });
  });
}
