import { SqliteBackend } from "../../src/backends/sqlite/sqlite-backend.js";
import { tempSqlite } from "../helpers.js";
import { defineJobModelProperty } from "./job-model.js";

// OFFLOAD_MODEL_RUNS=2000 for a long soak; OFFLOAD_MODEL_SEED=<seed> replays a reported failure.
const runs = process.env.OFFLOAD_MODEL_RUNS;
const seed = process.env.OFFLOAD_MODEL_SEED;

defineJobModelProperty(
  "sqlite",
  async () => {
    const temp = tempSqlite("offload-model");
    const backend = new SqliteBackend({ filename: temp.file });
    return {
      backend,
      cleanup: async () => {
        await backend.close();
        temp.cleanup();
      },
    };
  },
  { numRuns: runs ? Number(runs) : 60, ...(seed ? { seed: Number(seed) } : {}) },
);
