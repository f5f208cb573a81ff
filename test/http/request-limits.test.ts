import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import {
  authHeaders,
  startGateway,
  type TestGateway,
  wsConnectionParams,
} from "../helpers/gateway.js";

const post = (
  gateway: TestGateway,
  body: string,
  headers: Record<string, string> = {},
  path = "/graphql",
) =>
  fetch(`${gateway.url}${path}`, {
    method: "POST",
    headers: { ...authHeaders(), ...headers },
    body,
  });

describe("batches and cross-site requests", () => {
  let gateway: TestGateway;

  beforeAll(async () => {
    gateway = await startGateway();
  });
  afterAll(() => gateway.stop());

  it("refuses a batch on the fast path and on yoga's alike", async () => {
    const batch = `  [{"query":"{ __typename }"},{"query":"{ __typename }"}]`;
    // Without Origin a JSON POST takes the fast path; with one, or as graphql+json, yoga.
    const variants: Record<string, string>[] = [
      { "content-type": "application/json" },
      { "content-type": "application/json", origin: "http://dashboard.test" },
      { "content-type": "application/graphql+json", accept: "application/graphql-response+json" },
    ];
    for (const headers of variants) {
      const response = await post(gateway, batch, headers);
      expect(response.status).toBe(400);
      expect(await response.json()).toEqual({
        errors: [
          {
            message: "Batched operations are not accepted: send one operation per request.",
            extensions: { code: "BAD_REQUEST" },
          },
        ],
      });
    }
  });

  it("refuses a mutation over GET (405), and answers a query", async () => {
    const get = (query: string) =>
      fetch(`${gateway.url}/graphql?query=${encodeURIComponent(query)}`, {
        headers: { accept: "application/json", ...authHeaders() },
      });
    const mutation = await get(`mutation { unregisterService(id: "x") }`);
    expect(mutation.status).toBe(405);
    expect(((await mutation.json()) as { errors: unknown[] }).errors[0]).toMatchObject({
      extensions: { code: "BAD_REQUEST" },
    });
    expect((await get("{ __typename }")).status).toBe(200);
  });

  it("refuses what a browser may POST cross-site without a preflight (415)", async () => {
    const query = `{"query":"mutation { unregisterService(id: \\"x\\") }"}`;
    const cases: [Record<string, string>, string][] = [
      [
        { "content-type": "application/x-www-form-urlencoded" },
        `query=${encodeURIComponent("{ __typename }")}`,
      ],
      [
        { "content-type": "multipart/form-data; boundary=b" },
        `--b\r\nContent-Disposition: form-data; name="operations"\r\n\r\n${query}\r\n--b--\r\n`,
      ],
      [{ "content-type": "text/plain;charset=UTF-8" }, query],
      [{}, query],
    ];
    for (const [headers, body] of cases) {
      const response = await post(gateway, body, headers);
      expect(response.status, JSON.stringify(headers)).toBe(415);
      const answer = (await response.json()) as { errors: { extensions: unknown }[] };
      expect(answer.errors[0]?.extensions).toEqual({ code: "BAD_REQUEST" });
    }
    for (const type of ["application/json; charset=utf-8", "application/graphql+json"]) {
      const response = await post(gateway, `{"query":"{ __typename }"}`, { "content-type": type });
      expect(response.status, type).toBe(200);
    }
  });

  it("wants JSON in a REST body, and none where there is none", async () => {
    const text = await post(gateway, "{}", { "content-type": "text/plain" }, "/registry/services");
    expect(text.status).toBe(415);
    expect(await text.json()).toMatchObject({ code: "BAD_REQUEST" });
    const form = await post(gateway, "a=b", {}, "/discovery/services/search");
    expect(form.status).toBe(415);
    const json = await post(
      gateway,
      "{}",
      { "content-type": "application/json" },
      "/discovery/services/search",
    );
    expect(json.status).toBe(200);
    const bodiless = await fetch(`${gateway.url}/registry/services/nobody`, {
      method: "DELETE",
      headers: authHeaders(),
    });
    expect(bodiless.status).toBe(404);
  });
});

/** Messages of one raw graphql-transport-ws socket, and how to wait for one. */
function rawSocket(url: string) {
  const socket = new WebSocket(`${url.replace("http", "ws")}/graphql`, "graphql-transport-ws");
  const messages: { type: string; id?: string; payload?: unknown }[] = [];
  const waiters: (() => void)[] = [];
  socket.on("message", (data) => {
    messages.push(JSON.parse(String(data)));
    for (const wake of waiters.splice(0)) wake();
  });
  const closed = new Promise<number>((resolve) => socket.on("close", (code) => resolve(code)));
  return {
    socket,
    closed,
    messages,
    async until(predicate: (m: (typeof messages)[number]) => boolean) {
      while (!messages.some(predicate)) {
        await new Promise<void>((resolve) => waiters.push(resolve));
      }
      return messages.find(predicate);
    },
    send: (message: unknown) => socket.send(JSON.stringify(message)),
    opened: new Promise<void>((resolve) => socket.once("open", () => resolve())),
  };
}

const SUBSCRIPTION = "subscription { serviceStatusChanged { status } }";

describe("graphql-ws limits", () => {
  let gateway: TestGateway;

  beforeAll(async () => {
    gateway = await startGateway({
      maxRequestBodyBytes: 4096,
      webSockets: { connectionInitTimeoutMs: 200, maxSubscriptionsPerConnection: 2 },
    });
  });
  afterAll(() => gateway.stop());

  it("closes a socket that never sends connection_init with 4408", async () => {
    const { closed } = rawSocket(gateway.url);
    expect(await closed).toBe(4408);
  });

  it("closes a socket that sends a message above MAX_REQUEST_BODY_BYTES with 1009", async () => {
    const raw = rawSocket(gateway.url);
    await raw.opened;
    raw.send({ type: "connection_init", payload: { pad: "x".repeat(8192) } });
    expect(await raw.closed).toBe(1009);
  });

  it("refuses an operation beyond the per-connection maximum and keeps the socket", async () => {
    const raw = rawSocket(gateway.url);
    await raw.opened;
    raw.send({ type: "connection_init", payload: wsConnectionParams() });
    await raw.until((m) => m.type === "connection_ack");
    for (const id of ["1", "2", "3"]) {
      raw.send({ id, type: "subscribe", payload: { query: SUBSCRIPTION } });
    }
    const refused = await raw.until((m) => m.type === "error");
    expect(refused).toMatchObject({
      id: "3",
      payload: [{ extensions: { code: "BAD_REQUEST", limit: "subscriptions", max: 2 } }],
    });
    // Completing one makes room for one more, and no more.
    raw.send({ id: "1", type: "complete" });
    raw.send({ id: "4", type: "subscribe", payload: { query: SUBSCRIPTION } });
    raw.send({ id: "5", type: "subscribe", payload: { query: SUBSCRIPTION } });
    await raw.until((m) => m.type === "error" && m.id === "5");
    expect(raw.messages.filter((m) => m.type === "error").map((m) => m.id)).toEqual(["3", "5"]);
    expect(raw.socket.readyState).toBe(WebSocket.OPEN);
    raw.socket.close();
  });
});
