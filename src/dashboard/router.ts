/**
 * Routes live in `location.hash`, so the server serves one page and links
 * can be shared: `#/`, `#/queues`, `#/jobs?status=failed&queue=media`,
 * `#/jobs/<id>`.
 */

/** The view a hash names, and its query. */
export interface Route {
  params: URLSearchParams;
  /** `/jobs/<id>` → `["jobs", "<id>"]`; `#/` → `[]`. */
  segments: string[];
}

/** Reads `location.hash`: `#/jobs?status=failed` → `{ segments: ["jobs"], params }`. */
export function parseHash(hash: string): Route {
  const text = hash.replace(/^#/, "") || "/";
  const [path = "/", query = ""] = text.split("?", 2);
  const segments = path
    .split("/")
    .filter((s) => s !== "")
    .map((s) => {
      try {
        return decodeURIComponent(s);
      } catch {
        return s;
      }
    });
  return { params: new URLSearchParams(query), segments };
}

/** `#/jobs?status=failed`, leaving out empty values. */
export function hashFor(path: string, params: Record<string, string | null | undefined> = {}): string {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value) query.set(key, value);
  const text = query.toString();
  return `#${path}${text ? `?${text}` : ""}`;
}

/** The route of one job's page. */
export function jobHash(id: string): string {
  return `#/jobs/${encodeURIComponent(id)}`;
}
