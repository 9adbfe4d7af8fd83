import { ERROR_CODES } from "../errors.js";
import { JOB_STATES } from "../job/states.js";

/**
 * The OpenAPI 3.1 description of the HTTP API, served at
 * `/api/openapi.json`. Written out rather than generated: it is the
 * contract, and a test validates it against the OpenAPI 3.1 schema and checks
 * that it lists every route the server registers.
 */

type Schema = Record<string, unknown>;

const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });
const nullable = (schema: Schema): Schema => ({ oneOf: [schema, { type: "null" }] });
const isoTime = { format: "date-time", type: "string" };
const duration = { description: 'Milliseconds, or a string such as "500ms", "30s", "10m", "2h", "7d".', oneOf: [{ minimum: 0, type: "number" }, { type: "string" }] };

const schemas: Record<string, Schema> = {
  Error: {
    properties: {
      error: {
        properties: {
          code: { enum: Object.keys(ERROR_CODES), type: "string" },
          details: { additionalProperties: true, type: "object" },
          message: { type: "string" },
        },
        required: ["code", "message"],
        type: "object",
      },
    },
    required: ["error"],
    type: "object",
  },
  JobStatus: { enum: [...JOB_STATES], type: "string" },
  JobProgress: {
    properties: {
      failed: nullable({ minimum: 0, type: "integer" }),
      message: nullable({ type: "string" }),
      percent: nullable({ maximum: 100, minimum: 0, type: "number" }),
      processed: nullable({ minimum: 0, type: "integer" }),
      total: nullable({ minimum: 0, type: "integer" }),
    },
    required: ["failed", "message", "percent", "processed", "total"],
    type: "object",
  },
  JobError: {
    description: "`stack` is shown to admin and read-only tokens, null for owner tokens (exposeErrorStacks changes that).",
    properties: { code: { type: "string" }, message: { type: "string" }, stack: nullable({ type: "string" }) },
    required: ["code", "message", "stack"],
    type: "object",
  },
  JobAttemptError: {
    properties: {
      at: isoTime,
      attempt: { minimum: 1, type: "integer" },
      code: { type: "string" },
      message: { type: "string" },
      stack: nullable({ type: "string" }),
      startedAt: nullable({ ...isoTime, description: "When the attempt started; null if it never did." }),
    },
    required: ["attempt", "at", "code", "message", "stack", "startedAt"],
    type: "object",
  },
  Job: {
    properties: {
      attempt: { minimum: 0, type: "integer" },
      cancelRequested: { type: "boolean" },
      createdAt: isoTime,
      error: nullable(ref("JobError")),
      errors: { items: ref("JobAttemptError"), type: "array" },
      finishedAt: nullable(isoTime),
      id: { format: "uuid", type: "string" },
      maxAttempts: { minimum: 1, type: "integer" },
      owner: nullable({ type: "string" }),
      payload: {},
      priority: { type: "integer" },
      progress: ref("JobProgress"),
      queue: { type: "string" },
      result: {},
      runAt: isoTime,
      startedAt: nullable(isoTime),
      status: ref("JobStatus"),
      type: { type: "string" },
      uniqueKey: nullable({ type: "string" }),
      updatedAt: isoTime,
    },
    required: [
      "attempt", "cancelRequested", "createdAt", "error", "errors", "finishedAt", "id", "maxAttempts", "owner", "payload",
      "priority", "progress", "queue", "result", "runAt", "startedAt", "status", "type", "uniqueKey", "updatedAt",
    ],
    type: "object",
  },
  EnqueuedJob: {
    allOf: [ref("Job"), { properties: { deduplicated: { type: "boolean" } }, required: ["deduplicated"], type: "object" }],
  },
  JobStatusView: {
    properties: {
      attempt: { minimum: 0, type: "integer" },
      error: nullable(ref("JobError")),
      id: { format: "uuid", type: "string" },
      maxAttempts: { minimum: 1, type: "integer" },
      progress: ref("JobProgress"),
      status: ref("JobStatus"),
    },
    required: ["attempt", "error", "id", "maxAttempts", "progress", "status"],
    type: "object",
  },
  JobPage: {
    properties: { items: { items: ref("Job"), type: "array" }, nextCursor: nullable({ type: "string" }) },
    required: ["items", "nextCursor"],
    type: "object",
  },
  CreateJob: {
    additionalProperties: false,
    properties: {
      attempts: { maximum: 1000, minimum: 1, type: "integer" },
      delay: { ...duration, description: `Run no earlier than this long from now. Not with runAt. ${duration.description}` },
      owner: { description: "Owner tokens may only give their own owner (the default for them).", maxLength: 200, minLength: 1, type: "string" },
      payload: { description: "Validated by the job type's schema; at most 256 KiB as JSON by default." },
      priority: { maximum: 1_000_000, minimum: -1_000_000, type: "integer" },
      queue: { description: "The job type's queue; a job cannot be moved to another.", type: "string" },
      runAt: { description: "ISO 8601 with a zone, or epoch milliseconds. Not with delay.", oneOf: [isoTime, { minimum: 0, type: "number" }] },
      timeout: { ...duration, description: `Per-attempt time limit, or null for none. ${duration.description}`, oneOf: [...duration.oneOf, { type: "null" }] },
      type: { pattern: "^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$", type: "string" },
      uniqueKey: { maxLength: 200, minLength: 1, type: "string" },
    },
    required: ["type", "payload"],
    type: "object",
  },
  Throughput: {
    properties: { completed: { minimum: 0, type: "integer" }, failed: { minimum: 0, type: "integer" }, processed: { minimum: 0, type: "integer" } },
    required: ["completed", "failed", "processed"],
    type: "object",
  },
  Queue: {
    properties: {
      counts: { additionalProperties: false, properties: Object.fromEntries(JOB_STATES.map((s) => [s, { minimum: 0, type: "integer" }])), required: [...JOB_STATES], type: "object" },
      lastHour: ref("Throughput"),
      lastMinute: ref("Throughput"),
      latencyMs: {
        description: "Average enqueue-to-start wait (ms) of the jobs that ended in the last minute and hour; null when none ended.",
        properties: { lastHour: nullable({ minimum: 0, type: "number" }), lastMinute: nullable({ minimum: 0, type: "number" }) },
        required: ["lastHour", "lastMinute"],
        type: "object",
      },
      oldestQueuedAgeMs: nullable({ minimum: 0, type: "integer" }),
      paused: { type: "boolean" },
      queue: { type: "string" },
    },
    required: ["counts", "lastHour", "lastMinute", "latencyMs", "oldestQueuedAgeMs", "paused", "queue"],
    type: "object",
  },
  QueueThroughput: {
    properties: {
      bucketSeconds: { const: 60 },
      buckets: { description: "Start of each minute, oldest first; each series has one entry per bucket.", items: isoTime, type: "array" },
      items: {
        items: {
          properties: {
            completed: { items: { minimum: 0, type: "integer" }, type: "array" },
            failed: { items: { minimum: 0, type: "integer" }, type: "array" },
            latencyMs: { items: nullable({ minimum: 0, type: "number" }), type: "array" },
            queue: { type: "string" },
          },
          required: ["completed", "failed", "latencyMs", "queue"],
          type: "object",
        },
        type: "array",
      },
    },
    required: ["bucketSeconds", "buckets", "items"],
    type: "object",
  },
  Worker: {
    properties: {
      host: { type: "string" },
      id: { type: "string" },
      lastSeenAt: isoTime,
      pid: { type: "integer" },
      queues: { items: { properties: { concurrency: { type: "integer" }, queue: { type: "string" } }, required: ["concurrency", "queue"], type: "object" }, type: "array" },
      running: {
        items: {
          properties: { attempt: { type: "integer" }, id: { format: "uuid", type: "string" }, queue: { type: "string" }, startedAt: isoTime, type: { type: "string" } },
          required: ["attempt", "id", "queue", "startedAt", "type"],
          type: "object",
        },
        type: "array",
      },
      startedAt: isoTime,
    },
    required: ["host", "id", "lastSeenAt", "pid", "queues", "running", "startedAt"],
    type: "object",
  },
  Session: {
    properties: {
      owner: nullable({ type: "string" }),
      role: { enum: ["admin", "owner", "read-only"], type: "string" },
      tokensRequired: { description: "False when the server has no tokens (loopback only, every caller is admin).", type: "boolean" },
    },
    required: ["owner", "role", "tokensRequired"],
    type: "object",
  },
  QueueState: {
    properties: { paused: { type: "boolean" }, pausedAt: nullable(isoTime), queue: { type: "string" } },
    required: ["paused", "pausedAt", "queue"],
    type: "object",
  },
  JobType: {
    properties: {
      attempts: { minimum: 1, type: "integer" },
      backoff: { additionalProperties: true, properties: { type: { enum: ["custom", "exponential", "fixed"], type: "string" } }, required: ["type"], type: "object" },
      name: { type: "string" },
      payloadSchema: nullable({ description: "JSON Schema (draft 2020-12) of the payload, when the validator can give one.", type: "object" }),
      priority: { type: "integer" },
      queue: { type: "string" },
      timeoutMs: nullable({ minimum: 1, type: "integer" }),
    },
    required: ["attempts", "backoff", "name", "payloadSchema", "priority", "queue", "timeoutMs"],
    type: "object",
  },
};

const json = (schema: Schema, description: string) => ({ content: { "application/json": { schema } }, description });

/** Error responses by status, each the same `Error` shape. */
const errors = (...statuses: number[]) =>
  Object.fromEntries(
    statuses.map((status) => {
      const codes = Object.entries(ERROR_CODES)
        .filter(([, v]) => v.status === status)
        .map(([code]) => code);
      return [String(status), json(ref("Error"), codes.join(", ") || "error")];
    }),
  );

const authErrors = [401, 403, 429, 503];
const idParam = { in: "path", name: "id", required: true, schema: { format: "uuid", type: "string" } };
const nameParam = { in: "path", name: "name", required: true, schema: { pattern: "^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$", type: "string" } };
const query = (name: string, schema: Schema, description: string) => ({ description, in: "query", name, required: false, schema });
const sse = (description: string) => ({ content: { "text/event-stream": { schema: { type: "string" } } }, description });
const publicRoute = { security: [] };

function paths(): Record<string, unknown> {
  return {
    "/healthz": { get: { ...publicRoute, operationId: "health", responses: { 200: json({ properties: { status: { const: "ok" } }, type: "object" }, "The process is up") }, summary: "Liveness" } },
    "/readyz": {
      get: { ...publicRoute, operationId: "ready", responses: { 200: json({ properties: { status: { const: "ready" } }, type: "object" }, "The database answers"), ...errors(503) }, summary: "Readiness: the database is reachable" },
    },
    "/metrics": {
      get: { operationId: "metrics", responses: { 200: { content: { "text/plain": { schema: { type: "string" } } }, description: "Prometheus text format 0.0.4" }, ...errors(...authErrors) }, summary: "Prometheus metrics (admin and read-only tokens)" },
    },
    "/api/openapi.json": { get: { ...publicRoute, operationId: "openapi", responses: { 200: json({ type: "object" }, "This document") }, summary: "The OpenAPI 3.1 description" } },
    "/api/jobs": {
      get: {
        operationId: "listJobs",
        parameters: [
          query("status", ref("JobStatus"), "Only jobs in this state"),
          query("queue", { type: "string" }, "Only jobs of this queue"),
          query("type", { type: "string" }, "Only jobs of this type"),
          query("owner", { type: "string" }, "Only jobs of this owner (owner tokens: always their own)"),
          query("limit", { default: 50, type: "integer" }, "Page size, clamped to 1..500"),
          query("cursor", { type: "string" }, "nextCursor of the previous page"),
        ],
        responses: { 200: json(ref("JobPage"), "Jobs, newest first"), ...errors(400, ...authErrors) },
        summary: "List jobs",
      },
      post: {
        operationId: "createJob",
        parameters: [{ description: "Same key and body: the original job again; same key, other body: 409. Kept 24 h, per owner or token.", in: "header", name: "Idempotency-Key", required: false, schema: { maxLength: 200, minLength: 1, type: "string" } }],
        requestBody: { content: { "application/json": { schema: ref("CreateJob") } }, required: true },
        responses: {
          200: json(ref("EnqueuedJob"), "An unfinished job of this type holds the uniqueKey: that job, deduplicated: true"),
          201: json(ref("EnqueuedJob"), "Stored"),
          ...errors(400, ...authErrors, 409, 413, 415),
        },
        summary: "Enqueue a job",
      },
    },
    "/api/jobs/{id}": {
      delete: { operationId: "deleteJob", parameters: [idParam], responses: { 204: { description: "Deleted" }, ...errors(400, ...authErrors, 404, 409) }, summary: "Delete a finished job" },
      get: { operationId: "getJob", parameters: [idParam], responses: { 200: json(ref("Job"), "The job"), ...errors(400, ...authErrors, 404) }, summary: "Get a job" },
    },
    "/api/jobs/{id}/status": {
      get: { operationId: "getJobStatus", parameters: [idParam], responses: { 200: json(ref("JobStatusView"), "Status, progress and latest error"), ...errors(400, ...authErrors, 404) }, summary: "A job's status only" },
    },
    "/api/jobs/{id}/cancel": {
      post: { operationId: "cancelJob", parameters: [idParam], responses: { 200: json(ref("Job"), "Cancelled, or cancelRequested while it runs"), ...errors(400, ...authErrors, 404, 409) }, summary: "Cancel a job" },
    },
    "/api/jobs/{id}/retry": {
      post: { operationId: "retryJob", parameters: [idParam], responses: { 200: json(ref("Job"), "Queued again with fresh attempts"), ...errors(400, ...authErrors, 404, 409) }, summary: "Run a failed or cancelled job again" },
    },
    "/api/jobs/{id}/run-now": {
      post: { operationId: "runJobNow", parameters: [idParam], responses: { 200: json(ref("Job"), "Due now: the next claim takes it"), ...errors(400, ...authErrors, 404, 409) }, summary: "Run a scheduled job now" },
    },
    "/api/jobs/{id}/events": {
      get: {
        description: "Events: `job` (the whole job: at once, then on every state change) and `progress` ({ id, attempt, progress }). The stream ends after the `job` event of a finished job, or after a `deleted` event.",
        operationId: "streamJob",
        parameters: [idParam],
        responses: { 200: sse("Server-sent events of one job"), ...errors(400, ...authErrors, 404) },
        summary: "Live events of one job",
      },
    },
    "/api/events": {
      get: {
        description: "Events named job:enqueued, job:started, job:progress, job:retrying, job:completed, job:failed, job:cancelled, as they happen in this server's process.",
        operationId: "streamEvents",
        parameters: [query("queue", { type: "string" }, "Only events of this queue")],
        responses: { 200: sse("Server-sent events of every job the token may see"), ...errors(400, ...authErrors) },
        summary: "Live events of all jobs",
      },
    },
    "/api/queues": {
      get: {
        operationId: "listQueues",
        responses: { 200: json({ properties: { items: { items: ref("Queue"), type: "array" } }, required: ["items"], type: "object" }, "Per queue"), ...errors(...authErrors) },
        summary: "Queue statistics (admin and read-only tokens)",
      },
    },
    "/api/queues/throughput": {
      get: {
        operationId: "queueThroughput",
        parameters: [query("minutes", { default: 60, maximum: 60, minimum: 1, type: "integer" }, "How many minutes back")],
        responses: { 200: json(ref("QueueThroughput"), "Jobs ended per queue and minute"), ...errors(400, ...authErrors) },
        summary: "Throughput and latency per minute (admin and read-only tokens)",
      },
    },
    "/api/workers": {
      get: {
        operationId: "listWorkers",
        responses: { 200: json({ properties: { items: { items: ref("Worker"), type: "array" } }, required: ["items"], type: "object" }, "Workers alive"), ...errors(...authErrors) },
        summary: "Worker processes alive and the jobs they run (admin and read-only tokens)",
      },
    },
    "/api/session": {
      get: { operationId: "session", responses: { 200: json(ref("Session"), "The caller's role"), ...errors(...authErrors) }, summary: "Who the token is" },
    },
    "/api/queues/{name}/pause": {
      post: { operationId: "pauseQueue", parameters: [nameParam], responses: { 200: json(ref("QueueState"), "Paused"), ...errors(400, ...authErrors) }, summary: "Pause a queue (admin)" },
    },
    "/api/queues/{name}/resume": {
      post: { operationId: "resumeQueue", parameters: [nameParam], responses: { 200: json(ref("QueueState"), "Resumed"), ...errors(400, ...authErrors) }, summary: "Resume a queue (admin)" },
    },
    "/api/job-types": {
      get: {
        operationId: "listJobTypes",
        responses: { 200: json({ properties: { items: { items: ref("JobType"), type: "array" } }, required: ["items"], type: "object" }, "Job types"), ...errors(...authErrors) },
        summary: "Registered job types",
      },
    },
  };
}

/** The OpenAPI 3.1 document for a server whose routes hang under `prefix`. */
export function buildOpenApiDocument({ prefix, version }: { prefix: string; version: string }): Record<string, unknown> {
  const base = prefix.replace(/\/$/, "");
  return {
    components: { schemas, securitySchemes: { bearer: { description: "A token of OFFLOAD_TOKENS or OFFLOAD_TOKENS_FILE", scheme: "bearer", type: "http" } } },
    info: { description: "Durable background jobs: enqueue, inspect, steer and stream jobs.", license: { identifier: "MIT", name: "MIT" }, title: "Offload", version },
    jsonSchemaDialect: "https://json-schema.org/draft/2020-12/schema",
    openapi: "3.1.0",
    paths: Object.fromEntries(Object.entries(paths()).map(([path, item]) => [base + path, item])),
    security: [{ bearer: [] }],
  };
}
