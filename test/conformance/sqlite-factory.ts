import { SqliteBackend } from "../../src/backends/sqlite/sqlite-backend.js";
import { tempSqlite } from "../helpers.js";
import type { BackendFactory } from "./backend-conformance.js";

/** A fresh SQLite engine on its own temp file; cleanup closes it and removes the directory. */
export const sqliteFactory: BackendFactory = async () => {
  const temp = tempSqlite("offload-conformance");
  const backend = new SqliteBackend({ filename: temp.file });
  return {
    backend,
    cleanup: async () => {
      await backend.close();
      temp.cleanup();
    },
  };
};
