#!/usr/bin/env node
// Builds the web dashboard into dist/dashboard: src/dashboard/main.ts bundled
// by esbuild (one minified ES module), with index.html, style.css and the
// icon copied beside it. About 100 ms, so `npm run build` (and `prepare`, which
// `npm install` runs) and the test runner can always rebuild it.
//
// Each file is written to a temporary name and renamed over the old one, so a
// server reading the directory while a build runs sees whole files only.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { build } from "esbuild";

const root = new URL("..", import.meta.url).pathname;
const source = join(root, "src/dashboard");
const out = join(root, "dist/dashboard");

const bundle = await build({
  bundle: true,
  entryPoints: [join(source, "main.ts")],
  format: "esm",
  legalComments: "none",
  minify: true,
  platform: "browser",
  target: ["chrome110", "firefox115", "safari16"],
  tsconfig: join(source, "tsconfig.json"),
  write: false,
});

mkdirSync(out, { recursive: true });
function writeAtomically(name, content) {
  const temporary = join(out, `.${name}.${process.pid}.tmp`);
  writeFileSync(temporary, content);
  renameSync(temporary, join(out, name));
}
writeAtomically("main.js", bundle.outputFiles[0].contents);
for (const name of ["index.html", "style.css", "favicon.svg"]) writeAtomically(name, readFileSync(join(source, name)));
