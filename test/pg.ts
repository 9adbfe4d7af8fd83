import { randomBytes } from "node:crypto";
import type { TestContext } from "node:test";
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

/** A statement a pg client sent: its connection, text (the test's schema named `offload`) and parameters. */
export interface SentStatement {
  client: pg.Client;
  text: string;
  values: unknown[];
}

/** Records every statement any pg client sends, until the test ends. */
export function recordStatements(t: TestContext): { clear: () => void; clients: () => Set<pg.Client>; sent: () => SentStatement[]; texts: () => string[] } {
  let sent: SentStatement[] = [];
  const query = pg.Client.prototype.query;
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    const config = args[0] as string | { text?: string; values?: unknown[] };
    const text = typeof config === "string" ? config : (config.text ?? "");
    const values = typeof config === "string" ? ((args[1] as unknown[] | undefined) ?? []) : (config.values ?? []);
    sent.push({ client: this, text: text.replaceAll(/"offload_[a-z0-9_]+_[0-9a-f]+"/g, "offload"), values });
    return (query as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof query;
  t.after(() => {
    pg.Client.prototype.query = query;
  });
  return {
    clear: () => {
      sent = [];
    },
    clients: () => new Set(sent.map((s) => s.client)),
    sent: () => sent,
    texts: () => sent.map((s) => s.text),
  };
}
