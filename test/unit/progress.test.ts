import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { OffloadError } from "../../src/errors.js";
import { EMPTY_PROGRESS, mergeProgress, parseProgressUpdate } from "../../src/job/progress.js";

describe("progress", () => {
  it("derives percent from processed and failed over total when percent is not given", () => {
    const p = mergeProgress(EMPTY_PROGRESS, { failed: 1, processed: 2, total: 8 });
    assert.equal(p.percent, 37.5);
  });

  it("keeps fields not reported and lets a reported percent win", () => {
    let p = mergeProgress(EMPTY_PROGRESS, { message: "start", total: 4 });
    p = mergeProgress(p, { processed: 1 });
    assert.deepEqual(p, { failed: null, message: "start", percent: 25, processed: 1, total: 4 });
    p = mergeProgress(p, { percent: 90, processed: 2 });
    assert.equal(p.percent, 90);
  });

  it("leaves percent alone when only the message changes", () => {
    const p = mergeProgress({ ...EMPTY_PROGRESS, percent: 40 }, { message: "still going" });
    assert.equal(p.percent, 40);
  });

  it("never derives more than 100 percent", () => {
    assert.equal(mergeProgress(EMPTY_PROGRESS, { processed: 12, total: 10 }).percent, 100);
  });

  it("rejects bad reports naming the field", () => {
    for (const [bad, field] of [
      [{ percent: 101 }, "progress.percent"],
      [{ processed: -1 }, "progress.processed"],
      [{ total: 1.5 }, "progress.total"],
      [{ message: "x".repeat(1_001) }, "progress.message"],
      [{ colour: "red" }, "progress"],
    ] as const) {
      assert.throws(
        () => parseProgressUpdate(bad),
        (error: unknown) => error instanceof OffloadError && error.code === "OFFLOAD_ERR_INVALID_INPUT" && error.message.includes(field),
        JSON.stringify(bad),
      );
    }
  });
});
