/**
 * With --cpu-prof: the V8 CPU profiles of the scenario and worker processes
 * (written by node --cpu-prof), mapped back from the esbuild bundle to the
 * TypeScript files through its source map, and summarised with
 * bench/profile-summary.ts for Offload's processing workers.
 */
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { SourceMap } from "node:module";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { BUILD_DIR } from "./build.js";
import { summariseProfile, type CpuProfile } from "../profile-summary.js";

const maps = new Map<string, SourceMap | null>();

function mapFor(url: string): SourceMap | null {
  if (!maps.has(url)) {
    try {
      const file = new URL(url).pathname;
      maps.set(url, new SourceMap(JSON.parse(readFileSync(`${file}.map`, "utf8")) as ConstructorParameters<typeof SourceMap>[0]));
    } catch {
      maps.set(url, null);
    }
  }
  return maps.get(url)!;
}

/** Rewrites the frames of bundle files to their sources (in place), and returns the profile. */
export function remapProfile(profile: CpuProfile & { nodes: { callFrame: { columnNumber: number; lineNumber: number; url: string } }[] }): CpuProfile {
  const bundle = pathToFileURL(BUILD_DIR).href;
  for (const node of profile.nodes) {
    const frame = node.callFrame;
    if (!frame.url.startsWith(bundle)) continue;
    const entry = mapFor(frame.url)?.findEntry(frame.lineNumber, frame.columnNumber);
    if (entry && "originalSource" in entry && entry.originalSource) {
      frame.url = new URL(entry.originalSource, frame.url).href;
      frame.lineNumber = entry.originalLine;
      frame.columnNumber = entry.originalColumn;
    }
  }
  return profile;
}

/** Summaries of Offload's processing workers' profiles and of its enqueue-one scenario process (run 1), remapped files written beside them. */
export function summariseWorkerProfiles(dir: string): string[] {
  const lines: string[] = [`CPU profiles (remapped to the sources) in ${dir}`];
  const files = readdirSync(dir).filter((f) => f.endsWith(".cpuprofile") && !f.endsWith(".src.cpuprofile"));
  for (const file of files) {
    const profile = remapProfile(JSON.parse(readFileSync(join(dir, file), "utf8")));
    writeFileSync(join(dir, file.replace(/\.cpuprofile$/, ".src.cpuprofile")), JSON.stringify(profile));
    // Offload's processing workers, and the scenario process of its one-at-a-time enqueues (the enqueue path).
    if (!/^offload-.*-(process-.*-run1-w1|enqueue-one-run1-main)\.cpuprofile$/.test(file)) continue;
    lines.push("", `== ${file}`, ...summariseProfile(profile, 15).map((l) => `  ${l}`));
  }
  return lines;
}
