import { createHash } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { promisify } from "node:util";
import { brotliCompress, constants, gzip } from "node:zlib";

/**
 * GraphiQL's page (~9 MB of HTML and inlined JavaScript) is the same on every request for
 * one gateway: yoga renders it from static options (title, default query, protocol), never
 * from the request. So it is rendered once, by yoga itself, and each encoding (identity,
 * gzip, br) is compressed once, off the event loop, and kept.
 *
 * Caching: `no-cache` with a strong ETag per representation. A browser keeps the page and
 * revalidates it on every load, answered 304 without a body; a gateway upgraded (a new
 * GraphiQL, another default query after tokens were configured) is seen on the next load,
 * where `max-age=3600` would show the old page for up to an hour.
 */
export type GraphiQLPage = {
  /**
   * Answers the page request; false (and nothing written) when the gateway serves no page
   * (GRAPHIQL=false), so the caller goes on as before.
   */
  answer(req: IncomingMessage, res: ServerResponse): Promise<boolean>;
};

/** The page's HTML as yoga answers it; null when it answers none. */
export type RenderPage = () => Promise<string | null>;

type Encoding = "br" | "gzip" | "identity";

type Representation = { body: Buffer; etag: string };

const compressGzip = promisify(gzip);
const compressBrotli = promisify(brotliCompress);

export function createGraphiQLPage(render: RenderPage): GraphiQLPage {
  let page: Promise<{ html: Buffer; hash: string } | null> | null = null;
  const representations = new Map<Encoding, Promise<Representation>>();

  const rendered = () => {
    if (page === null) {
      page = render().then((html) => {
        if (html === null) return null;
        const bytes = Buffer.from(html, "utf8");
        return { html: bytes, hash: createHash("sha256").update(bytes).digest("base64url") };
      });
      // A failed render is not kept: the next request tries again.
      page.catch(() => {
        page = null;
      });
    }
    return page;
  };

  const representation = (encoding: Encoding, html: Buffer, hash: string) => {
    let cached = representations.get(encoding);
    if (!cached) {
      cached = encode(encoding, html).then((body) => ({
        body,
        etag: `"${hash.slice(0, 27)}${encoding === "identity" ? "" : `-${encoding}`}"`,
      }));
      cached.catch(() => representations.delete(encoding));
      representations.set(encoding, cached);
    }
    return cached;
  };

  return {
    async answer(req, res) {
      const current = await rendered();
      if (current === null) return false;
      const encoding = preferredEncoding(req.headers["accept-encoding"]);
      const { body, etag } = await representation(encoding, current.html, current.hash);
      const headers: Record<string, string | number> = {
        "content-type": "text/html; charset=utf-8",
        "cache-control": "no-cache",
        vary: "accept-encoding",
        etag,
      };
      if (matches(req.headers["if-none-match"], etag)) {
        res.writeHead(304, headers);
        res.end();
        return true;
      }
      if (encoding !== "identity") headers["content-encoding"] = encoding;
      headers["content-length"] = body.length;
      res.writeHead(200, headers);
      res.end(req.method === "HEAD" ? undefined : body);
      return true;
    },
  };
}

function encode(encoding: Encoding, html: Buffer): Promise<Buffer> {
  if (encoding === "gzip") return compressGzip(html);
  if (encoding === "br") {
    // Quality 9: 1.9 MB in under a second, once; 11 saves 8% for ten times the time.
    return compressBrotli(html, {
      params: {
        [constants.BROTLI_PARAM_QUALITY]: 9,
        [constants.BROTLI_PARAM_SIZE_HINT]: html.length,
        [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT,
      },
    });
  }
  return Promise.resolve(html);
}

/**
 * br, else gzip, else the page as is, from Accept-Encoding (RFC 9110 §12.5.3): a coding
 * with q=0 is refused; `*` stands for the codings not named; the highest q wins, br on a tie.
 */
export function preferredEncoding(header: string | string[] | undefined): Encoding {
  const text = Array.isArray(header) ? header.join(",") : (header ?? "");
  const weights = new Map<string, number>();
  for (const part of text.split(",")) {
    const [name = "", ...params] = part.split(";").map((piece) => piece.trim().toLowerCase());
    if (name === "") continue;
    const q = params.find((param) => param.startsWith("q="));
    const weight = q === undefined ? 1 : Number(q.slice(2));
    weights.set(name, Number.isFinite(weight) ? weight : 0);
  }
  const weightOf = (coding: string) => weights.get(coding) ?? weights.get("*") ?? 0;
  const br = weightOf("br");
  const gz = Math.max(weightOf("gzip"), weights.get("x-gzip") ?? 0);
  if (br > 0 && br >= gz) return "br";
  if (gz > 0) return "gzip";
  return "identity";
}

/** If-None-Match, compared weakly as RFC 9110 §13.1.2 says: `*` or any listed tag. */
export function matches(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === "*") return true;
  return header
    .split(",")
    .map((tag) => tag.trim().replace(/^W\//, ""))
    .includes(etag);
}
