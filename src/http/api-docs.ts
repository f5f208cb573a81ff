import { readFileSync } from "node:fs";
import type { ServerResponse } from "node:http";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

/** The files of swagger-ui-dist the page loads, and their types: nothing else is served. */
const ASSETS: Record<string, string> = {
  "swagger-ui.css": "text/css; charset=utf-8",
  "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
  "swagger-ui-standalone-preset.js": "text/javascript; charset=utf-8",
  "favicon-32x32.png": "image/png",
  "favicon-16x16.png": "image/png",
};

const PAGE = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Service Integration Gateway: REST API</title>
  <link rel="stylesheet" href="/docs/swagger-ui.css">
  <link rel="icon" type="image/png" href="/docs/favicon-32x32.png">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/swagger-ui-bundle.js"></script>
  <script src="/docs/swagger-ui-standalone-preset.js"></script>
  <script>
    window.ui = SwaggerUIBundle({
      url: "/openapi.json",
      dom_id: "#swagger-ui",
      presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
      layout: "StandaloneLayout",
      persistAuthorization: true,
    });
  </script>
</body>
</html>
`;

/**
 * `/openapi.json` and `/docs`: the REST routes' OpenAPI document, and Swagger UI over it,
 * served from the installed swagger-ui-dist, so the page works without the internet.
 * `/redoc`, which the seed's FastAPI served too, leads to the same page.
 */
export function createApiDocs(openApi: () => unknown) {
  const assetsDir = dirname(createRequire(import.meta.url).resolve("swagger-ui-dist/package.json"));
  const cache = new Map<string, Buffer>();
  let document: string | null = null;

  const send = (res: ServerResponse, type: string, body: string | Buffer) => {
    res.writeHead(200, {
      "content-type": type,
      "content-length": Buffer.byteLength(body),
      "cache-control": "no-cache",
    });
    res.end(body);
  };

  return {
    /** Whether a path is one of these. */
    owns(pathname: string): boolean {
      return (
        pathname === "/openapi.json" ||
        pathname === "/docs" ||
        pathname === "/redoc" ||
        pathname.startsWith("/docs/")
      );
    },
    /** Answers the path; false for one it does not serve (a 404 is the caller's). */
    answer(pathname: string, res: ServerResponse): boolean {
      if (pathname === "/openapi.json") {
        document ??= JSON.stringify(openApi());
        send(res, "application/json; charset=utf-8", document);
        return true;
      }
      if (pathname === "/docs" || pathname === "/docs/") {
        send(res, "text/html; charset=utf-8", PAGE);
        return true;
      }
      if (pathname === "/redoc") {
        res.writeHead(302, { location: "/docs", "content-length": 0 });
        res.end();
        return true;
      }
      const name = pathname.slice("/docs/".length);
      const type = ASSETS[name];
      if (!type) return false;
      let bytes = cache.get(name);
      if (!bytes) {
        bytes = readFileSync(join(assetsDir, name));
        cache.set(name, bytes);
      }
      send(res, type, bytes);
      return true;
    },
  };
}
