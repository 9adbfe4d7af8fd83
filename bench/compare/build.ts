/**
 * Bundles the scenario and worker processes with esbuild, Offload's src/
 * included, into bench/.build/: the measured processes then run plain
 * JavaScript with no TypeScript loader in them (tsx's loader thread adds
 * about 30 MB of RSS and some CPU to every process), and Offload runs as
 * compiled code, from the working tree as it is at the start of the run (no
 * dist/ build, which could be stale or written under other people's feet).
 * npm packages stay external: they load from bench/node_modules (the peers)
 * and the root's node_modules (Offload's own dependencies), as installed.
 */
import { build } from "esbuild";
import { mkdirSync, readdirSync, rmSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** Bundles of the runs of this runner process: one directory per runner, so two comparisons never share (or delete) each other's. */
export const BUILD_DIR = fileURLToPath(new URL(`../.build/${process.pid}/`, import.meta.url));

export async function buildScenarioBundles(): Promise<{ runOne: string; worker: string }> {
  removeStaleBuilds();
  mkdirSync(BUILD_DIR, { recursive: true });
  await build({
    bundle: true,
    entryPoints: {
      "run-one": fileURLToPath(new URL("./run-one.ts", import.meta.url)),
      "worker-process": fileURLToPath(new URL("./worker-process.ts", import.meta.url)),
    },
    format: "esm",
    logLevel: "warning",
    outdir: BUILD_DIR,
    packages: "external",
    platform: "node",
    sourcemap: true,
    // Each adapter is its own chunk, loaded by the process that measures that system only.
    splitting: true,
    target: "node20",
  });
  return { runOne: `${BUILD_DIR}run-one.js`, worker: `${BUILD_DIR}worker-process.js` };
}

export function removeBuild(): void {
  rmSync(BUILD_DIR, { force: true, recursive: true });
}

/** Directories of runners that are gone (killed before they could clean up). */
function removeStaleBuilds(): void {
  const root = fileURLToPath(new URL("../.build/", import.meta.url));
  let entries: string[] = [];
  try {
    entries = readdirSync(root);
  } catch {
    return;
  }
  for (const entry of entries) {
    const pid = Number(entry);
    if (!Number.isSafeInteger(pid) || pid === process.pid || alive(pid)) continue;
    rmSync(`${root}${entry}`, { force: true, recursive: true });
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
