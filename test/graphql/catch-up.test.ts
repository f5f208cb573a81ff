import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dataOf, errorCodeOf, startGateway, type TestGateway } from "../helpers/gateway.js";

const CHANGES = /* GraphQL */ `
  query($since: Int!, $first: Int) {
    registryChanges(sinceRevision: $since, first: $first) {
      revision resyncRequired hasMore
      events { change revision service { id status } }
    }
  }
`;

type Changes = {
  registryChanges: {
    revision: number;
    resyncRequired: boolean;
    hasMore: boolean;
    events: { change: string; revision: number; service: { id: string; status: string } }[];
  };
};

describe("catching up on registry changes", () => {
  let gateway: TestGateway;
  beforeAll(async () => {
    gateway = await startGateway();
  });
  afterAll(() => gateway.stop());

  const changes = async (since: number, first?: number) =>
    dataOf(await gateway.graphql<Changes>(CHANGES, { since, first })).registryChanges;
  const register = (id: string) =>
    gateway.graphql(
      `mutation($input: RegisterServiceInput!) { registerService(input: $input) { id } }`,
      {
        input: { id, name: id, type: "worker", version: "1", baseUrl: `http://${id}.test` },
      },
    );

  it("returns what a client missed since its revision, in order, page by page", async () => {
    const start = (await changes(0)).revision;
    dataOf(await register("c1"));
    dataOf(await register("c2"));
    dataOf(
      await gateway.graphql(
        `mutation { updateServiceStatus(id: "c1", status: MAINTENANCE) { id } }`,
      ),
    );
    dataOf(await gateway.graphql(`mutation { unregisterService(id: "c2") }`));

    const all = await changes(start);
    expect(all.resyncRequired).toBe(false);
    expect(all.revision).toBe(start + 4);
    expect(all.events.map((event) => [event.change, event.service.id])).toEqual([
      ["REGISTERED", "c1"],
      ["REGISTERED", "c2"],
      ["UPDATED", "c1"],
      ["UNREGISTERED", "c2"],
    ]);
    expect(all.events.map((event) => event.revision)).toEqual([
      start + 1,
      start + 2,
      start + 3,
      start + 4,
    ]);

    const firstPage = await changes(start, 3);
    expect(firstPage).toMatchObject({ hasMore: true, resyncRequired: false });
    const rest = await changes(firstPage.events.at(-1)?.revision ?? 0, 3);
    expect(rest.events.map((event) => event.change)).toEqual(["UNREGISTERED"]);
    expect(rest.hasMore).toBe(false);
  });

  it("tells the client to resync when what it missed is no longer all kept", async () => {
    // Services written to the store without a kept change (as a restore does) leave a gap.
    const { serviceRecord } = await import("../stores/registry-contract.js");
    const before = (await changes(0)).revision;
    await gateway.store.put(serviceRecord({ id: "restored" }), null);
    dataOf(await register("after"));
    expect(await changes(before)).toMatchObject({ resyncRequired: true, events: [] });

    const now = (await changes(0)).revision;
    expect(await changes(now)).toMatchObject({ resyncRequired: false, events: [], revision: now });
    expect((await changes(now + 100)).resyncRequired).toBe(true);
  });

  it("rejects a negative revision", async () => {
    expect(errorCodeOf(await gateway.graphql(CHANGES, { since: -1 }))).toBe("BAD_USER_INPUT");
  });
});
