/**
 * Opens one system's adapter. Each adapter module is imported on demand (and
 * bundled as its own chunk), so a scenario or worker process loads only the
 * client library of the system it measures: its memory and start-up are that
 * system's alone.
 */
import type { Adapter, StorageContext, SystemName } from "../adapter.js";

export async function createAdapter(system: SystemName, storage: StorageContext): Promise<Adapter> {
  switch (system) {
    case "offload-sqlite":
    case "offload-postgres": {
      const { OffloadAdapter } = await import("./offload.js");
      return new OffloadAdapter(system, storage);
    }
    case "bullmq": {
      const { BullmqAdapter } = await import("./bullmq.js");
      return new BullmqAdapter(storage);
    }
    case "graphile-worker": {
      const { GraphileWorkerAdapter } = await import("./graphile-worker.js");
      return new GraphileWorkerAdapter(storage);
    }
    case "pg-boss": {
      const { PgBossAdapter } = await import("./pg-boss.js");
      return new PgBossAdapter(storage);
    }
  }
}
