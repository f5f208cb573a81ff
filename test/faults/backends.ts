import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

/*
 * Private Redis and PostgreSQL servers for the fault-injection suites: each on a port of
 * its own, in a temporary directory, started and killed by pid. The shared servers of
 * the machine (6379, 5432) are never touched.
 */

/** A port nobody listens on right now. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (!address || typeof address === "string") throw new Error("no port");
  return address.port;
}

async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    // Polling an external server that has no event to wait on: real time is the point.
    await sleep(50);
  }
  throw new Error(`${what} did not happen within ${timeoutMs} ms`);
}

async function portAnswers(port: number): Promise<boolean> {
  const { connect } = await import("node:net");
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once("exit", () => resolve()));
}

export type PrivateRedis = {
  url: string;
  port: number;
  /** Starts the server (again): empty, as a restarted Redis without persistence is. */
  start(): Promise<void>;
  /** SIGKILL, as a crash: clients see their sockets reset. */
  kill(): Promise<void>;
  /** Kills it if it runs; for afterAll. */
  dispose(): Promise<void>;
};

export async function startPrivateRedis(): Promise<PrivateRedis> {
  const port = await freePort();
  let child: ChildProcess | null = null;
  const redis: PrivateRedis = {
    url: `redis://127.0.0.1:${port}`,
    port,
    async start() {
      child = spawn(
        "redis-server",
        ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        { stdio: "ignore" },
      );
      await until(`private Redis on ${port}`, () => portAnswers(port));
    },
    async kill() {
      const running = child;
      child = null;
      if (!running) return;
      running.kill("SIGKILL");
      await exited(running);
    },
    dispose: () => redis.kill(),
  };
  await redis.start();
  return redis;
}

export type PrivatePostgres = {
  url: string;
  port: number;
  /** Starts the cluster (again), its data kept across stops. */
  start(): Promise<void>;
  /** `pg_ctl stop -m immediate`: every backend killed at once, no checkpoint, as a crash. */
  stopImmediately(): Promise<void>;
  /** Stops it and deletes its files; for afterAll. */
  dispose(): Promise<void>;
};

const postgresBin = (() => {
  const root = "/usr/lib/postgresql";
  const versions = existsSync(root) ? readdirSync(root).sort((a, b) => Number(b) - Number(a)) : [];
  return versions.length > 0 ? join(root, versions[0] as string, "bin") : null;
})();

/** Whether this machine can run a private PostgreSQL (its binaries and a postgres user). */
const canRunPostgres = postgresBin !== null && existsSync(join(postgresBin, "initdb"));

/** Runs a PostgreSQL binary as the postgres user (initdb refuses root). */
function asPostgres(binary: string, args: string[]): void {
  const command = [join(postgresBin as string, binary), ...args]
    .map((arg) => `'${arg.replaceAll("'", "'\\''")}'`)
    .join(" ");
  const asRoot = process.getuid?.() === 0;
  execFileSync(asRoot ? "su" : "sh", asRoot ? ["postgres", "-c", command] : ["-c", command], {
    stdio: "ignore",
  });
}

export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  if (!canRunPostgres) throw new Error("PostgreSQL binaries not found under /usr/lib/postgresql");
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "sig-faults-pg-"));
  chmodSync(dir, 0o777);
  const data = join(dir, "data");
  asPostgres("initdb", ["-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8"]);
  let running = false;
  const pg: PrivatePostgres = {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    async start() {
      // -k: the socket in our own directory, never the shared server's.
      asPostgres("pg_ctl", [
        "-D",
        data,
        "-l",
        join(dir, "log"),
        "-o",
        `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`,
        "-w",
        "start",
      ]);
      running = true;
    },
    async stopImmediately() {
      if (!running) return;
      asPostgres("pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"]);
      running = false;
    },
    async dispose() {
      await pg.stopImmediately().catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await pg.start();
  return pg;
}

export type PrivateEtcd = {
  endpoint: string;
  /** Starts the server (again), on the data it had unless `empty`: then on a new directory. */
  start(options?: { empty?: boolean }): Promise<void>;
  /** SIGKILL, as a crash. */
  kill(): Promise<void>;
  /** Kills it if it runs and removes its data; for afterAll. */
  dispose(): Promise<void>;
};

/** Files of a server certificate for 127.0.0.1, its key and the CA that signed both. */
export type EtcdTls = { caFile: string; certFile: string; keyFile: string };

/**
 * A single-member etcd (`etcd` from the etcd-server package) on ports of its own; with
 * `tls`, its client port speaks TLS and asks clients for a certificate from the same CA.
 */
export async function startPrivateEtcd(tls?: EtcdTls): Promise<PrivateEtcd> {
  const [clientPort, peerPort] = [await freePort(), await freePort()];
  const root = mkdtempSync(join(tmpdir(), "sig-etcd-"));
  let generation = 0;
  let child: ChildProcess | null = null;
  const client = `${tls ? "https" : "http"}://127.0.0.1:${clientPort}`;
  const tlsArgs = tls
    ? [
        ...["--cert-file", tls.certFile, "--key-file", tls.keyFile],
        ...["--trusted-ca-file", tls.caFile, "--client-cert-auth"],
      ]
    : [];
  const peer = `http://127.0.0.1:${peerPort}`;
  const etcd: PrivateEtcd = {
    endpoint: client,
    async start({ empty = false } = {}) {
      if (empty) generation += 1;
      child = spawn(
        "etcd",
        [
          ...["--name", "faults", "--data-dir", join(root, `data-${generation}`)],
          ...["--listen-client-urls", client, "--advertise-client-urls", client],
          ...["--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer],
          ...["--initial-cluster", `faults=${peer}`, "--max-txn-ops", "512"],
          ...["--log-level", "error"],
          ...tlsArgs,
        ],
        { stdio: "ignore" },
      );
      // Over TLS the health URL needs a client certificate: that the port answers is enough.
      await until(`private etcd on ${clientPort}`, async () => {
        if (tls) return portAnswers(clientPort);
        try {
          const response = await fetch(`${client}/health`);
          return response.ok && ((await response.json()) as { health?: string }).health === "true";
        } catch {
          return false;
        }
      });
    },
    async kill() {
      const running = child;
      child = null;
      if (!running) return;
      running.kill("SIGKILL");
      await exited(running);
    },
    async dispose() {
      await etcd.kill();
      rmSync(root, { recursive: true, force: true });
    },
  };
  await etcd.start();
  return etcd;
}

/** A throwaway CA and a certificate for 127.0.0.1 signed by it (openssl), in `dir`. */
export function etcdTlsFiles(dir: string): EtcdTls {
  const file = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => execFileSync("openssl", args, { stdio: "ignore" });
  openssl(
    ...["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"],
    ...["-subj", "/CN=sig-test-ca", "-keyout", file("ca.key"), "-out", file("ca.crt")],
  );
  openssl(
    ...["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1"],
    ...["-keyout", file("node.key"), "-out", file("node.csr")],
  );
  writeFileSync(
    file("ext.cnf"),
    "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n",
  );
  openssl(
    ...["x509", "-req", "-in", file("node.csr"), "-CA", file("ca.crt"), "-CAkey", file("ca.key")],
    ...["-CAcreateserial", "-days", "1", "-extfile", file("ext.cnf"), "-out", file("node.crt")],
  );
  return { caFile: file("ca.crt"), certFile: file("node.crt"), keyFile: file("node.key") };
}
