import { request } from "node:http";
import { brotliDecompressSync, gunzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  productsSubgraph,
  type RunningSubgraph,
  startSubgraph,
} from "../../examples/federation/subgraphs.js";
import { preferredEncoding } from "../../src/http/graphiql-page.js";
import { authHeaders, dataOf, startGateway, type TestGateway } from "../helpers/gateway.js";

type Answer = {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
};

/** node:http, not fetch: fetch decodes gzip by itself and hides the bytes on the wire. */
function get(url: string, headers: Record<string, string>): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      );
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  });
}

const REGISTER = `mutation($input: RegisterServiceInput!) { registerService(input: $input) { id } }`;

describe("GraphiQL's page, compressed once and revalidated by ETag", () => {
  let gateway: TestGateway;
  let products: RunningSubgraph;

  beforeAll(async () => {
    products = await startSubgraph(productsSubgraph().spec);
    gateway = await startGateway();
    dataOf(
      await gateway.graphql(REGISTER, {
        input: {
          id: "products-1",
          name: "products-1",
          type: "products",
          version: "1.0.0",
          baseUrl: products.baseUrl,
          graphql: { kind: "FEDERATION" },
        },
      }),
    );
    await gateway.app.services.supergraph.refresh();
  });
  afterAll(async () => {
    await gateway.stop();
    await products.close();
  });

  for (const path of ["/graphql", "/federation/graphql"]) {
    describe(path, () => {
      // No token: the page needs none, in either mode.
      const page = (headers: Record<string, string> = {}) =>
        get(`${gateway.url}${path}`, { accept: "text/html", ...headers });

      it("answers without accept-encoding plainly, with an ETag and no-cache", async () => {
        const plain = await page();
        expect(plain.status).toBe(200);
        expect(plain.headers["content-encoding"]).toBeUndefined();
        expect(plain.headers["content-type"]).toBe("text/html; charset=utf-8");
        expect(plain.headers["cache-control"]).toBe("no-cache");
        expect(plain.headers.vary).toBe("accept-encoding");
        expect(plain.headers.etag).toMatch(/^"[\w-]+"$/);
        expect(plain.headers["x-request-id"]).toBeTruthy();
        expect(Number(plain.headers["content-length"])).toBe(plain.body.length);
        expect(plain.body.toString("utf8")).toMatch(/<html[\s\S]*GraphiQL/i);
      });

      it("answers gzip and br that decode to the same page, each with its own ETag", async () => {
        const plain = await page();
        const gzipped = await page({ "accept-encoding": "gzip, deflate" });
        expect(gzipped.status).toBe(200);
        expect(gzipped.headers["content-encoding"]).toBe("gzip");
        expect(gzipped.headers.vary).toBe("accept-encoding");
        expect(gzipped.body.length).toBeLessThan(plain.body.length / 2);
        expect(gunzipSync(gzipped.body).equals(plain.body)).toBe(true);

        const brotli = await page({ "accept-encoding": "gzip, deflate, br" });
        expect(brotli.headers["content-encoding"]).toBe("br");
        expect(brotliDecompressSync(brotli.body).equals(plain.body)).toBe(true);

        const tags = new Set([plain.headers.etag, gzipped.headers.etag, brotli.headers.etag]);
        expect(tags.size).toBe(3);
        // The same bytes every time: compressed once, kept.
        const again = await page({ "accept-encoding": "gzip" });
        expect(again.headers.etag).toBe(gzipped.headers.etag);
        expect(again.body.equals(gzipped.body)).toBe(true);
      });

      it("answers 304 without a body to If-None-Match with the page's ETag", async () => {
        const first = await page({ "accept-encoding": "gzip" });
        const etag = String(first.headers.etag);
        const revalidated = await page({ "accept-encoding": "gzip", "if-none-match": etag });
        expect(revalidated.status).toBe(304);
        expect(revalidated.body.length).toBe(0);
        expect(revalidated.headers.etag).toBe(etag);
        const weak = await page({ "accept-encoding": "gzip", "if-none-match": `W/${etag}` });
        expect(weak.status).toBe(304);
        const other = await page({ "accept-encoding": "gzip", "if-none-match": '"other"' });
        expect(other.status).toBe(200);
      });
    });
  }

  it("leaves GraphQL GETs (a query, JSON accepted) to yoga", async () => {
    const response = await get(
      `${gateway.url}/graphql?query=${encodeURIComponent("{ __typename }")}`,
      { accept: "application/json", "accept-encoding": "gzip", ...authHeaders() },
    );
    expect(response.status).toBe(200);
    expect(response.headers["content-encoding"]).toBeUndefined();
    expect(JSON.parse(response.body.toString("utf8"))).toEqual({ data: { __typename: "Query" } });
  });
});

describe("preferredEncoding", () => {
  it.each([
    [undefined, "identity"],
    ["", "identity"],
    ["gzip", "gzip"],
    ["gzip, deflate, br, zstd", "br"],
    ["br;q=0, gzip", "gzip"],
    ["gzip;q=0.5, br;q=0.4", "gzip"],
    ["identity", "identity"],
    ["*", "br"],
    ["*;q=0", "identity"],
    ["gzip;q=0, *", "br"],
    ["deflate", "identity"],
  ] as const)("%s → %s", (header, expected) => {
    expect(preferredEncoding(header)).toBe(expected);
  });
});
