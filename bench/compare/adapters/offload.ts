/**
 * Offload, on SQLite or PostgreSQL, through its public API only
 * (createOffload, define, enqueue, enqueueMany, start, stop). Imported from
 * the working tree's src/ (bundled by esbuild at each compare run, see
 * build.ts), so the figures are those of the code as it is now.
 */
import { z } from "zod";
import { createOffload, type JobType, type Offload } from "../../../src/index.js";
import { preloadInBatches, SCHEDULED_DELAY_MS, type Adapter, type BenchHandler, type BenchPayload, type StartWorkerOptions, type StorageContext, type SystemDescription } from "../adapter.js";

/** Validated at enqueue and again before each attempt, as every Offload job is. */
const payloadSchema = z.object({ i: z.number().int(), ms: z.number().optional(), t: z.number().optional() });

const QUEUE = "default";

export function describeOffload(system: "offload-postgres" | "offload-sqlite"): SystemDescription {
  const engine =
    system === "offload-sqlite"
      ? "sqlite:<run dir>/bench.db: Offload's defaults (WAL, synchronous=NORMAL, busy_timeout 5 s)"
      : "postgres://…/<fresh database>: Offload's defaults (schema offload, pool of 10, LISTEN/NOTIFY wake-ups, synchronous_commit as the server has it)";
  return {
    persistence:
      system === "offload-sqlite"
        ? "every job is a row, deleted by the write that completes it (prune.completed: 0, see settings); failed jobs are kept; WAL + synchronous=NORMAL survives a process crash, may lose the last commits on power loss"
        : "every job is a row, deleted by the write that completes it (prune.completed: 0, see settings); failed jobs are kept; every enqueue and every batch of outcomes is a committed transaction (fsync), surviving a crash of the machine",
    settings: [
      `database ${engine}; logger: false`,
      "one job type, payload schema z.object({ i, ms?, t? }) (zod), checked at enqueue and before each attempt",
      "worker: offload.start({ concurrency: { default: N }, prune: { completed: 0 } }); every other option at its default (poll 1 s, lease 10 s, heartbeat 3 s, sweep 2 s)",
      ...(system === "offload-postgres"
        ? ["start() opens the connections its claims and acks use (three) and has the server plan their statements before the first claim, as it always does: part of the start-up (firstJobAfterMs), outside the measured window like every system's"]
        : []),
      "prune.completed: 0 (Offload's documented option for queues whose results nobody reads later) deletes each job as it completes instead of keeping it and its result 7 days, the default: graphile-worker never keeps completed jobs and BullMQ here keeps only the last 1,000",
      "enqueue one: type.enqueue(payload); bulk: type.enqueueMany(batch) (one transaction); preload: the same, 4 calls in flight; scheduled: enqueueMany(batch, { delay: 1 year })",
    ],
    system,
    title: system === "offload-sqlite" ? "Offload, SQLite" : "Offload, PostgreSQL",
  };
}

export class OffloadAdapter implements Adapter {
  private readonly offload: Offload;
  private readonly jobType: JobType<z.input<typeof payloadSchema>>;
  private handler: BenchHandler | null = null;

  constructor(
    readonly system: "offload-postgres" | "offload-sqlite",
    storage: StorageContext,
  ) {
    const database = system === "offload-sqlite" ? `sqlite:${storage.sqliteFile}` : storage.pgUrl;
    if (!database || database === "sqlite:null") throw new Error(`${system}: the run's storage has no ${system === "offload-sqlite" ? "SQLite file" : "PostgreSQL database"}`);
    this.offload = createOffload({ database, logger: false });
    this.jobType = this.offload.define("bench.job", { schema: payloadSchema }, async (payload: BenchPayload) => {
      await this.handler!(payload);
    });
  }

  async setup(): Promise<void> {
    await this.offload.migrate();
  }

  async enqueueOne(payload: BenchPayload): Promise<void> {
    await this.jobType.enqueue(payload);
  }

  async enqueueBulk(payloads: readonly BenchPayload[]): Promise<void> {
    await this.jobType.enqueueMany(payloads);
  }

  async preload(from: number, ready: number, scheduled: number): Promise<void> {
    await preloadInBatches(from, ready, scheduled, async (payloads, later) => {
      await this.jobType.enqueueMany(payloads, later ? { delay: SCHEDULED_DELAY_MS } : undefined);
    });
  }

  async startWorker({ concurrency, handler }: StartWorkerOptions): Promise<void> {
    this.handler = handler;
    await this.offload.start({ concurrency: { [QUEUE]: concurrency }, prune: { completed: 0 } });
  }

  async stopWorker(): Promise<void> {
    await this.offload.stop({ grace: 10_000 });
  }

  async unfinished(): Promise<number> {
    const counts = (await this.offload.queueCounts()).find((c) => c.queue === QUEUE)?.counts;
    return counts ? counts.queued + counts.running : 0;
  }

  async teardown(): Promise<void> {
    await this.offload.close({ grace: 10_000 });
  }
}
