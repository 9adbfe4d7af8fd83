import { defineJobModelProperty } from "./job-model.js";
import { sqliteFactory } from "./sqlite-factory.js";

// OFFLOAD_MODEL_RUNS=2000 for a long soak; OFFLOAD_MODEL_SEED=<seed> replays a reported failure.
const runs = process.env.OFFLOAD_MODEL_RUNS;
const seed = process.env.OFFLOAD_MODEL_SEED;

defineJobModelProperty("sqlite", sqliteFactory, { numRuns: runs ? Number(runs) : 60, ...(seed ? { seed: Number(seed) } : {}) });
