import { createHash, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import { OffloadError } from "../errors.js";
import { tokenStringSchema } from "../job/validate.js";

/** What a token may do. */
export type Role = { kind: "admin" } | { kind: "owner"; owner: string } | { kind: "read-only" };

/** One configured token and its role. */
export interface TokenEntry {
  role: Role;
  token: string;
}

/** Who is calling: the role of the token presented (admin when no tokens are configured). */
export interface Principal {
  /** For rate limits: the token's hash, or the client address without tokens. */
  key: string;
  role: Role;
  /** Idempotency keys of different scopes never meet: one scope per owner, else per token. */
  scope: string;
}

/**
 * Which callers a route serves:
 * - `public`: anyone, without a token (health checks, the OpenAPI document);
 * - `read`: every role (owner tokens see only their own jobs);
 * - `jobs-write`: admin and owner tokens (owner tokens act only on their jobs);
 * - `operator-read`: admin and read-only tokens (queue statistics, metrics: figures across owners);
 * - `admin`: admin tokens (queue controls).
 */
export type Access = "admin" | "jobs-write" | "operator-read" | "public" | "read";

const ROLE = /^(admin|read-only|owner:(.+))$/;

function parseRole(text: string, where: string): Role {
  const match = ROLE.exec(text);
  if (!match) throw new OffloadError("OFFLOAD_ERR_INVALID_INPUT", `${where}: unknown role ${JSON.stringify(text)}: expected admin, read-only or owner:<id>`);
  if (match[1] === "admin") return { kind: "admin" };
  if (match[1] === "read-only") return { kind: "read-only" };
  const owner = match[2]!;
  if (!tokenStringSchema.safeParse(owner).success) {
    throw new OffloadError("OFFLOAD_ERR_INVALID_INPUT", `${where}: the owner id must be 1-200 characters without control characters`);
  }
  return { kind: "owner", owner };
}

/**
 * Parses `token=role` entries (`k1=admin`, `k2=owner:user-42`, `k3=read-only`).
 * A token is 1-1,000 printable characters without spaces or commas; it may
 * contain `=` (base64 padding): the entry splits at the `=` before the role.
 * Throws `OFFLOAD_ERR_INVALID_INPUT` naming the entry's place, never the token.
 */
export function parseTokenEntries(entries: readonly { text: string; where: string }[]): TokenEntry[] {
  const tokens: TokenEntry[] = [];
  const seen = new Set<string>();
  for (const { text, where } of entries) {
    const match = /^(.+?)=((?:admin|read-only|owner:.*))$/.exec(text) ?? /^(.+?)=(.*)$/.exec(text);
    if (!match) throw new OffloadError("OFFLOAD_ERR_INVALID_INPUT", `${where}: expected token=role, e.g. k1=admin, k2=owner:user-42 or k3=read-only`);
    const [, token = "", roleText = ""] = match;
    if (!/^[\x21-\x2b\x2d-\x7e]{1,1000}$/.test(token)) {
      throw new OffloadError("OFFLOAD_ERR_INVALID_INPUT", `${where}: a token must be 1-1000 printable ASCII characters without spaces or commas`);
    }
    if (seen.has(token)) throw new OffloadError("OFFLOAD_ERR_INVALID_INPUT", `${where}: this token is listed twice`);
    seen.add(token);
    tokens.push({ role: parseRole(roleText, where), token });
  }
  return tokens;
}

/**
 * Tokens from the environment: `OFFLOAD_TOKENS` (comma-separated
 * `token=role`) and the file named by `OFFLOAD_TOKENS_FILE` (one `token=role`
 * a line; blank lines and lines starting with `#` are skipped). Both may be
 * set; their tokens add up. Empty when neither is set.
 */
export function tokensFromEnv(env: NodeJS.ProcessEnv = process.env): TokenEntry[] {
  const entries: { text: string; where: string }[] = [];
  const list = env.OFFLOAD_TOKENS?.trim();
  if (list) {
    list.split(",").forEach((text, i) => {
      if (text.trim() !== "") entries.push({ text: text.trim(), where: `OFFLOAD_TOKENS entry ${i + 1}` });
    });
  }
  const file = env.OFFLOAD_TOKENS_FILE?.trim();
  if (file) {
    let content: string;
    try {
      content = readFileSync(file, "utf8");
    } catch (error) {
      throw new OffloadError("OFFLOAD_ERR_INVALID_INPUT", `OFFLOAD_TOKENS_FILE: cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
    content.split(/\r?\n/).forEach((line, i) => {
      const text = line.trim();
      if (text !== "" && !text.startsWith("#")) entries.push({ text, where: `OFFLOAD_TOKENS_FILE line ${i + 1}` });
    });
  }
  return parseTokenEntries(entries);
}

function sha256(text: string): Buffer {
  return createHash("sha256").update(text).digest();
}

/**
 * Looks tokens up in time independent of where, or whether, they match:
 * every configured token's digest is compared with `timingSafeEqual`, with no
 * early exit. Digests make the comparisons equal in length whatever the
 * token's length.
 */
export class TokenTable {
  private readonly entries: { digest: Buffer; principal: Principal }[];

  constructor(tokens: readonly TokenEntry[]) {
    this.entries = tokens.map(({ role, token }) => {
      const digest = sha256(token);
      const id = digest.subarray(0, 12).toString("hex");
      return { digest, principal: { key: `token:${id}`, role, scope: role.kind === "owner" ? `owner:${role.owner}` : `token:${id}` } };
    });
  }

  get size(): number {
    return this.entries.length;
  }

  /** The principal of a presented token, or null. */
  find(token: string): Principal | null {
    const digest = sha256(token);
    let found: Principal | null = null;
    for (const entry of this.entries) {
      if (timingSafeEqual(entry.digest, digest) && found === null) found = entry.principal;
    }
    return found;
  }
}

/** Whether a role may use a route of this access class. */
export function allows(role: Role, access: Access): boolean {
  switch (access) {
    case "public":
    case "read":
      return true;
    case "jobs-write":
      return role.kind !== "read-only";
    case "operator-read":
      return role.kind !== "owner";
    case "admin":
      return role.kind === "admin";
  }
}

/** The owner an owner token is confined to, or null for roles that see every job. */
export function ownerOf(principal: Principal): string | null {
  return principal.role.kind === "owner" ? principal.role.owner : null;
}

/** True when the principal may see a job of this owner. */
export function canSee(principal: Principal, jobOwner: string | null): boolean {
  const owner = ownerOf(principal);
  return owner === null || owner === jobOwner;
}
