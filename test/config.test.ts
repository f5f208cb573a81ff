import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../src/config.js";

describe("configuration", () => {
  it("runs on embedded defaults when nothing is set", () => {
    expect(loadConfig({})).toMatchObject({
      serviceName: "service-integration",
      port: 8090,
      logLevel: "info",
      discoveryBackend: "memory",
      redis: null,
      database: { dataDir: "./.data" },
    });
  });

  it("takes the seed's variables, upper-case log levels included", () => {
    const config = loadConfig({
      SERVICE_NAME: "sig",
      SERVICE_PORT: "9000",
      LOG_LEVEL: "DEBUG",
      REDIS_HOST: "redis",
      REDIS_PORT: "6380",
      POSTGRES_HOST: "db",
      POSTGRES_PASSWORD: "p@ss",
    });
    expect(config).toMatchObject({
      serviceName: "sig",
      port: 9000,
      logLevel: "debug",
      discoveryBackend: "redis",
      redis: { url: "redis://redis:6380", keyPrefix: "sig:v1:" },
      database: { url: "postgres://postgres:p%40ss@db:5432/berrys_integration" },
    });
  });

  it("prefers REDIS_URL, and honours an explicit memory backend", () => {
    const config = loadConfig({
      REDIS_URL: "redis://cache:6379/2",
      REDIS_HOST: "ignored",
      DISCOVERY_BACKEND: "memory",
    });
    expect(config.redis?.url).toBe("redis://cache:6379/2");
    expect(config.discoveryBackend).toBe("memory");
  });

  it("treats empty variables as unset", () => {
    expect(loadConfig({ REDIS_HOST: "", SERVICE_PORT: "" })).toMatchObject({
      redis: null,
      port: 8090,
    });
  });

  it("logs pretty by default on a terminal outside production, JSON everywhere else", () => {
    const production = { NODE_ENV: "production", ADMIN_TOKEN: "an-admin-token-0123456789" };
    const formatOf = (env: NodeJS.ProcessEnv, stdoutIsTTY: boolean) =>
      loadConfig(env, { stdoutIsTTY }).logFormat;
    expect(formatOf({}, true)).toBe("pretty");
    expect(formatOf({}, false)).toBe("json");
    expect(formatOf({ NODE_ENV: "development" }, true)).toBe("pretty");
    expect(formatOf(production, true)).toBe("json");
    expect(formatOf(production, false)).toBe("json");
    expect(formatOf({ LOG_FORMAT: "json" }, true)).toBe("json");
    expect(formatOf({ LOG_FORMAT: "PRETTY" }, false)).toBe("pretty");
    expect(formatOf({ ...production, LOG_FORMAT: "pretty" }, false)).toBe("pretty");
    expect(formatOf({ LOG_FORMAT: "" }, false)).toBe("json");
  });

  it("refuses a LOG_FORMAT other than json or pretty, saying which are", () => {
    let error: unknown;
    try {
      loadConfig({ LOG_FORMAT: "logfmt" });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual(['LOG_FORMAT must be "json" or "pretty"']);
  });

  it("reports every invalid variable at once", () => {
    let error: unknown;
    try {
      loadConfig({
        SERVICE_PORT: "eighty",
        LOG_LEVEL: "loud",
        REDIS_URL: "http://not-redis",
        DISCOVERY_BACKEND: "consul",
        ADMIN_TOKEN: "short",
      });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.join("\n");
    for (const variable of [
      "SERVICE_PORT",
      "LOG_LEVEL",
      "REDIS_URL",
      "DISCOVERY_BACKEND",
      "ADMIN_TOKEN",
    ]) {
      expect(problems).toContain(variable);
    }
  });

  it("bounds shutdown by SHUTDOWN_TIMEOUT_SECONDS, 10 unless set", () => {
    expect(loadConfig({}).shutdownTimeoutSeconds).toBe(10);
    expect(loadConfig({ SHUTDOWN_TIMEOUT_SECONDS: "2.5" }).shutdownTimeoutSeconds).toBe(2.5);
    expect(() => loadConfig({ SHUTDOWN_TIMEOUT_SECONDS: "-1" })).toThrow(
      /SHUTDOWN_TIMEOUT_SECONDS/,
    );
  });

  it("leaves rate limits off unless RATE_LIMIT_PER_MINUTE is set; the burst follows it", () => {
    expect(loadConfig({}).rateLimits).toEqual({ perMinute: 0, burst: 1 });
    expect(loadConfig({ RATE_LIMIT_PER_MINUTE: "120" }).rateLimits).toEqual({
      perMinute: 120,
      burst: 120,
    });
    expect(loadConfig({ RATE_LIMIT_PER_MINUTE: "120", RATE_LIMIT_BURST: "10" }).rateLimits).toEqual(
      { perMinute: 120, burst: 10 },
    );
    expect(loadConfig({}).webSockets).toEqual({
      connectionInitTimeoutMs: 10_000,
      maxSubscriptionsPerConnection: 100,
    });
    expect(() => loadConfig({ RATE_LIMIT_PER_MINUTE: "-1" })).toThrow(ConfigError);
  });

  it("refuses a Redis backend with no Redis to use", () => {
    expect(() => loadConfig({ DISCOVERY_BACKEND: "redis" })).toThrow(/DISCOVERY_BACKEND/);
  });

  it("runs on etcd when named, with ETCD_ENDPOINTS and its TLS and auth options", () => {
    expect(() => loadConfig({ DISCOVERY_BACKEND: "etcd" })).toThrow(/ETCD_ENDPOINTS/);
    expect(() => loadConfig({ DISCOVERY_BACKEND: "etcd", ETCD_ENDPOINTS: "etcd-1:2379" })).toThrow(
      /ETCD_ENDPOINTS/,
    );
    expect(() =>
      loadConfig({
        DISCOVERY_BACKEND: "etcd",
        ETCD_ENDPOINTS: "https://etcd-1:2379",
        ETCD_CERT_FILE: "/tls/client.crt",
      }),
    ).toThrow(/ETCD_CA_FILE/);
    const config = loadConfig({
      DISCOVERY_BACKEND: "etcd",
      ETCD_ENDPOINTS: "https://etcd-1:2379, https://etcd-2:2379",
      ETCD_USERNAME: "gateway",
      ETCD_PASSWORD: "secret",
      ETCD_CA_FILE: "/tls/ca.crt",
      ETCD_CERT_FILE: "/tls/client.crt",
      ETCD_KEY_FILE: "/tls/client.key",
      // Redis set as well: the backend named wins.
      REDIS_HOST: "redis",
    });
    expect(config.discoveryBackend).toBe("etcd");
    expect(config.etcd).toEqual({
      endpoints: ["https://etcd-1:2379", "https://etcd-2:2379"],
      username: "gateway",
      password: "secret",
      caFile: "/tls/ca.crt",
      certFile: "/tls/client.crt",
      keyFile: "/tls/client.key",
      keyPrefix: "/sig/v1/",
    });
    // etcd is never implied by ETCD_ENDPOINTS alone.
    expect(loadConfig({ ETCD_ENDPOINTS: "http://etcd:2379" })).toMatchObject({
      discoveryBackend: "memory",
      etcd: null,
    });
  });

  it("reads ALLOWED_SERVICE_HOSTS as a list of entries, empty (any host) unless set", () => {
    expect(loadConfig({}).allowedServiceHosts).toEqual([]);
    expect(loadConfig({ ALLOWED_SERVICE_HOSTS: " , " }).allowedServiceHosts).toEqual([]);
    expect(
      loadConfig({ ALLOWED_SERVICE_HOSTS: "*.svc.cluster.local, billing,10.0.0.0/8 ,fd00::/8," })
        .allowedServiceHosts,
    ).toEqual(["*.svc.cluster.local", "billing", "10.0.0.0/8", "fd00::/8"]);
  });

  it("names every ALLOWED_SERVICE_HOSTS entry it cannot read", () => {
    let error: unknown;
    try {
      loadConfig({ ALLOWED_SERVICE_HOSTS: "billing,*,10.0.0.0/33,host:8080" });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.filter((problem) =>
      problem.startsWith("ALLOWED_SERVICE_HOSTS"),
    );
    expect(problems).toHaveLength(3);
    expect(problems.join("\n")).toMatch(/"\*"[\s\S]*"10\.0\.0\.0\/33"[\s\S]*"host:8080"/);
  });
});
