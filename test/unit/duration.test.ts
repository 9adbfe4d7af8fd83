import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseDuration } from "../../src/job/duration.js";

describe("parseDuration", () => {
  it("reads milliseconds and unit strings", () => {
    assert.deepEqual(parseDuration(250), { ms: 250 });
    assert.deepEqual(parseDuration("30s"), { ms: 30_000 });
    assert.deepEqual(parseDuration("10m"), { ms: 600_000 });
    assert.deepEqual(parseDuration("1.5h"), { ms: 5_400_000 });
  });
  it("rejects negative, fractional and unknown forms with a message", () => {
    for (const bad of [-1, 1.5, "10 minutes", "", "5x", null, Infinity]) {
      const parsed = parseDuration(bad);
      assert.ok("error" in parsed, `expected ${String(bad)} to be rejected`);
    }
  });
});
