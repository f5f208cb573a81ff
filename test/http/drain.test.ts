import { Agent, type IncomingHttpHeaders, request } from "node:http";
import { describe, expect, it } from "vitest";
import WebSocket from "ws";
import { authHeaders, startGateway, wsConnectionParams } from "../helpers/gateway.js";

type Answer = { status: number; headers: IncomingHttpHeaders; reusedSocket: boolean; body: string };

/** One request through node:http, so the test controls which connection it goes on. */
function send(
  agent: Agent,
  url: string,
  options: {
    method?: string;
    body?: string;
    accept?: string;
    /** Sends half the body, and the rest when the test calls `finish`. */
    holdBack?: (finish: () => void) => void;
  } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const body = options.body ?? "";
    const req = request(
      url,
      {
        agent,
        method: options.method ?? "GET",
        headers: {
          accept: options.accept ?? "application/json",
          ...authHeaders(),
          ...(body && {
            "content-type": "application/json",
            "content-length": Buffer.byteLength(body),
          }),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            reusedSocket: req.reusedSocket,
            body: Buffer.concat(chunks).toString("utf8"),
          }),
        );
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    if (options.holdBack) {
      const half = Math.floor(body.length / 2);
      req.write(body.slice(0, half));
      options.holdBack(() => req.end(body.slice(half)));
    } else req.end(body);
  });
}

const REGISTER = JSON.stringify({
  query: `mutation { registerService(input: { id: "in-flight", name: "n", type: "t", version: "1", baseUrl: "http://t.test" }) { id } }`,
});

describe("stopping drains connections", () => {
  it("answers the next request on an idle keep-alive connection with Connection: close, then closes it", async () => {
    const gateway = await startGateway({ idleConnectionGraceMs: 10_000 });
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const before = await send(agent, `${gateway.url}/health/alive`);
      expect(before.headers.connection).toBe("keep-alive");

      const stopped = gateway.stop();
      const after = await send(agent, `${gateway.url}/health/alive`);
      expect(after).toMatchObject({ status: 200, reusedSocket: true });
      expect(after.headers.connection).toBe("close");
      // Resolves when that connection closes, long before the idle grace is over.
      await stopped;
      await expect(send(new Agent(), `${gateway.url}/health/alive`)).rejects.toMatchObject({
        code: "ECONNREFUSED",
      });
    } finally {
      agent.destroy();
    }
  });

  it("finishes a request whose body is still arriving, with Connection: close", async () => {
    const gateway = await startGateway({ idleConnectionGraceMs: 10_000 });
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      // On a connection the server has accepted: one made during stop would be refused.
      await send(agent, `${gateway.url}/health/alive`);
      let finishBody: () => void = () => {};
      const answer = send(agent, `${gateway.url}/graphql`, {
        method: "POST",
        body: REGISTER,
        holdBack: (finish) => {
          finishBody = finish;
        },
      });
      const stopped = gateway.stop();
      finishBody();
      const answered = await answer;
      expect(answered.status).toBe(200);
      expect(answered.headers.connection).toBe("close");
      expect(JSON.parse(answered.body)).toEqual({ data: { registerService: { id: "in-flight" } } });
      await stopped;
    } finally {
      agent.destroy();
    }
  });

  it("completes a subscription begun during the stop at once, with Connection: close", async () => {
    const gateway = await startGateway({ idleConnectionGraceMs: 10_000 });
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      await send(agent, `${gateway.url}/health/alive`);
      const stopped = gateway.stop();
      // yoga's SSE head says keep-alive; the answer during a stop must not.
      const answer = await send(agent, `${gateway.url}/graphql`, {
        method: "POST",
        accept: "text/event-stream",
        body: JSON.stringify({ query: `subscription { registryChanged { change } }` }),
      });
      expect(answer).toMatchObject({ status: 200, reusedSocket: true });
      expect(answer.headers.connection).toBe("close");
      expect(answer.body).toContain("event: complete");
      await stopped;
    } finally {
      agent.destroy();
    }
  });

  it("completes SSE subscriptions and closes WebSockets with 1001", async () => {
    const gateway = await startGateway();
    const sse = await fetch(`${gateway.url}/graphql`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "text/event-stream",
        ...authHeaders(),
      },
      body: JSON.stringify({ query: `subscription { registryChanged { change } }` }),
    });
    expect(sse.status).toBe(200);
    const reader = (sse.body as ReadableStream<Uint8Array>).getReader();
    // yoga's first ping: the stream is open.
    await reader.read();

    const socket = new WebSocket(`${gateway.url.replace("http", "ws")}/graphql`, [
      "graphql-transport-ws",
    ]);
    const closeCode = new Promise<number>((resolve) => socket.once("close", resolve));
    await new Promise<void>((resolve, reject) => {
      socket.once("open", () =>
        socket.send(JSON.stringify({ type: "connection_init", payload: wsConnectionParams() })),
      );
      socket.once("message", () => resolve());
      socket.once("error", reject);
    });

    const stopped = gateway.stop();
    let rest = "";
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      rest += new TextDecoder().decode(value);
    }
    expect(rest).toContain("event: complete");
    expect(await closeCode).toBe(1001);
    await stopped;
  });
});
