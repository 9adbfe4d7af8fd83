#!/usr/bin/env node
// Runs the whole suite: every test/**/*.test.ts file under Node's test runner
// (TypeScript through tsx), spec output, then one closing line
// "N passed, N failed". Extra arguments filter files by substring:
//   npm test -- conformance
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join, relative } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const filters = process.argv.slice(2);

function find(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === "node_modules" ? [] : find(path);
    return entry.name.endsWith(".test.ts") ? [relative(root, path)] : [];
  });
}

const files = find(join(root, "test"))
  .filter((file) => filters.length === 0 || filters.some((f) => file.includes(f)))
  .sort();
if (files.length === 0) {
  console.error(`no test files match ${filters.join(" ")}`);
  process.exit(1);
}

// Servers under test serve the dashboard from dist/dashboard: rebuild it from
// src/dashboard first (about 0.2 s), so an edit is never tested stale.
const build = spawnSync(process.execPath, [join(root, "scripts/build-dashboard.mjs")], { cwd: root, stdio: "inherit" });
if (build.status !== 0) {
  console.error("the dashboard did not build (scripts/build-dashboard.mjs)");
  process.exit(build.status ?? 1);
}

const result = spawnSync(
  process.execPath,
  [
    "--import",
    "tsx",
    "--test",
    "--test-concurrency=2",
    "--test-reporter=spec",
    "--test-reporter-destination=stdout",
    "--test-reporter=./test/summary-reporter.mjs",
    "--test-reporter-destination=stdout",
    ...files,
  ],
  { cwd: root, stdio: "inherit", env: { ...process.env, OFFLOAD_LOG_LEVEL: process.env.OFFLOAD_LOG_LEVEL ?? "silent" } },
);
process.exit(result.status ?? 1);
