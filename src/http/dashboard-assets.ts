import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { extname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { brotliCompress, constants, gzip } from "node:zlib";
import { matches, preferredEncoding } from "./graphiql-page.js";

/**
 * The live dashboard: the static files `npm run build` writes into dist/dashboard
 * (scripts/build-dashboard.mjs), served at `/` and `/dashboard`, its assets under
 * `/dashboard/assets/`. Every file is read and compressed (gzip, br) once, at the first
 * request, and kept: they never change while the process runs.
 *
 * Caching: index.html is `no-cache` with an ETag (a new build is seen on the next load);
 * the assets carry their content hash in their names, so they are `immutable` for a year.
 * A request names a file of the map, never a path on disk: `..` finds nothing.
 */
export type DashboardAssets = {
  /** Whether the request is one of the dashboard's (GET or HEAD of its paths). */
  owns(req: IncomingMessage, pathname: string): boolean;
  /**
   * Answers it; false (nothing written) for `/` when the dashboard is not built, so the
   * caller answers the gateway's JSON line as before.
   */
  answer(req: IncomingMessage, res: ServerResponse, pathname: string): Promise<boolean>;
};

/** dist/dashboard beside dist/main.js; the same folder when running src/ through tsx. */
const defaultDashboardDir = fileURLToPath(new URL("../../dist/dashboard/", import.meta.url));

const DASHBOARD_PATH = "/dashboard";
const ASSETS_PREFIX = `${DASHBOARD_PATH}/assets/`;

type Encoding = "br" | "gzip" | "identity";
type Asset = {
  type: string;
  immutable: boolean;
  bodies: Record<Encoding, Buffer>;
  etags: Record<Encoding, string>;
};
type Built = { index: Asset; assets: Map<string, Asset> } | null;

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".json": "application/json; charset=utf-8",
  ".map": "application/json; charset=utf-8",
};

const compressGzip = promisify(gzip);
const compressBrotli = promisify(brotliCompress);

export function createDashboardAssets(dir: string = defaultDashboardDir): DashboardAssets {
  let built: Promise<Built> | null = null;
  const load = () => {
    if (built === null) {
      built = loadDashboard(dir);
      // A folder unreadable for another reason than absence is tried again next time.
      built.catch(() => {
        built = null;
      });
    }
    return built;
  };

  return {
    owns(req, pathname) {
      if (req.method !== "GET" && req.method !== "HEAD") return false;
      return (
        pathname === "/" ||
        pathname === DASHBOARD_PATH ||
        pathname === `${DASHBOARD_PATH}/` ||
        pathname.startsWith(ASSETS_PREFIX)
      );
    },
    async answer(req, res, pathname) {
      const current = await load();
      if (pathname === "/" && (current === null || !wantsHtml(req))) return false;
      if (current === null) {
        send(res, 503, "text/plain; charset=utf-8", NOT_BUILT);
        return true;
      }
      const asset = pathname.startsWith(ASSETS_PREFIX)
        ? current.assets.get(pathname.slice(ASSETS_PREFIX.length))
        : current.index;
      if (!asset) {
        send(res, 404, "text/plain; charset=utf-8", `No dashboard asset ${pathname}\n`);
        return true;
      }
      serve(req, res, asset);
      return true;
    },
  };
}

const NOT_BUILT =
  "The dashboard is not built: run `npm run build` (it writes dist/dashboard), then restart.\n";

/** A browser asks for HTML; `curl` and clients asking for JSON get the JSON line at `/`. */
function wantsHtml(req: IncomingMessage): boolean {
  const accept = req.headers.accept ?? "";
  return accept.includes("text/html");
}

function serve(req: IncomingMessage, res: ServerResponse, asset: Asset): void {
  const encoding = preferredEncoding(req.headers["accept-encoding"]);
  const etag = asset.etags[encoding];
  const headers: Record<string, string | number> = {
    "content-type": asset.type,
    "cache-control": asset.immutable ? "public, max-age=31536000, immutable" : "no-cache",
    vary: "accept-encoding",
    etag,
    "x-content-type-options": "nosniff",
  };
  if (matches(req.headers["if-none-match"], etag)) {
    res.writeHead(304, headers);
    res.end();
    return;
  }
  const body = asset.bodies[encoding];
  if (encoding !== "identity") headers["content-encoding"] = encoding;
  headers["content-length"] = body.length;
  res.writeHead(200, headers);
  res.end(req.method === "HEAD" ? undefined : body);
}

function send(res: ServerResponse, status: number, type: string, text: string): void {
  res.writeHead(status, { "content-type": type, "content-length": Buffer.byteLength(text) });
  res.end(text);
}

/** Null when dir holds no index.html: the dashboard was not built. */
async function loadDashboard(dir: string): Promise<Built> {
  let html: Buffer;
  try {
    html = await readFile(join(dir, "index.html"));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw error;
  }
  const assets = new Map<string, Asset>();
  let names: string[] = [];
  try {
    names = await readdir(join(dir, "assets"));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  for (const name of names) {
    const type = TYPES[extname(name)];
    if (!type) continue;
    assets.set(name, await prepare(await readFile(join(dir, "assets", name)), type, true));
  }
  return { index: await prepare(html, TYPES[".html"] as string, false), assets };
}

async function prepare(body: Buffer, type: string, immutable: boolean): Promise<Asset> {
  const hash = createHash("sha256").update(body).digest("base64url").slice(0, 27);
  // Every type served is text: each compresses, once, at the best quality (a few KB).
  const [gz, br] = await Promise.all([
    compressGzip(body, { level: 9 }),
    compressBrotli(body, {
      params: {
        [constants.BROTLI_PARAM_QUALITY]: 11,
        [constants.BROTLI_PARAM_SIZE_HINT]: body.length,
      },
    }),
  ]);
  return {
    type,
    immutable,
    bodies: { identity: body, gzip: gz, br },
    etags: { identity: `"${hash}"`, gzip: `"${hash}-gzip"`, br: `"${hash}-br"` },
  };
}
