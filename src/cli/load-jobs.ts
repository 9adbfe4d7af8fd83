import { existsSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { Offload } from "../index.js";
import { CliError } from "./cli-error.js";

/**
 * The contract of a job module given to `--jobs`: a function, exported as
 * `default` or as `defineJobs`, that receives the CLI's Offload instance and
 * calls `offload.define(...)` once per job type. It may be async.
 *
 * ```ts
 * import type { Offload } from "offload";
 * export default function defineJobs(offload: Offload) {
 *   offload.define("email.send", { schema }, async (payload, ctx) => { ... });
 * }
 * ```
 */
export type DefineJobs = (offload: Offload) => void | Promise<void>;

const TYPESCRIPT = /\.[cm]?ts$/;

/**
 * Imports a job module (path relative to `cwd`) and lets it define its job
 * types on `offload`. Returns the names it defined. Throws a {@link CliError}
 * naming the module when it is missing, cannot be imported, exports no
 * function or defines no job type.
 */
export async function loadJobModule(offload: Offload, specifier: string, cwd = process.cwd()): Promise<string[]> {
  const path = resolve(cwd, specifier);
  if (!existsSync(path) || !statSync(path).isFile()) {
    throw new CliError(`Job module ${specifier} not found: no file at ${path}`);
  }
  const module = await importModule(specifier, path);
  const define = pickDefine(module);
  if (!define) {
    const names = Object.keys(module).filter((name) => name !== "__esModule");
    throw new CliError(
      `Job module ${specifier} exports no function to define jobs: expected \`export default function (offload) { offload.define(...) }\` or \`export function defineJobs(offload)\`; it exports ${names.length ? names.join(", ") : "nothing"}`,
    );
  }
  const before = new Set(offload.jobTypes.keys());
  try {
    await define(offload);
  } catch (error) {
    throw new CliError(`Job module ${specifier} failed while defining its jobs: ${(error as Error)?.message ?? String(error)}`, 1, { cause: error });
  }
  const added = [...offload.jobTypes.keys()].filter((name) => !before.has(name));
  if (added.length === 0) {
    throw new CliError(`Job module ${specifier} defined no job types: its function must call offload.define(name, options, handler) on the Offload instance it receives`);
  }
  return added;
}

function pickDefine(module: Record<string, unknown>): DefineJobs | null {
  if (typeof module.default === "function") return module.default as DefineJobs;
  if (typeof module.defineJobs === "function") return module.defineJobs as DefineJobs;
  // A CommonJS module whose `module.exports = { defineJobs }` arrives as `default`.
  const cjs = module.default as { defineJobs?: unknown } | null | undefined;
  if (typeof cjs === "object" && cjs !== null && typeof cjs.defineJobs === "function") return cjs.defineJobs as DefineJobs;
  return null;
}

async function importModule(specifier: string, path: string): Promise<Record<string, unknown>> {
  const url = pathToFileURL(path).href;
  try {
    return (await import(url)) as Record<string, unknown>;
  } catch (error) {
    if (TYPESCRIPT.test(path) && (error as { code?: string }).code === "ERR_UNKNOWN_FILE_EXTENSION") {
      await registerTypeScript(specifier);
      try {
        // Node caches the failed import of this URL; a query makes it a new one.
        return (await import(`${url}?typescript`)) as Record<string, unknown>;
      } catch (retryError) {
        throw importFailed(specifier, retryError);
      }
    }
    throw importFailed(specifier, error);
  }
}

/** Node 20 cannot import TypeScript by itself; tsx can, when it is installed. */
async function registerTypeScript(specifier: string): Promise<void> {
  try {
    const { register } = await import("tsx/esm/api");
    register();
  } catch (error) {
    throw new CliError(`Job module ${specifier} is TypeScript, which Node cannot load by itself: install tsx (npm install --save-dev tsx) or compile the module to JavaScript`, 1, {
      cause: error,
    });
  }
}

function importFailed(specifier: string, error: unknown): CliError {
  return new CliError(`Job module ${specifier} could not be loaded: ${(error as Error)?.message ?? String(error)}`, 1, { cause: error });
}
