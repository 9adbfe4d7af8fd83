import type { JobError } from "../backend/types.js";
import { PermanentError } from "../errors.js";

/** Why a handler's signal was aborted. `signal.reason` is one of these. */
export type AbortKind = "cancelled" | "lease_lost" | "shutdown" | "timeout";

export class AttemptAbortedError extends Error {
  constructor(
    readonly kind: AbortKind,
    message: string,
  ) {
    super(message);
    this.name = { cancelled: "CancelledError", lease_lost: "LeaseLostError", shutdown: "ShutdownError", timeout: "TimeoutError" }[kind];
  }
}

const MAX_MESSAGE = 10_000;
const MAX_STACK = 20_000;

/** Turns whatever a handler threw into a stored {@link JobError}. */
export function toJobError(error: unknown, attempt: number, at: number, code?: string): JobError {
  const err = error instanceof Error ? error : null;
  const ownCode = (err as { code?: unknown } | null)?.code;
  return {
    attempt,
    at,
    code: code ?? (error instanceof PermanentError ? error.code : typeof ownCode === "string" && ownCode ? ownCode.slice(0, 100) : "error"),
    message: (err ? err.message : typeof error === "string" ? error : safeString(error)).slice(0, MAX_MESSAGE),
    stack: err?.stack ? err.stack.slice(0, MAX_STACK) : null,
  };
}

function safeString(value: unknown): string {
  try {
    return `Non-error thrown: ${JSON.stringify(value) ?? String(value)}`;
  } catch {
    return `Non-error thrown: ${Object.prototype.toString.call(value)}`;
  }
}
