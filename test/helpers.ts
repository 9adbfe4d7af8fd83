import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Offload, OffloadEventName, OffloadEvents } from "../src/index.js";

/** A fresh SQLite file in its own temp directory; `cleanup` removes it. */
export function tempSqlite(name = "offload"): { cleanup: () => void; dir: string; file: string; url: string } {
  const dir = mkdtempSync(join(tmpdir(), `${name}-`));
  const file = join(dir, "offload.db");
  return { cleanup: () => rmSync(dir, { force: true, recursive: true }), dir, file, url: `sqlite:${file}` };
}

/**
 * Polls `check` until it returns a truthy value and returns it; fails with
 * `message` after `timeoutMs`. For conditions no event announces.
 */
export async function waitFor<T>(check: () => T | Promise<T>, { message = "condition", timeoutMs = 10_000, intervalMs = 10 } = {}): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs}ms waiting for ${message}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Resolves with the first `event` whose payload matches `predicate`; rejects after `timeoutMs`. */
export function nextEvent<E extends OffloadEventName>(
  offload: Offload,
  event: E,
  predicate: (payload: OffloadEvents[E]) => boolean = () => true,
  timeoutMs = 10_000,
): Promise<OffloadEvents[E]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      offload.off(event, listener);
      reject(new Error(`Timed out after ${timeoutMs}ms waiting for ${event}`));
    }, timeoutMs);
    const listener = (payload: OffloadEvents[E]) => {
      if (!predicate(payload)) return;
      clearTimeout(timer);
      offload.off(event, listener);
      resolve(payload);
    };
    offload.on(event, listener);
  });
}
