import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

type JsonRequest = { method: string; path: string; body: Record<string, unknown> };
export type JsonAnswer = { status: number; body?: unknown };
export type JsonHandler = (request: JsonRequest) => JsonAnswer | Promise<JsonAnswer>;

/**
 * A small `node:http` service answering JSON by route on a free loopback port, with
 * `GET /health` answered by `health()` (healthy unless told otherwise).
 */
export async function startJsonService(
  handle: JsonHandler,
  {
    health = () => ({ status: 200, body: { status: "healthy" } }),
  }: { health?: () => JsonAnswer } = {},
) {
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString("utf8");
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    const method = req.method ?? "GET";
    let answer: JsonAnswer;
    try {
      const body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
      answer =
        method === "GET" && path === "/health" ? health() : await handle({ method, path, body });
    } catch {
      answer = { status: 400, body: { detail: "the body is not JSON" } };
    }
    if (answer.body === undefined) {
      res.writeHead(answer.status).end();
      return;
    }
    res
      .writeHead(answer.status, { "content-type": "application/json" })
      .end(JSON.stringify(answer.body));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
