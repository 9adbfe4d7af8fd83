import { randomBytes } from "node:crypto";
import pg from "pg";

/** The test server: env OFFLOAD_TEST_PG_URL, else the local PostgreSQL of the brief. */
export const PG_URL = process.env.OFFLOAD_TEST_PG_URL ?? "postgres://postgres@127.0.0.1:5432/test";

/**
 * A schema name of its own for one test (created by Offload's first
 * migration); `cleanup` drops it with everything in it.
 */
export function tempPgSchema(prefix = "t"): { cleanup: () => Promise<void>; schema: string; url: string } {
  const schema = `offload_${prefix}_${randomBytes(6).toString("hex")}`.toLowerCase().replace(/[^a-z0-9_]/g, "_");
  return {
    cleanup: async () => {
      const client = new pg.Client({ connectionString: PG_URL });
      await client.connect();
      try {
        await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      } finally {
        await client.end();
      }
    },
    schema,
    url: `${PG_URL}?schema=${schema}`,
  };
}

/** Runs `fn` with a plain pg client on the test server, then closes it. */
export async function withPg<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}
