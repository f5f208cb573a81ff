import { randomUUID } from "node:crypto";
import { type AddressInfo, connect, createServer, type Socket } from "node:net";
import type { Etcd3 } from "etcd3";
import { createEtcdClient } from "../../src/etcd.js";

/**
 * The etcd the backend suites use: ETCD_ENDPOINTS when set (CI sets it, and then an etcd
 * that does not answer fails the suite), else a local default that may be absent, in
 * which case the etcd suites skip and say so.
 */
export const etcdEndpoints = (process.env.ETCD_ENDPOINTS ?? "http://127.0.0.1:2379").split(",");
const required = process.env.ETCD_ENDPOINTS !== undefined;

export async function etcdIsAvailable(): Promise<boolean> {
  const probe = newEtcd();
  try {
    await probe.get("probe").string();
    return true;
  } catch (error) {
    if (required) {
      throw new Error(
        `ETCD_ENDPOINTS=${etcdEndpoints.join(",")} is set but etcd does not answer: ${error}`,
      );
    }
    console.warn(
      `etcd suites skipped: no etcd at ${etcdEndpoints.join(",")} (set ETCD_ENDPOINTS to require one).`,
    );
    return false;
  } finally {
    probe.close();
  }
}

/** A key prefix no other test uses. */
export function isolatedEtcdPrefix(): string {
  return `/sig/test/${randomUUID()}/`;
}

/** The gateway's own client (fail-fast options) on `endpoints`. */
export function newEtcd(endpoints: string[] = etcdEndpoints): Etcd3 {
  return createEtcdClient({
    endpoints,
    username: null,
    password: null,
    caFile: null,
    certFile: null,
    keyFile: null,
  });
}

export async function deleteEtcdPrefix(client: Etcd3, prefix: string): Promise<void> {
  await client.delete().prefix(prefix);
}

/**
 * A TCP proxy in front of etcd that a test can cut and restore, to make a client lose
 * its connection (a partition) while etcd itself runs on.
 */
export async function etcdProxy(target: string = etcdEndpoints[0] as string) {
  const { hostname, port: targetPort } = new URL(target);
  const sockets = new Set<Socket>();
  const server = createServer((incoming) => {
    const outgoing = connect(Number(targetPort), hostname);
    for (const socket of [incoming, outgoing]) {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
      socket.on("error", () => {});
    }
    incoming.pipe(outgoing).pipe(incoming);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    /** Refuses new connections and drops the open ones. */
    async cut(): Promise<void> {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
    async restore(): Promise<void> {
      await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
    },
    async close(): Promise<void> {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
