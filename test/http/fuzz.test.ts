import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { ERROR_CODES } from "../../src/index.js";
import { startServer, TOKENS } from "./server-fixture.js";

/** Changes that make a valid enqueue body invalid, whatever else it holds. */
const breakBody: fc.Arbitrary<(body: Record<string, unknown>) => unknown> = fc.oneof(
  fc.string({ maxLength: 20 }).map((key) => (b: Record<string, unknown>) => ({ ...b, [`x-${key}`]: 1 })),
  fc.string({ maxLength: 30 }).filter((s) => !/^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$/.test(s)).map((type) => (b: Record<string, unknown>) => ({ ...b, type })),
  fc.oneof(fc.integer({ max: -1_000_001 }), fc.integer({ min: 1_000_001 }), fc.double({ noInteger: true, noNaN: true })).map((priority) => (b: Record<string, unknown>) => ({ ...b, priority })),
  fc.oneof(fc.integer({ max: 0 }), fc.integer({ min: 1_001 }), fc.string()).map((attempts) => (b: Record<string, unknown>) => ({ ...b, attempts })),
  fc.oneof(fc.integer({ max: -1 }), fc.constantFrom("-1s", "soon", "1 fortnight", "", "1e400ms")).map((delay) => (b: Record<string, unknown>) => ({ ...b, delay })),
  fc.oneof(fc.constant(0), fc.constant("100d"), fc.constant(-5), fc.constant(true)).map((timeout) => (b: Record<string, unknown>) => ({ ...b, timeout })),
  fc.string().map((s) => (b: Record<string, unknown>) => ({ ...b, payload: { value: `${s}\u0000` } })),
  fc.jsonValue().map((v) => (b: Record<string, unknown>) => ({ ...b, payload: { value: "ok", extra: v } })),
  fc.integer({ min: 40, max: 500 }).map((depth) => (b: Record<string, unknown>) => ({ ...b, payload: JSON.parse("[".repeat(depth) + "]".repeat(depth)) })),
  fc.constant((b: Record<string, unknown>) => JSON.parse(`{"type":"${b.type}","payload":{"__proto__":{"x":1}}}`)),
  fc.constant((b: Record<string, unknown>) => ({ payload: b.payload })),
  fc.constantFrom("2030-02-30T00:00:00Z", "yesterday", "2030-01-01", -1).map((runAt) => (b: Record<string, unknown>) => ({ ...b, runAt })),
);

const validBody = fc.record({ payload: fc.record({ value: fc.string({ maxLength: 50 }) }), type: fc.constant("test.echo") });

/** A request body: broken JSON text, a broken enqueue body, or anything at all. */
const body: fc.Arbitrary<string | undefined> = fc.oneof(
  fc.constant(undefined),
  fc.string({ maxLength: 200 }),
  fc.string({ maxLength: 200, unit: "binary" }),
  fc.tuple(validBody, breakBody).map(([b, br]) => JSON.stringify(br(b))),
  fc.tuple(validBody, fc.nat()).map(([b, cut]) => {
    const text = JSON.stringify(b);
    return text.slice(0, cut % text.length); // truncated JSON
  }),
  fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
);

const uuid = fc.uuid({ version: 7 });
const badSegment = fc.oneof(fc.string({ maxLength: 40 }), fc.constantFrom("..", "%00", "%ZZ", "a b", "x".repeat(300), "😀", "null"));
const queryString = fc
  .dictionary(fc.oneof(fc.constantFrom("status", "queue", "type", "owner", "limit", "cursor", "__proto__"), fc.string({ maxLength: 8 })), fc.string({ maxLength: 30 }), { maxKeys: 4 })
  .map((q) => (Object.keys(q).length ? `?${new URLSearchParams(q)}` : ""));

const path = fc.oneof(
  queryString.map((q) => `/api/jobs${q}`),
  fc.tuple(fc.oneof(uuid, badSegment), fc.constantFrom("", "/status", "/cancel", "/retry", "/events", "/nope")).map(([id, tail]) => `/api/jobs/${encodeURIComponent(id)}${tail}`),
  // Queue names that are never valid, so no fuzzed pause is stored.
  fc.tuple(badSegment.map((s) => `${s} !`), fc.constantFrom("pause", "resume")).map(([name, action]) => `/api/queues/${encodeURIComponent(name)}/${action}`),
  queryString.map((q) => `/api/queues${q}`),
  fc.constantFrom("/api/job-types?x=1", "/readyz?verbose=1", "/api/events?queue=%20", "/api/", "/", "/metrics?x", "/api/openapi.json?y"),
  badSegment.map((s) => `/${encodeURIComponent(s)}`),
);

const headers = fc.record(
  {
    authorization: fc.oneof(fc.constantFrom(`Bearer ${TOKENS.admin}`, `Bearer ${TOKENS.alice}`, `Bearer ${TOKENS.reader}`, "Bearer", "Basic x", ""), fc.string({ maxLength: 40 }).map((s) => `Bearer ${s}`)),
    "content-type": fc.constantFrom("application/json", "application/json; charset=utf-8", "application/json; charset=utf-16", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/jsonx", ""),
    "idempotency-key": fc.string({ maxLength: 250 }),
  },
  { requiredKeys: [] },
);

const request = fc.record({ body, headers, method: fc.constantFrom("GET", "POST", "POST", "POST", "DELETE", "PUT", "PATCH"), path });

/** Header values fetch refuses to send are left out: the fuzz is of the server, not of the client. */
function sendable(value: string): boolean {
  return /^[\x20-\x7e]*$/.test(value) && value.trim() === value;
}

describe("HTTP fuzz", () => {
  it("answers 1,000 random malformed requests without a 5xx, in the error format, storing nothing, and stays up", async (t) => {
    const { offload, url } = await startServer(t);
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(request, async ({ body: text, headers: h, method, path: p }) => {
        const sent: Record<string, string> = {};
        for (const [key, value] of Object.entries(h)) if (value !== undefined && sendable(value)) sent[key] = value;
        const hasBody = text !== undefined && method !== "GET";
        const controller = new AbortController();
        const response = await fetch(url + p, { body: hasBody ? text : undefined, headers: sent, method, signal: controller.signal });
        statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
        assert.ok(response.status < 500, `${method} ${p} -> ${response.status}`);
        if ((response.headers.get("content-type") ?? "").startsWith("text/event-stream")) {
          controller.abort(); // a stream of a job that exists: not expected, but not an error either
          return;
        }
        const answer = await response.text();
        assert.doesNotMatch(answer, /\n\s+at |node_modules|\.ts:\d|SQLITE|offload_jobs/);
        if (response.status >= 400) {
          const parsed = JSON.parse(answer) as { error: { code: keyof typeof ERROR_CODES; message: string } };
          assert.deepEqual(Object.keys(parsed), ["error"]);
          assert.equal(typeof parsed.error.message, "string");
          assert.equal(ERROR_CODES[parsed.error.code]?.status, response.status, answer);
        }
      }),
      { numRuns: 1_000, seed: Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31) },
    );
    const health = await fetch(`${url}/healthz`);
    assert.equal(health.status, 200);
    assert.deepEqual((await offload.listJobs()).items, []);
    assert.ok((await offload.queueStats()).every((q) => !q.paused));
    // Every class of answer was reached, not only 401s.
    for (const status of [400, 401, 403, 404, 415]) assert.ok(statuses.has(status), `no ${status} among ${JSON.stringify([...statuses])}`);
  });
});
