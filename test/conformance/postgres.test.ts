import { defineBackendConformance } from "./backend-conformance.js";
import { defineJobModelProperty } from "./job-model.js";
import { postgresFactory } from "./postgres-factory.js";
import type { PostgresBackend } from "../../src/backends/postgres/postgres-backend.js";

defineBackendConformance("postgres", postgresFactory, {
  recordSchemaVersion: async (backend, version) => {
    const pg = backend as PostgresBackend;
    await pg.pool.query(`INSERT INTO "${pg.schema}".migrations (version, name, checksum) VALUES ($1, $2, $3)`, [version, `from-the-future-${version}`, "0".repeat(64)]);
  },
});

// OFFLOAD_MODEL_RUNS=2000 for a long soak; OFFLOAD_MODEL_SEED=<seed> replays a reported failure.
const runs = process.env.OFFLOAD_MODEL_RUNS;
const seed = process.env.OFFLOAD_MODEL_SEED;
defineJobModelProperty("postgres", postgresFactory, { numRuns: runs ? Number(runs) : 40, ...(seed ? { seed: Number(seed) } : {}) });
