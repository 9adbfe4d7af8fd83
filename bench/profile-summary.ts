/**
 * Summarises a V8 CPU profile (`.cpuprofile`, as written by `node --cpu-prof`
 * or by `bench/scenario.ts --profile`): time by category, the top functions
 * by self time, and Offload's own functions by inclusive time.
 *
 *   node --import tsx bench/profile-summary.ts <file.cpuprofile> [--top N]
 */
import { readFileSync } from "node:fs";
import { relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

interface CallFrame {
  columnNumber: number;
  functionName: string;
  lineNumber: number;
  url: string;
}

interface ProfileNode {
  callFrame: CallFrame;
  children?: number[];
  id: number;
}

/** The parts of a V8 `Profiler.Profile` read here. */
export interface CpuProfile {
  endTime: number;
  nodes: ProfileNode[];
  samples?: number[];
  startTime: number;
  timeDeltas?: number[];
}

const root = fileURLToPath(new URL("..", import.meta.url));

function place(frame: CallFrame): string {
  if (!frame.url) return "";
  const path = frame.url.startsWith("file://") ? relative(root, fileURLToPath(frame.url)) : frame.url;
  return `${path}:${frame.lineNumber + 1}`;
}

function category(frame: CallFrame): string {
  const name = frame.functionName;
  if (name === "(garbage collector)" || name === "(idle)" || name === "(program)") return name;
  const url = frame.url;
  if (url.includes("/node_modules/")) return `node_modules/${url.split("/node_modules/")[1]!.split("/")[0]}`;
  if (url.includes("/src/")) return "offload src/";
  if (url.includes("/bench/")) return "bench/";
  if (url.startsWith("node:") || (!url.startsWith("file:") && url !== "")) return "node internals";
  // Native functions (better-sqlite3's statement methods, JSON, crypto...) carry no url.
  return "native (no url: better-sqlite3 calls, JSON, crypto...)";
}

function ms(us: number): string {
  return `${(us / 1000).toFixed(1).padStart(8)} ms`;
}

function pct(part: number, total: number): string {
  return `${((100 * part) / total).toFixed(1).padStart(5)} %`;
}

/** Text lines summarising the profile. */
export function summariseProfile(profile: CpuProfile, top = 15): string[] {
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);

  const selfById = new Map<number, number>();
  let total = 0;
  for (let i = 0; i < samples.length; i++) {
    // timeDeltas[i] is the time since the previous sample; charge it to the node sampled now.
    const dt = Math.max(0, deltas[i] ?? 0);
    selfById.set(samples[i]!, (selfById.get(samples[i]!) ?? 0) + dt);
    total += dt;
  }
  if (total === 0) return ["(empty profile)"];

  const key = (f: CallFrame) => `${f.functionName || "(anonymous)"}  ${place(f)}`;
  const selfByFn = new Map<string, number>();
  const byCategory = new Map<string, number>();
  const inclusiveByFn = new Map<string, number>();
  for (const [id, time] of selfById) {
    const frame = byId.get(id)!.callFrame;
    selfByFn.set(key(frame), (selfByFn.get(key(frame)) ?? 0) + time);
    byCategory.set(category(frame), (byCategory.get(category(frame)) ?? 0) + time);
    // Inclusive time of Offload's own functions: each function once per stack (recursion-safe).
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const f = byId.get(cur)!.callFrame;
      if (!f.url.includes("/src/")) continue;
      const k = key(f);
      if (seen.has(k)) continue;
      seen.add(k);
      inclusiveByFn.set(k, (inclusiveByFn.get(k) ?? 0) + time);
    }
  }

  const lines: string[] = [];
  const sorted = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]);
  lines.push(`profiled window ${ms(profile.endTime - profile.startTime).trim()}, ${samples.length} samples`);
  lines.push("time by category:");
  for (const [name, time] of sorted(byCategory)) lines.push(`  ${ms(time)} ${pct(time, total)}  ${name}`);
  lines.push(`top ${top} functions by self time:`);
  for (const [name, time] of sorted(selfByFn).slice(0, top)) lines.push(`  ${ms(time)} ${pct(time, total)}  ${name}`);
  lines.push(`top ${top} Offload functions (src/) by inclusive time:`);
  for (const [name, time] of sorted(inclusiveByFn).slice(0, top)) lines.push(`  ${ms(time)} ${pct(time, total)}  ${name}`);
  return lines;
}

function main(): void {
  const { positionals, values } = parseArgs({ allowPositionals: true, options: { top: { type: "string", default: "15" } } });
  if (positionals.length === 0) {
    process.stderr.write("usage: node --import tsx bench/profile-summary.ts <file.cpuprofile>... [--top N]\n");
    process.exit(2);
  }
  for (const file of positionals) {
    const profile = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
    process.stdout.write(`== ${file}\n${summariseProfile(profile, Number(values.top)).join("\n")}\n`);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();
