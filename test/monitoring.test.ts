import { createClient } from "graphql-ws";
import { describe, expect, it } from "vitest";
import WebSocket from "ws";
import { startHealthService } from "./fixtures/health-service.js";
import { observedEvents } from "./helpers/events.js";
import { dataOf, startGateway, wsConnectionParams } from "./helpers/gateway.js";
import { eventually } from "./helpers/wait.js";

/**
 * The whole loop, on real time: the gateway's own prober watches a fixture service; a
 * dashboard subscribed over graphql-ws sees it fall when it dies and rise when it returns.
 */
describe("monitoring a service that dies and comes back", () => {
  it("shows subscribers DEGRADED, then OFFLINE within fallAfter probes, then ONLINE again", async () => {
    const fixture = await startHealthService("healthy");
    const observed = observedEvents();
    const gateway = await startGateway({
      events: observed.events,
      probes: { enabled: true, intervalMs: 200, timeoutMs: 300, fallAfter: 3, riseAfter: 2 },
    });
    const client = createClient({
      url: `${gateway.url.replace("http", "ws")}/graphql`,
      webSocketImpl: WebSocket,
      connectionParams: wsConnectionParams(),
      retryAttempts: 0,
    });
    const seen: { status: string; at: number }[] = [];
    const listening = observed.nextSubscriber("service.statusChanged");
    const events = client.iterate<{ serviceStatusChanged: { status: string; reason: string } }>({
      query: `subscription { serviceStatusChanged(serviceId: "watched") { status reason } }`,
    });
    const reading = (async () => {
      for await (const event of events) {
        const status = event.data?.serviceStatusChanged.status;
        if (status) seen.push({ status, at: Date.now() });
      }
    })();
    const waitFor = (status: string) =>
      eventually(() => {
        const event = seen.find((candidate) => candidate.status === status);
        expect(event, `${status} among ${JSON.stringify(seen)}`).toBeDefined();
        return event as { status: string; at: number };
      });

    try {
      dataOf(
        await gateway.graphql(
          `mutation($input: RegisterServiceInput!) { registerService(input: $input) { id } }`,
          {
            input: {
              id: "watched",
              name: "watched",
              type: "worker",
              version: "1",
              baseUrl: fixture.url,
              probeIntervalSeconds: 1,
            },
          },
        ),
      );
      // A healthy probe or two pass, with the subscription listening, and change nothing.
      await listening;
      await eventually(() => expect(fixture.stats().requests).toBeGreaterThanOrEqual(2));
      expect(seen).toEqual([]);

      const killedAt = Date.now();
      await fixture.stop();
      await waitFor("DEGRADED");
      const offline = await waitFor("OFFLINE");
      // fallAfter (3) probes at the service's 1 s period; the slack is for a busy machine.
      expect(offline.at - killedAt).toBeLessThan(3 * 1000 + 3000);

      await fixture.start();
      // It still heartbeats (registered moments ago, TTL 90 s), so healthy probes revive it.
      await waitFor("ONLINE");
      expect(seen.map((event) => event.status)).toEqual(["DEGRADED", "OFFLINE", "ONLINE"]);
    } finally {
      await events.return?.();
      await client.dispose();
      await reading.catch(() => {});
      await gateway.stop();
      await fixture.stop().catch(() => {});
    }
  });
});
