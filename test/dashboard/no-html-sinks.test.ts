import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const DASHBOARD = join(ROOT, "src/dashboard");

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => (entry.isDirectory() ? files(join(dir, entry.name)) : [join(dir, entry.name)]));
}

/** Ways text becomes markup or code. The dashboard builds DOM with createElement and text nodes only. */
const SINKS = [
  /\binnerHTML\b/,
  /\bouterHTML\b/,
  /\binsertAdjacentHTML\b/,
  /\bdocument\s*\.\s*write(ln)?\b/,
  /\beval\s*\(/,
  /\bnew\s+Function\s*\(/,
  /\bcreateContextualFragment\b/,
  /\bDOMParser\b/,
  /\bsrcdoc\b/,
  /setAttribute\(\s*["'`]on/i,
  /set(Timeout|Interval)\(\s*["'`]/,
];

describe("dashboard sources", () => {
  it("never turn text into HTML or code: no innerHTML, outerHTML, insertAdjacentHTML, document.write, eval or string handlers", () => {
    const found: string[] = [];
    const sources = files(DASHBOARD).filter((file) => /\.(ts|html|js)$/.test(file));
    assert.ok(sources.length >= 10, `dashboard sources found: ${sources.length}`);
    for (const file of sources) {
      readFileSync(file, "utf8")
        .split("\n")
        .forEach((line, i) => {
          for (const sink of SINKS) if (sink.test(line)) found.push(`${relative(ROOT, file)}:${i + 1}: ${line.trim()}`);
        });
    }
    assert.deepEqual(found, []);
  });

  it("keep the page free of inline script and style, which the Content-Security-Policy would refuse", () => {
    const html = readFileSync(join(DASHBOARD, "index.html"), "utf8");
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/i, "no inline <script>");
    assert.doesNotMatch(html, /<style\b|\sstyle=|\son[a-z]+=/i, "no <style>, style= or on*= attributes");
    for (const file of files(DASHBOARD).filter((f) => f.endsWith(".ts"))) {
      assert.doesNotMatch(readFileSync(file, "utf8"), /setAttribute\(\s*["'`]style["'`]/, `${relative(ROOT, file)} sets a style attribute`);
    }
  });
});
