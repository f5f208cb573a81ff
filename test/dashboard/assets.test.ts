import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { brotliDecompressSync, gunzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildDashboard } from "../../scripts/build-dashboard.mjs";
import { startGateway, type TestGateway } from "../helpers/gateway.js";

const ADMIN_TOKEN = "admin-token-for-dashboard-asset-tests";

describe("the dashboard's files", () => {
  let dir: string;
  let gateway: TestGateway;
  let script: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "sig-dashboard-"));
    await buildDashboard(dir);
    script = (await readdir(join(dir, "assets"))).find((name) => name.endsWith(".js")) ?? "";
    // Tokens mode: the page must still load without a token (it asks for one).
    gateway = await startGateway({ adminToken: ADMIN_TOKEN, dashboardDir: dir });
  });
  afterAll(async () => {
    await gateway?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const get = (path: string, headers: Record<string, string> = {}) =>
    fetch(`${gateway.url}${path}`, { headers });

  it("serves index.html at / and /dashboard without a token, revalidated by ETag", async () => {
    for (const path of ["/", "/dashboard", "/dashboard/"]) {
      const response = await get(path, { accept: "text/html" });
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toBe("text/html; charset=utf-8");
      expect(response.headers.get("cache-control")).toBe("no-cache");
      expect(await response.text()).toContain(`/dashboard/assets/${script}`);
      const etag = response.headers.get("etag") ?? "";
      const again = await get(path, { accept: "text/html", "if-none-match": etag });
      expect(again.status).toBe(304);
    }
  });

  it("keeps GET / the JSON line for clients that do not ask for HTML", async () => {
    const response = await get("/", { accept: "application/json" });
    expect(response.headers.get("content-type")).toContain("application/json");
    expect(await response.json()).toMatchObject({ status: "running", dashboard: "/dashboard" });
  });

  it("serves hashed assets immutable, precompressed, and nothing else", async () => {
    expect(script).toMatch(/^main-[A-Z0-9]+\.js$/);
    const plain = await get(`/dashboard/assets/${script}`, { "accept-encoding": "identity" });
    expect(plain.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect(plain.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    const body = Buffer.from(await plain.arrayBuffer());
    // fetch decodes what it asked for itself: read the raw bytes with node's own client.
    const raw = async (encoding: string) => {
      const { request } = await import("node:http");
      return new Promise<{ headers: Record<string, unknown>; body: Buffer }>((resolve, reject) => {
        request(`${gateway.url}/dashboard/assets/${script}`, {
          headers: { "accept-encoding": encoding },
        })
          .on("response", (res) => {
            const chunks: Buffer[] = [];
            res.on("data", (chunk: Buffer) => chunks.push(chunk));
            res.on("end", () => resolve({ headers: res.headers, body: Buffer.concat(chunks) }));
          })
          .on("error", reject)
          .end();
      });
    };
    const br = await raw("gzip, br");
    expect(br.headers["content-encoding"]).toBe("br");
    expect(brotliDecompressSync(br.body)).toEqual(body);
    const gz = await raw("gzip");
    expect(gz.headers["content-encoding"]).toBe("gzip");
    expect(gunzipSync(gz.body)).toEqual(body);
    // A name is looked up in the map of built files, never joined to a path on disk.
    for (const path of [
      "/dashboard/assets/missing.js",
      "/dashboard/assets/..%2F..%2Fpackage.json",
    ]) {
      expect((await get(path)).status, path).toBe(404);
    }
    // Dot segments are resolved before routing: /dashboard/index.html is no dashboard
    // path, so it needs a token like any other.
    expect((await get("/dashboard/assets/%2e%2e/%2e%2e/package.json")).status).toBe(401);
  });

  it("says to build it when dist/dashboard is missing, and keeps / the JSON line", async () => {
    const bare = await startGateway({ dashboardDir: join(dir, "not-built") });
    try {
      const page = await fetch(`${bare.url}/dashboard`, { headers: { accept: "text/html" } });
      expect(page.status).toBe(503);
      expect(await page.text()).toContain("npm run build");
      const root = await fetch(`${bare.url}/`, { headers: { accept: "text/html" } });
      expect(await root.json()).toMatchObject({ status: "running" });
    } finally {
      await bare.stop();
    }
  });
});
