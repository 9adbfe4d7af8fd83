import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { backoffDelay, DEFAULT_BACKOFF, type ResolvedBackoff } from "../../src/job/backoff.js";

const exponential: ResolvedBackoff = { delayMs: 1_000, jitter: false, maxMs: 10_000, type: "exponential" };

describe("backoffDelay", () => {
  it("doubles an exponential delay per attempt up to its cap", () => {
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6].map((attempt) => backoffDelay(exponential, attempt, null)),
      [1_000, 2_000, 4_000, 8_000, 10_000, 10_000],
    );
  });

  it("keeps a fixed delay whatever the attempt", () => {
    const fixed: ResolvedBackoff = { delayMs: 250, jitter: false, maxMs: 10_000, type: "fixed" };
    assert.deepEqual([1, 5, 50].map((attempt) => backoffDelay(fixed, attempt, null)), [250, 250, 250]);
  });

  it("with jitter waits between half and all of the delay", () => {
    const jittered = { ...exponential, jitter: true };
    assert.equal(backoffDelay(jittered, 3, null, () => 0), 2_000);
    assert.equal(backoffDelay(jittered, 3, null, () => 0.5), 3_000);
    assert.equal(backoffDelay(jittered, 3, null, () => 0.999_999), 4_000);
  });

  it("does not overflow for huge attempt numbers", () => {
    assert.equal(backoffDelay(exponential, 10_000, null), 10_000);
  });

  it("passes the attempt and the error to a backoff function and uses its answer", () => {
    const error = new Error("rate limited");
    const seen: unknown[] = [];
    const delay = backoffDelay((attempt, err) => (seen.push(attempt, err), 1_234.4), 2, error);
    assert.equal(delay, 1_234);
    assert.deepEqual(seen, [2, error]);
  });

  it("falls back to the default policy when a backoff function throws or returns nonsense", () => {
    const fallback = backoffDelay(DEFAULT_BACKOFF, 3, null, () => 0);
    for (const bad of [() => NaN, () => -5, () => Infinity, () => "10s" as unknown as number, () => { throw new Error("bug"); }]) {
      assert.equal(backoffDelay(bad, 3, null, () => 0), fallback);
    }
  });
});
