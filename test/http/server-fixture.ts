import type { TestContext } from "node:test";
import { z } from "zod";
import { createServer, type OffloadServer, type ServerOptions } from "../../src/http/index.js";
import { createOffload, type Offload } from "../../src/index.js";
import { tempSqlite } from "../helpers.js";

/** Tokens of the fixture's server. */
export const TOKENS = { admin: "admin-token-1", alice: "alice-token-1", bob: "bob-token-1", reader: "reader-token-1" } as const;
export const TOKENS_TEXT = `${TOKENS.admin}=admin,${TOKENS.alice}=owner:alice,${TOKENS.bob}=owner:bob,${TOKENS.reader}=read-only`;

/** A promise the test opens by hand. */
export function gate(): { open: () => void; promise: Promise<void> } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { open, promise };
}

export interface ApiResponse {
  body: any;
  headers: Headers;
  status: number;
  text: string;
}

export interface ServerFixture {
  /** Sends a request: `token` names one of TOKENS (or is a literal token); JSON bodies are serialised unless `raw`. */
  api(method: string, path: string, options?: { body?: unknown; headers?: Record<string, string>; raw?: string; token?: keyof typeof TOKENS | null | string }): Promise<ApiResponse>;
  /** Gates of `test.gated` jobs, by the payload's `gate` name: the handler reports progress step by step, waiting on each. */
  gates: Map<string, { open: () => void; promise: Promise<void> }[]>;
  offload: Offload;
  /** The handler's report times of `test.gated` progress, by job id. */
  reported: Map<string, { at: number; processed: number }[]>;
  server: OffloadServer;
  url: string;
  /** The database URL, for a second Offload instance ("another process"). */
  database: string;
}

/**
 * A real server on a free port of 127.0.0.1, over its own SQLite file, with
 * test job types and a running worker; closed after the test.
 */
export async function startServer(t: TestContext, options: Partial<ServerOptions> & { worker?: boolean } = {}): Promise<ServerFixture> {
  const db = tempSqlite("offload-http");
  const offload = createOffload({ database: db.url, logger: false });
  const gates: ServerFixture["gates"] = new Map();
  const reported: ServerFixture["reported"] = new Map();
  offload.define("test.echo", { schema: z.strictObject({ value: z.string().max(1_000_000).default("hi") }) }, async ({ value }) => ({ echoed: value }));
  offload.define("test.fail", { attempts: 1, schema: z.strictObject({}) }, async () => {
    throw new Error("failed on purpose");
  });
  offload.define(
    "test.gated",
    { queue: "gated", schema: z.strictObject({ gate: z.string(), steps: z.number().int().min(1).max(100) }) },
    async ({ gate: name, steps }, ctx) => {
      const list = Array.from({ length: steps }, () => gate());
      gates.set(name, list);
      for (let i = 0; i < steps; i++) {
        await list[i]!.promise;
        const times = reported.get(ctx.id) ?? [];
        reported.set(ctx.id, times);
        times.push({ at: performance.now(), processed: i + 1 });
        await ctx.progress({ message: `step ${i + 1}`, processed: i + 1, total: steps });
      }
      return { steps };
    },
  );
  const { worker = true, ...serverOptions } = options;
  if (worker) await offload.start({ pollInterval: 50 });
  const server = await createServer({ offload, port: 0, rateLimit: false, tokens: TOKENS_TEXT, ...serverOptions });
  t.after(async () => {
    await server.close();
    await offload.close({ grace: 0 });
    db.cleanup();
  });
  const api: ServerFixture["api"] = async (method, path, { body, headers = {}, raw, token = "admin" } = {}) => {
    const h: Record<string, string> = { ...headers };
    if (token !== null) h.authorization = `Bearer ${token in TOKENS ? TOKENS[token as keyof typeof TOKENS] : token}`;
    let payload: string | undefined = raw;
    if (body !== undefined) {
      payload = JSON.stringify(body);
      h["content-type"] ??= "application/json";
    }
    const response = await fetch(server.url + path, { body: payload, headers: h, method });
    const text = await response.text();
    let parsed: unknown = undefined;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    return { body: parsed, headers: response.headers, status: response.status, text };
  };
  return { api, database: db.url, gates, offload, reported, server, url: server.url };
}

/** Reads a server-sent event stream, event by event, with the time each arrived. */
export async function openEvents(url: string, token: string | null) {
  const controller = new AbortController();
  const response = await fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {}, signal: controller.signal });
  const events: { at: number; data: any; event: string }[] = [];
  const waiters: (() => void)[] = [];
  let ended = false;
  const done = (async () => {
    if (!response.body) return;
    const decoder = new TextDecoder();
    let buffer = "";
    try {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        const at = performance.now();
        buffer += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = buffer.indexOf("\n\n")) !== -1) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          let event = "message";
          const data: string[] = [];
          for (const line of block.split("\n")) {
            if (line.startsWith("event: ")) event = line.slice(7);
            else if (line.startsWith("data: ")) data.push(line.slice(6));
          }
          if (data.length > 0) events.push({ at, data: JSON.parse(data.join("\n")), event });
        }
        for (const wake of waiters.splice(0)) wake();
      }
    } catch {
      // aborted by the test
    } finally {
      ended = true;
      for (const wake of waiters.splice(0)) wake();
    }
  })();
  /** Resolves with the first event (from index `from`) matching `check`, or rejects after `timeoutMs`. */
  async function next(check: (e: { data: any; event: string }) => boolean, { from = 0, timeoutMs = 10_000 } = {}) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = events.slice(from).find(check);
      if (found) return found;
      if (ended) throw new Error(`stream ended without the event; got ${JSON.stringify(events.map((e) => e.event))}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for an event; got ${JSON.stringify(events.map((e) => e.event))}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }
  return { close: () => controller.abort(), done, events, get ended() { return ended; }, next, response };
}
