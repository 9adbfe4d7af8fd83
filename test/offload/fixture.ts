import assert from "node:assert/strict";
import type { TestContext } from "node:test";
import { createOffload, OffloadError, type ErrorCode, type JobView, type Offload, type OffloadEventName, type OffloadEvents } from "../../src/index.js";
import { tempSqlite, waitFor } from "../helpers.js";
import { tempPgSchema } from "../pg.js";

/**
 * A fresh SQLite file for one test. `open()` creates Offload instances on it
 * (several share the file, as several processes would); after the test every
 * instance is closed, in order, and the file removed.
 */
export function sqliteFixture(t: TestContext): { file: string; open: () => Offload; url: string } {
  const db = tempSqlite("offload-api");
  const opened: Offload[] = [];
  t.after(async () => {
    try {
      for (const offload of opened) await offload.close({ grace: 0 });
    } finally {
      db.cleanup();
    }
  });
  return {
    file: db.file,
    open: () => {
      const offload = createOffload({ database: db.url, logger: false });
      opened.push(offload);
      return offload;
    },
    url: db.url,
  };
}

/** One Offload instance on its own temp database, closed after the test. */
export function openOffload(t: TestContext): Offload {
  return sqliteFixture(t).open();
}

/** One Offload instance on a fresh PostgreSQL schema (named from `prefix`), closed and the schema dropped after the test. */
export function openPgOffload(t: TestContext, prefix: string): Offload {
  return pgOffloadFixture(t, prefix).offload;
}

/** {@link openPgOffload}, with the schema's name for tests that read its tables. */
export function pgOffloadFixture(t: TestContext, prefix: string): { offload: Offload; schema: string } {
  const schema = tempPgSchema(prefix);
  const offload = createOffload({ database: schema.url, logger: false });
  t.after(async () => {
    try {
      await offload.close({ grace: 0 });
    } finally {
      await schema.cleanup();
    }
  });
  return { offload, schema: schema.schema };
}

/** Polls `getJob(id)` until `check` holds for the job; returns that view. */
export async function waitForJob(offload: Offload, id: string, check: (view: JobView) => boolean, message = `job ${id}`): Promise<JobView> {
  let seen: JobView | null = null;
  await waitFor(async () => {
    seen = await offload.getJob(id);
    return seen !== null && check(seen);
  }, { message });
  return seen!;
}

/** A promise the test settles by hand: a handler waits on it to stay running. */
export function gate<T = void>(): { open: (value: T) => void; promise: Promise<T> } {
  let open!: (value: T) => void;
  const promise = new Promise<T>((resolve) => (open = resolve));
  return { open, promise };
}

/** Resolves with `signal.reason` once the signal aborts. */
export function whenAborted(signal: AbortSignal): Promise<Error> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve(signal.reason as Error);
    else signal.addEventListener("abort", () => resolve(signal.reason as Error), { once: true });
  });
}

/**
 * Awaits `promise`, which must reject with an OffloadError of `code` whose
 * message names each of `mentions` (field paths, type names).
 */
export async function rejectsWithCode(promise: Promise<unknown>, code: ErrorCode, ...mentions: string[]): Promise<OffloadError> {
  let caught: unknown = undefined;
  let resolved = false;
  try {
    await promise;
    resolved = true;
  } catch (error) {
    caught = error;
  }
  assert.ok(!resolved, `expected a rejection with ${code}, but it resolved`);
  assert.ok(caught instanceof OffloadError, `expected an OffloadError ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  for (const mention of mentions) assert.ok(caught.message.includes(mention), `expected the message to name ${mention}: ${caught.message}`);
  return caught;
}

export type RecordedEvent = { [E in OffloadEventName]: { name: E; payload: OffloadEvents[E] } }[OffloadEventName];

const ALL_EVENTS: readonly OffloadEventName[] = ["job:cancelled", "job:completed", "job:enqueued", "job:failed", "job:progress", "job:retrying", "job:started"];

/** Records every lifecycle event `offload` emits, in order. */
export function recordEvents(offload: Offload, names: readonly OffloadEventName[] = ALL_EVENTS): RecordedEvent[] {
  const events: RecordedEvent[] = [];
  for (const name of names) offload.on(name, (payload) => events.push({ name, payload } as RecordedEvent));
  return events;
}

/** Events of one name, for one job. */
export function eventsOf<E extends OffloadEventName>(events: readonly RecordedEvent[], name: E, id?: string): OffloadEvents[E][] {
  return events.filter((e) => e.name === name && (id === undefined || e.payload.id === id)).map((e) => e.payload as OffloadEvents[E]);
}

type AsyncMethod = (...args: never[]) => Promise<unknown>;

/**
 * Wraps `object[key]` (a real backend's method) so every call and its result
 * are recorded; `original` still reaches the real method. Not a mock: the call
 * goes through. Set `fail` to make calls throw instead, as an unreachable
 * database would.
 */
export function spyOn<O extends object, K extends keyof O>(
  object: O,
  key: K,
): {
  calls: { args: O[K] extends AsyncMethod ? Parameters<O[K]> : never; result: O[K] extends AsyncMethod ? Awaited<ReturnType<O[K]>> : never }[];
  fail: Error | null;
  original: O[K];
} {
  const original = (object[key] as unknown as AsyncMethod).bind(object) as unknown as O[K];
  const spy = { calls: [] as never[], fail: null as Error | null, original };
  (object as Record<K, unknown>)[key] = async (...args: never[]) => {
    if (spy.fail) throw spy.fail;
    const result = await (original as unknown as AsyncMethod)(...args);
    (spy.calls as unknown[]).push({ args, result });
    return result;
  };
  return spy;
}

/** A UUIDv7 string: version nibble 7, RFC 4122 variant. */
export const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
