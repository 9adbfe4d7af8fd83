import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, it } from "node:test";

// The seams of STYLE.md, checked on every run: a violation fails the suite
// with the file and the import that crossed the boundary.
const src = new URL("../../src", import.meta.url).pathname;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
  );
}

function imports(file: string): string[] {
  const text = readFileSync(file, "utf8");
  return [...text.matchAll(/(?:import|export)[^"'`]*?from\s+["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g)].map((m) => (m[1] ?? m[2])!);
}

const files = sources(src).map((file) => ({ area: relative(src, file).split("/")[0]!, file: relative(src, file), imports: imports(file) }));

describe("module boundaries", () => {
  it("only the SQLite engine imports better-sqlite3", () => {
    const offenders = files.filter((f) => !f.file.startsWith("backends/sqlite/") && f.imports.includes("better-sqlite3"));
    assert.deepEqual(offenders.map((f) => f.file), []);
  });

  it("only the PostgreSQL engine imports pg", () => {
    const offenders = files.filter((f) => !f.file.startsWith("backends/postgres/") && f.imports.some((i) => i === "pg" || i.startsWith("pg-")));
    assert.deepEqual(offenders.map((f) => f.file), []);
  });

  it("the seam imports no engine and no driver", () => {
    const offenders = files.filter((f) => f.area === "backend" && f.imports.some((i) => i.includes("backends/") || i === "better-sqlite3" || i === "pg"));
    assert.deepEqual(offenders.map((f) => f.file), []);
  });

  it("worker, job and maintenance reach storage only through the seam", () => {
    const offenders = files.filter((f) => ["worker", "job", "maintenance"].includes(f.area) && f.imports.some((i) => i.includes("backends/")));
    assert.deepEqual(offenders.map((f) => `${f.file}: ${f.imports.filter((i) => i.includes("backends/")).join(", ")}`), []);
  });

  it("the client opens engines only through backends/open-backend", () => {
    const offenders = files.filter((f) => f.area === "client" && f.imports.some((i) => i.includes("backends/") && !i.endsWith("backends/open-backend.js")));
    assert.deepEqual(offenders.map((f) => f.file), []);
  });

  it("the HTTP layer imports neither the worker nor an engine: it goes through the client", () => {
    const offenders = files.filter((f) => f.area === "http" && f.imports.some((i) => i.includes("worker/") || i.includes("backends/") || i === "better-sqlite3" || i === "pg"));
    assert.deepEqual(offenders.map((f) => f.file), []);
    assert.ok(files.some((f) => f.area === "http"));
  });

  it("finds the source files it checks", () => {
    assert.ok(files.some((f) => f.file === "backends/sqlite/sqlite-backend.ts" && f.imports.includes("better-sqlite3")));
    assert.ok(files.some((f) => f.area === "worker"));
  });
});
