import pino from "pino";
import { afterAll, describe, expect, it } from "vitest";
import type { RegistryChangeEvent } from "../src/domain/service.js";
import { createEtcdEvents } from "../src/events.js";
import { createEtcdRegistryStore } from "../src/stores/etcd-registry.js";
import {
  deleteEtcdPrefix,
  etcdIsAvailable,
  etcdProxy,
  isolatedEtcdPrefix,
  newEtcd,
} from "./helpers/etcd.js";
import { eventually } from "./helpers/wait.js";
import { serviceRecord } from "./stores/registry-contract.js";

const available = await etcdIsAvailable();
const log = pino({ level: "silent" });

describe.runIf(available)("events through an etcd watch", () => {
  const closers: (() => unknown)[] = [];
  afterAll(async () => {
    for (const close of closers.reverse()) await close();
  });

  /** A replica's events (and its store, for the kept change log) on `endpoints`. */
  async function replica(keyPrefix: string, endpoints?: string[]) {
    const client = newEtcd(endpoints);
    const store = createEtcdRegistryStore({ client, keyPrefix });
    const events = createEtcdEvents({
      client,
      keyPrefix,
      changesSince: (since, limit) => store.changesSince(since, limit),
      log,
    });
    closers.push(
      () => client.close(),
      () => events.close(),
    );
    await events.watching;
    const heard: RegistryChangeEvent[] = [];
    void (async () => {
      for await (const event of events.subscribe("registry.changed")) heard.push(event);
    })();
    return { client, store, events, heard };
  }

  const change = (revision: number): RegistryChangeEvent => {
    const service = serviceRecord();
    return { change: "UPDATED", service, revision, at: service.updatedAt };
  };
  const revisions = (heard: RegistryChangeEvent[]) => heard.map((event) => event.revision);

  it("lets a subscriber on one replica hear what another publishes", async () => {
    const keyPrefix = isolatedEtcdPrefix();
    const a = await replica(keyPrefix);
    const b = await replica(keyPrefix);
    closers.push(() => deleteEtcdPrefix(a.client, keyPrefix));
    b.events.publish("registry.changed", change(1));
    a.events.publish("registry.changed", change(2));
    // Two publishers race: each replica hears both, in etcd's one order.
    await eventually(() => expect(revisions(a.heard).sort()).toEqual([1, 2]));
    await eventually(() => expect(revisions(b.heard)).toEqual(revisions(a.heard)));
  });

  it("resumes from the last revision it saw after a disconnect: nothing meanwhile is missed", async () => {
    const keyPrefix = isolatedEtcdPrefix();
    const proxy = await etcdProxy();
    closers.push(() => proxy.close());
    const cutOff = await replica(keyPrefix, [proxy.endpoint]);
    const publisher = await replica(keyPrefix);
    closers.push(() => deleteEtcdPrefix(publisher.client, keyPrefix));
    publisher.events.publish("registry.changed", change(1));
    await eventually(() => expect(revisions(cutOff.heard)).toEqual([1]));

    await proxy.cut();
    for (const revision of [2, 3, 4])
      publisher.events.publish("registry.changed", change(revision));
    await eventually(() => expect(revisions(publisher.heard)).toEqual([1, 2, 3, 4]));
    expect(revisions(cutOff.heard)).toEqual([1]);
    await proxy.restore();
    await eventually(() => expect(revisions(cutOff.heard)).toEqual([1, 2, 3, 4]));
  });

  it("resyncs registry changes from the kept log when the revision to resume from was compacted", async () => {
    const keyPrefix = isolatedEtcdPrefix();
    const proxy = await etcdProxy();
    closers.push(() => proxy.close());
    const cutOff = await replica(keyPrefix, [proxy.endpoint]);
    const publisher = await replica(keyPrefix);
    closers.push(() => deleteEtcdPrefix(publisher.client, keyPrefix));
    const publish = async (event: RegistryChangeEvent) => {
      // What the registry does: keep the change, then publish it.
      await publisher.store.appendChange(event, 100);
      publisher.events.publish("registry.changed", event);
    };
    await publish(change(1));
    await eventually(() => expect(revisions(cutOff.heard)).toEqual([1]));

    await proxy.cut();
    for (const revision of [2, 3]) await publish(change(revision));
    await eventually(() => expect(revisions(publisher.heard)).toEqual([1, 2, 3]));
    // The history the cut-off watch would resume from goes.
    const { header } = await publisher.client.kv.range({ key: Buffer.from(keyPrefix) });
    await publisher.client.kv.compact({ revision: header.revision, physical: true });
    await proxy.restore();
    await eventually(() => expect(revisions(cutOff.heard)).toEqual([1, 2, 3]));
    // And it hears live events again, on a new watch.
    await publish(change(4));
    await eventually(() => expect(revisions(cutOff.heard)).toEqual([1, 2, 3, 4]));
  });
});
