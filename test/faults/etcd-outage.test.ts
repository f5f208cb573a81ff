import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterAll, describe, expect, it } from "vitest";
import { createEtcdClient } from "../../src/etcd.js";
import { createEtcdEvents } from "../../src/events.js";
import { createEtcdLeaseStore } from "../../src/stores/etcd-lease.js";
import { createEtcdRegistryStore } from "../../src/stores/etcd-registry.js";
import { newEtcd } from "../helpers/etcd.js";
import { errorCodeOf, startGateway } from "../helpers/gateway.js";
import { eventually } from "../helpers/wait.js";
import { serviceRecord } from "../stores/registry-contract.js";
import { etcdTlsFiles, type PrivateEtcd, startPrivateEtcd } from "./backends.js";

const SERVICE = `{ service(id: "etcd-worker") { id status } }`;

/**
 * A gateway on a private etcd that is killed and started again: on its data, then empty.
 * No answer is a crash or a hang, readiness names etcd while it is away, and the gateway
 * recovers with no restart, rebuilding the live registry from its database when etcd
 * comes back empty.
 */
describe("etcd killed and restarted", () => {
  let etcd: PrivateEtcd;
  const cleanUp: (() => unknown)[] = [];
  afterAll(async () => {
    for (const close of cleanUp.reverse()) await close();
  });

  it("answers SERVICE_UNAVAILABLE and 503 naming etcd while it is away, and recovers alone", async () => {
    etcd = await startPrivateEtcd();
    cleanUp.push(() => etcd.dispose());
    const client = newEtcd([etcd.endpoint]);
    cleanUp.push(() => client.close());
    const keyPrefix = "/sig/faults/v1/";
    const store = createEtcdRegistryStore({ client, keyPrefix });
    const events = createEtcdEvents({
      client,
      keyPrefix,
      changesSince: (since, limit) => store.changesSince(since, limit),
      log: pino({ level: "silent" }),
    });
    const gateway = await startGateway({
      store,
      events,
      leases: createEtcdLeaseStore({ client, keyPrefix }),
      // Only the store's own notices may start a rebuild quickly.
      restoreCheckIntervalMs: 60_000,
    });
    cleanUp.push(() => gateway.stop());
    const registered = await gateway.graphql(
      `mutation { registerService(input: { id: "etcd-worker", name: "w", type: "worker",
         version: "1", baseUrl: "http://worker.test" }) { id } }`,
    );
    expect(registered.errors).toBeUndefined();
    const ready = () => fetch(`${gateway.url}/health/ready`);

    for (const empty of [false, true]) {
      await etcd.kill();
      const started = performance.now();
      const refused = await gateway.graphql(SERVICE);
      expect(errorCodeOf(refused)).toBe("SERVICE_UNAVAILABLE");
      expect(performance.now() - started).toBeLessThan(3000);
      const answer = await ready();
      expect(answer.status).toBe(503);
      expect(await answer.text()).toContain("registry store (etcd)");

      await etcd.start({ empty });
      const back = performance.now();
      await eventually(async () => {
        expect((await gateway.graphql(SERVICE)).data).toEqual({
          service: { id: "etcd-worker", status: "ONLINE" },
        });
        expect((await ready()).status).toBe(200);
      });
      console.log(
        `etcd restarted ${empty ? "empty" : "on its data"}: the registry answered again ${Math.round(performance.now() - back)} ms after etcd did`,
      );
    }
  });
});

describe("etcd with auth enabled", () => {
  it("works with ETCD_USERNAME/ETCD_PASSWORD, and refuses clearly without them", async () => {
    const etcd = await startPrivateEtcd();
    const admin = newEtcd([etcd.endpoint]);
    try {
      await admin.role("root").create();
      await admin.user("root").create("root-password");
      await admin.user("root").addRole("root");
      await admin.auth.authEnable();
      const keyPrefix = "/sig/auth/v1/";
      const authed = createEtcdClient({
        endpoints: [etcd.endpoint],
        username: "root",
        password: "root-password",
        caFile: null,
        certFile: null,
        keyFile: null,
      });
      const anonymous = newEtcd([etcd.endpoint]);
      try {
        const store = createEtcdRegistryStore({ client: authed, keyPrefix });
        expect(await store.put(serviceRecord({ type: "AUTHED" }), null)).toMatchObject({
          ok: true,
        });
        expect(await store.find({ type: "AUTHED" })).toHaveLength(1);
        const refused = createEtcdRegistryStore({ client: anonymous, keyPrefix });
        await expect(refused.find({ type: "AUTHED" })).rejects.toMatchObject({
          code: "SERVICE_UNAVAILABLE",
          details: { dependency: "etcd" },
        });
      } finally {
        authed.close();
        anonymous.close();
      }
    } finally {
      admin.close();
      await etcd.dispose();
    }
  });
});

describe("etcd over TLS", () => {
  it("works with ETCD_CA_FILE, ETCD_CERT_FILE and ETCD_KEY_FILE", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sig-etcd-tls-"));
    const tls = etcdTlsFiles(dir);
    const etcd = await startPrivateEtcd(tls);
    const client = createEtcdClient({
      endpoints: [etcd.endpoint],
      username: null,
      password: null,
      ...tls,
    });
    try {
      const store = createEtcdRegistryStore({ client, keyPrefix: "/sig/tls/v1/" });
      expect(await store.put(serviceRecord({ type: "OVER_TLS" }), null)).toMatchObject({
        ok: true,
      });
      expect(await store.find({ type: "OVER_TLS" })).toHaveLength(1);
    } finally {
      client.close();
      await etcd.dispose();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
