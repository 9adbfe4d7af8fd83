import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from "fastify";

/**
 * The web dashboard's files, served from memory: the page at `/` and its
 * assets under `/dashboard/`, from a fixed list (no path from the URL ever
 * reaches the filesystem). The page needs no token; everything it shows comes
 * from the API, which does.
 */

/** Headers of every dashboard answer. The CSP allows only this origin's script, styles and API, and no inline code of any kind. */
export const DASHBOARD_HEADERS: Readonly<Record<string, string>> = {
  "cache-control": "no-cache",
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "referrer-policy": "no-referrer",
  "x-content-type-options": "nosniff",
};

/** URL path → built file and its type. */
const FILES: Readonly<Record<string, { file: string; type: string }>> = {
  "/": { file: "index.html", type: "text/html; charset=utf-8" },
  "/dashboard/favicon.svg": { file: "favicon.svg", type: "image/svg+xml" },
  "/dashboard/main.js": { file: "main.js", type: "text/javascript; charset=utf-8" },
  "/dashboard/style.css": { file: "style.css", type: "text/css; charset=utf-8" },
};

interface Asset {
  body: Buffer;
  etag: string;
  type: string;
}

/** Options of {@link offloadDashboard}. */
export interface DashboardOptions {
  /** Directory of the built dashboard. Default: `dist/dashboard`, found from this module (see {@link findDashboardDirectory}). */
  directory?: string;
}

/**
 * Where the built dashboard is: beside this module's directory when it runs
 * from `dist/http` (`dist/dashboard`), else the repository's `dist/dashboard`
 * (running from `src/http` under tsx). Null when neither holds a build.
 */
export function findDashboardDirectory(): string | null {
  for (const relative of ["../dashboard/", "../../dist/dashboard/"]) {
    const directory = fileURLToPath(new URL(relative, import.meta.url));
    if (existsSync(`${directory}main.js`) && existsSync(`${directory}index.html`)) return directory;
  }
  return null;
}

function loadAssets(directory: string | null): Map<string, Asset> | null {
  if (directory === null) return null;
  const assets = new Map<string, Asset>();
  try {
    for (const [path, { file, type }] of Object.entries(FILES)) {
      const body = readFileSync(`${directory.replace(/\/?$/, "/")}${file}`);
      assets.set(path, { body, etag: `"${createHash("sha256").update(body).digest("base64url").slice(0, 27)}"`, type });
    }
  } catch {
    return null;
  }
  return assets;
}

const NOT_BUILT = "The Offload dashboard is not built. Run `npm run build` (npm install runs it), then restart the server.\nThe HTTP API is served at /api/.\n";

/** Whether an `If-None-Match` header names this ETag (also in a list, or `*`). */
function matchesEtag(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  return header.split(",").some((tag) => {
    const t = tag.trim();
    return t === "*" || t === etag || t === `W/${etag}`;
  });
}

/**
 * Serves the dashboard: `GET /` and its assets, each with an ETag
 * (`Cache-Control: no-cache`, so a browser asks again and gets 304 until
 * the build changes) and the {@link DASHBOARD_HEADERS}. The files are read
 * once, at registration. Without a build, `GET /` answers 503 with a line
 * saying to run `npm run build`.
 */
export const offloadDashboard: FastifyPluginAsync<DashboardOptions> = async (app: FastifyInstance, options: DashboardOptions) => {
  const assets = loadAssets(options.directory ?? findDashboardDirectory());
  for (const path of Object.keys(FILES)) {
    app.get(path, async (request: FastifyRequest, reply: FastifyReply) => {
      reply.headers(DASHBOARD_HEADERS);
      const asset = assets?.get(path);
      if (!asset) return reply.code(503).type("text/plain; charset=utf-8").send(NOT_BUILT);
      reply.header("etag", asset.etag);
      if (matchesEtag(request.headers["if-none-match"], asset.etag)) return reply.code(304).send();
      return reply.type(asset.type).send(asset.body);
    });
  }
};
