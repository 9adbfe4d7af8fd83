import type { Adapter, StorageContext, SystemDescription, SystemName } from "../adapter.js";
import { BullmqAdapter, describeBullmq } from "./bullmq.js";
import { GraphileWorkerAdapter, describeGraphileWorker } from "./graphile-worker.js";
import { OffloadAdapter, describeOffload } from "./offload.js";
import { PgBossAdapter, describePgBoss } from "./pg-boss.js";

export function createAdapter(system: SystemName, storage: StorageContext): Adapter {
  switch (system) {
    case "offload-sqlite":
    case "offload-postgres":
      return new OffloadAdapter(system, storage);
    case "bullmq":
      return new BullmqAdapter(storage);
    case "graphile-worker":
      return new GraphileWorkerAdapter(storage);
    case "pg-boss":
      return new PgBossAdapter(storage);
  }
}

export function describeSystem(system: SystemName): SystemDescription {
  switch (system) {
    case "offload-sqlite":
    case "offload-postgres":
      return describeOffload(system);
    case "bullmq":
      return describeBullmq();
    case "graphile-worker":
      return describeGraphileWorker();
    case "pg-boss":
      return describePgBoss();
  }
}
