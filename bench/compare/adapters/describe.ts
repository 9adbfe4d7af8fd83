/** Every system's settings, for the runner's console and docs/benchmarks.md (imports every client library: not for the measured processes). */
import type { SystemDescription, SystemName } from "../adapter.js";
import { describeBullmq } from "./bullmq.js";
import { describeGraphileWorker } from "./graphile-worker.js";
import { describeOffload } from "./offload.js";
import { describePgBoss } from "./pg-boss.js";

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
