import { PostgresBackend } from "../../src/backends/postgres/postgres-backend.js";
import { PG_URL, tempPgSchema } from "../pg.js";
import type { BackendFactory } from "./backend-conformance.js";

/** A fresh PostgreSQL engine in a schema of its own; cleanup closes it and drops the schema. */
export const postgresFactory: BackendFactory = async () => {
  const temp = tempPgSchema("conf");
  const backend = new PostgresBackend({ connectionString: PG_URL, poolSize: 3, schema: temp.schema });
  return {
    backend,
    cleanup: async () => {
      await backend.close();
      await temp.cleanup();
    },
  };
};
