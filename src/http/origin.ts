import type { FastifyRequest } from "fastify";
import { OffloadError } from "../errors.js";

/** Methods that change nothing: browsers may send them from any page without harm (reads need the token anyway). */
const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/**
 * Normalises an origin (`scheme://host[:port]`, default ports dropped), or
 * returns null for text that is not one.
 */
export function normaliseOrigin(text: string): string | null {
  try {
    const url = new URL(text);
    if (url.protocol !== "http:" && url.protocol !== "https:") return null;
    if (url.pathname !== "/" || url.search !== "" || url.hash !== "" || url.username !== "" || url.password !== "") return null;
    return url.origin;
  } catch {
    return null;
  }
}

/**
 * The check every mutation passes (POST, PUT, PATCH, DELETE): a browser
 * names the page that sent a request in `Origin` (and `Sec-Fetch-Site`); a
 * request from a page of another site is refused with 403, so a page
 * elsewhere cannot make a signed-in browser, or one on the server's own
 * machine when no tokens are configured, act on jobs. The API's own origin
 * (the `Host` the request was sent to) and the `allowed` origins pass.
 * Clients that are not browsers send neither header and pass.
 */
export function checkOrigin(request: FastifyRequest, allowed: ReadonlySet<string>): void {
  if (SAFE_METHODS.has(request.method)) return;
  const origin = request.headers.origin;
  if (origin === undefined) {
    if (request.headers["sec-fetch-site"] === "cross-site") throw refused("a page of another site");
    return;
  }
  const normalised = normaliseOrigin(origin);
  if (normalised === null) throw refused(`an opaque or malformed origin (${JSON.stringify(origin.slice(0, 100))})`);
  if (allowed.has(normalised)) return;
  const host = request.headers.host;
  if (host !== undefined && (normalised === `http://${host}` || normalised === `https://${host}` || sameHostDefaultPort(normalised, host))) return;
  throw refused(normalised);
}

/** `Host: example.com:80` against origin `http://example.com`: the URL API drops default ports from origins. */
function sameHostDefaultPort(origin: string, host: string): boolean {
  const url = normaliseOrigin(`http://${host}`);
  const secure = normaliseOrigin(`https://${host}`);
  return origin === url || origin === secure;
}

function refused(from: string): OffloadError {
  return new OffloadError(
    "OFFLOAD_ERR_FORBIDDEN",
    `Refused a change sent from ${from}: only pages of this server's own origin (or origins listed in allowedOrigins / OFFLOAD_ALLOWED_ORIGINS) may change jobs and queues`,
  );
}
