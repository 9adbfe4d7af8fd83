import { OffloadError, validationError } from "../errors.js";

/** Limits on JSON request bodies, checked before and after parsing. */
export interface JsonLimits {
  /** Deepest nesting of objects and arrays. */
  maxDepth: number;
}

/**
 * Nesting depth of a JSON text, found by one pass over its characters before
 * parsing: a body of 100,000 `[` is refused in microseconds, before any parser
 * or validator recurses into it. Brackets inside strings do not count.
 */
function nestingDepth(text: string, limit: number): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92 /* \ */) i++;
      else if (c === 34 /* " */) inString = false;
    } else if (c === 34) {
      inString = true;
    } else if (c === 123 /* { */ || c === 91 /* [ */) {
      depth++;
      if (depth > max) {
        max = depth;
        if (max > limit) return max;
      }
    } else if (c === 125 /* } */ || c === 93 /* ] */) {
      depth--;
    }
  }
  return max;
}

/**
 * True for keys that reach an object's prototype when a parsed body is later
 * merged or copied: `__proto__`, and `constructor` holding a `prototype`.
 */
function isPrototypeKey(key: string, value: unknown): boolean {
  if (key === "__proto__") return true;
  return key === "constructor" && value !== null && typeof value === "object" && Object.hasOwn(value, "prototype");
}

/**
 * Walks a parsed value without recursion and refuses what Offload will not
 * store: prototype keys (`__proto__`, `constructor.prototype`), NUL
 * characters in keys or strings, numbers too large for a double. Returns the dotted path of the first
 * offence, or null.
 */
function findForbidden(value: unknown): { message: string; path: string } | null {
  const stack: { path: string; value: unknown }[] = [{ path: "", value }];
  while (stack.length > 0) {
    const { path, value: v } = stack.pop()!;
    if (typeof v === "string") {
      if (v.includes("\u0000")) return { message: "must not contain the NUL character (\\u0000)", path };
      continue;
    }
    // 1e400 parses to Infinity, which JSON would store as null: refuse it rather than change the value.
    if (typeof v === "number" && !Number.isFinite(v)) return { message: "number out of range", path };
    if (v === null || typeof v !== "object") continue;
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push({ path: `${path}[${i}]`, value: v[i] });
      continue;
    }
    for (const key of Object.keys(v)) {
      const keyPath = path ? `${path}.${key}` : key;
      if (isPrototypeKey(key, (v as Record<string, unknown>)[key])) return { message: `the key ${JSON.stringify(key)} is not allowed`, path: keyPath };
      if (key.includes("\u0000")) return { message: "keys must not contain the NUL character (\\u0000)", path: path || "(root)" };
      stack.push({ path: keyPath, value: (v as Record<string, unknown>)[key] });
    }
  }
  return null;
}

/**
 * Parses a request body as JSON, or throws an `OFFLOAD_ERR_INVALID_INPUT`
 * naming what is wrong: malformed JSON (with the position), nesting deeper
 * than `maxDepth`, prototype keys, NUL characters, numbers out of range.
 */
export function parseJsonBody(text: string, limits: JsonLimits): unknown {
  if (text.trim() === "") throw new OffloadError("OFFLOAD_ERR_INVALID_INPUT", "The request body is empty: send a JSON object, or no Content-Type and no body");
  const depth = nestingDepth(text, limits.maxDepth);
  if (depth > limits.maxDepth) {
    throw validationError("OFFLOAD_ERR_INVALID_INPUT", "request body", [{ message: `nested deeper than ${limits.maxDepth} levels of objects and arrays`, path: "" }]);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new OffloadError("OFFLOAD_ERR_INVALID_INPUT", `Malformed JSON in the request body: ${(error as Error).message}`);
  }
  const forbidden = findForbidden(value);
  if (forbidden) throw validationError("OFFLOAD_ERR_INVALID_INPUT", "request body", [{ message: forbidden.message, path: forbidden.path }]);
  return value;
}
