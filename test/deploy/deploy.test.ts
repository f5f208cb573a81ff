import { execFileSync, spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { posix } from "node:path";
import { fileURLToPath } from "node:url";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { Secret } from "kubernetes-models/v1/Secret";
import { Service } from "kubernetes-models/v1/Service";
import { describe, expect, it } from "vitest";
import { parseAllDocuments, parse as parseYaml } from "yaml";
import { imageRecipe, parseDockerfile } from "../../scripts/image-smoke.mjs";
import { environmentVariables, loadConfig } from "../../src/config.js";

/**
 * The deployment files as a platform engineer meets them: the image's build context, the
 * compose stack and its load balancer, the Kubernetes manifests (against the Kubernetes
 * schemas). Every environment they set is one src/config.ts reads and accepts.
 */
const root = fileURLToPath(new URL("../../", import.meta.url));
const read = (path: string) => readFileSync(`${root}${path}`, "utf8");
const tokensExample = `${root}deploy/compose/tokens.example.json`;

// biome-ignore lint/suspicious/noExplicitAny: parsed YAML, asserted on field by field
type Json = any;

/** `env` as the gateway would read it, with the example tokens file in place of the secret. */
function configOf(env: Record<string, string>) {
  return loadConfig({ ...env, AUTH_TOKENS_FILE: tokensExample }, { stdoutIsTTY: false });
}

function unknownVariables(names: string[]) {
  return names.filter((name) => !environmentVariables.includes(name));
}

function gitIgnored(path: string) {
  return spawnSync("git", ["check-ignore", "-q", path], { cwd: root }).status === 0;
}

/** Docker's .dockerignore rule: the last pattern matching the path or a parent wins. */
function dockerIgnored(patterns: string[], path: string) {
  const toRegExp = (glob: string) => {
    let source = "";
    for (let i = 0; i < glob.length; i++) {
      const c = glob.charAt(i);
      if (c === "*" && glob.charAt(i + 1) === "*") {
        source += ".*";
        i += glob.charAt(i + 2) === "/" ? 2 : 1;
      } else if (c === "*") source += "[^/]*";
      else if (c === "?") source += "[^/]";
      else source += c.replace(/[.+^${}()|[\]\\]/, "\\$&");
    }
    return new RegExp(`^${source}$`);
  };
  const prefixes = path.split("/").map((_, i, parts) => parts.slice(0, i + 1).join("/"));
  let ignored = false;
  for (const line of patterns) {
    const negated = line.startsWith("!");
    const pattern = toRegExp(posix.normalize(negated ? line.slice(1) : line));
    if (prefixes.some((prefix) => pattern.test(prefix))) ignored = !negated;
  }
  return ignored;
}

describe("the image", () => {
  const stages = parseDockerfile(read("Dockerfile"));
  const recipe = imageRecipe(stages);
  const final = stages.at(-1)?.instructions ?? [];
  const ignore = read(".dockerignore")
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"));

  it("has in its build context every file a COPY names, and no secrets, tests or local data", () => {
    const sources = stages.flatMap((stage) =>
      stage.instructions
        .filter((i) => i.keyword === "COPY" && !i.args.startsWith("--from"))
        .flatMap((i) => i.args.split(/\s+/).slice(0, -1)),
    );
    expect(sources).toContain("src");
    expect(sources.filter((source) => dockerIgnored(ignore, source))).toEqual([]);
    const kept = [
      ".env",
      ".env.production",
      ".git",
      ".ci/run",
      "deploy/compose/tokens.json",
      "deploy/kubernetes/tokens.json",
      "test/config.test.ts",
      "bench/run.ts",
      "docs/architecture.md",
      ".data/pglite",
      "node_modules/graphql",
      "dist/main.js",
      "coverage/index.html",
      "src/npm-debug.log",
    ].filter((path) => !dockerIgnored(ignore, path));
    expect(kept).toEqual([]);
  });

  it("runs production dependencies only, as a non-root user, the compiled gateway", () => {
    expect(recipe.install).toEqual(expect.arrayContaining(["npm", "ci", "--omit=dev"]));
    expect(recipe.env.NODE_ENV).toBe("production");
    expect(recipe.cmd).toEqual(["node", "dist/main.js"]);
    const user = final.filter((i) => i.keyword === "USER").at(-1)?.args ?? "root";
    // Numeric, so that Kubernetes' runAsNonRoot can check it.
    expect(user).toMatch(/^[1-9]\d*(:\d+)?$/);
  });

  it("probes readiness with node, and waits out a first start on embedded PGlite", () => {
    expect(recipe.healthcheck.command[0]).toBe("node");
    expect(recipe.healthcheck.command.join(" ")).toContain("/health/ready");
    // 7.6 s on an idle machine, several times that on a busy one (scripts/image-smoke.mjs
    // fails when the start period is too short for the machine it runs on).
    expect(recipe.healthcheck.startPeriodMs).toBeGreaterThanOrEqual(30_000);
  });
});

describe("docker-compose.yml", () => {
  const compose: Json = parseYaml(read("docker-compose.yml"));
  const services: Record<string, Json> = compose.services;
  const gatewayName = Object.keys(services).find((name) => services[name].build) ?? "";
  const gateway = services[gatewayName];
  const lb = services.lb;
  /** `${NAME:-default}` as compose fills it in with nothing set. */
  const filled = (value: unknown) => String(value).replace(/\$\{[A-Z_]+:-([^}]*)\}/g, "$1");
  const withDefaults = (env: Record<string, string>) =>
    Object.fromEntries(Object.entries(env).map(([name, value]) => [name, filled(value)]));

  it("builds the gateway's image once, named, and runs it as several replicas", () => {
    expect(Object.values(services).filter((service) => service.build)).toHaveLength(1);
    expect(gateway.image).toMatch(/^service-integration-gateway:/);
    const runningIt = Object.values(services).filter((service) => service.image === gateway.image);
    expect(runningIt).toEqual([gateway]);
    expect(gateway.deploy.replicas).toBeGreaterThanOrEqual(2);
    // Replicas cannot share a host port: only the load balancer publishes one.
    expect(gateway.ports).toBeUndefined();
  });

  it("gives the gateway an environment it accepts in production, the seed's names among it", () => {
    const env = withDefaults(gateway.environment);
    expect(unknownVariables(Object.keys(env))).toEqual([]);
    expect(Object.keys(env)).toEqual(
      expect.arrayContaining(["SERVICE_NAME", "SERVICE_PORT", "REDIS_HOST", "POSTGRES_HOST"]),
    );
    const config = configOf(env);
    expect(config.redis?.url).toBe("redis://redis:6379");
    expect(config.database).toEqual({
      url: "postgres://postgres:postgres@postgres:5432/berrys_integration",
    });
    expect(config.access.tokens.map((token) => token.role)).toContain("admin");
  });

  it("reads tokens from a mounted, git-ignored file whose example is valid", () => {
    const [mount] = gateway.secrets;
    expect(gateway.environment.AUTH_TOKENS_FILE).toBe(`/run/secrets/${mount.target}`);
    const file = compose.secrets[mount.source].file;
    expect(gitIgnored(file)).toBe(true);
    expect(posix.join(posix.dirname(file), "tokens.example.json")).toBe(
      "deploy/compose/tokens.example.json",
    );
    expect(() => configOf({ NODE_ENV: "production" })).not.toThrow();
  });

  it("starts the gateways once PostgreSQL and Redis are healthy, with their data in volumes", () => {
    for (const name of ["postgres", "redis"]) {
      expect(services[name].healthcheck.test).toBeDefined();
      expect(gateway.depends_on[name].condition).toBe("service_healthy");
      const [volume] = services[name].volumes[0].split(":");
      expect(Object.keys(compose.volumes)).toContain(volume);
    }
  });

  it("puts the load balancer in front of the healthy replicas, on port 8090", () => {
    expect(lb.depends_on[gatewayName].condition).toBe("service_healthy");
    expect(lb.ports.map(filled)).toEqual(["8090:8090"]);
    const [source] = lb.volumes[0].split(":");
    const cfg = read(source);
    const port = gateway.environment.SERVICE_PORT;
    expect(cfg).toMatch(new RegExp(`server-template \\S+ \\d+ ${gatewayName}:${port}\\b`));
    expect(cfg).toMatch(/option httpchk GET \/health\/ready\b/);
    expect(cfg).toMatch(/timeout tunnel \d+h/);
    expect(cfg).toMatch(/x-request-id/i);
  });

  it("lets a replica drain before Docker kills it", () => {
    const grace = Number.parseInt(gateway.stop_grace_period, 10);
    expect(grace).toBeGreaterThanOrEqual(Number(gateway.environment.SHUTDOWN_TIMEOUT_SECONDS) + 5);
  });

  // CI installs HAProxy and sets HAPROXY_BIN, so there a missing binary fails.
  const haproxy =
    process.env.HAPROXY_BIN ?? (spawnSync("haproxy", ["-v"]).status === 0 ? "haproxy" : undefined);
  it.skipIf(!haproxy)("has a load balancer configuration HAProxy accepts", () => {
    const [source] = lb.volumes[0].split(":");
    const out = execFileSync(haproxy ?? "haproxy", ["-c", "-f", `${root}${source}`], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    });
    expect(out).toContain("Configuration file is valid");
  });
});

describe("deploy/kubernetes", () => {
  const dir = "deploy/kubernetes";
  const kustomization: Json = parseYaml(read(`${dir}/kustomization.yaml`));
  const files: string[] = kustomization.resources;
  const manifests: Json[] = [...files, "secret.example.yaml"].flatMap((file) =>
    parseAllDocuments(read(`${dir}/${file}`)).map((document) => document.toJS()),
  );
  const byKind = (kind: string) => manifests.find((manifest) => manifest.kind === kind);
  const models: Record<string, (object: Json) => { validate(): void }> = {
    "apps/v1 Deployment": (object) => new Deployment(object),
    "v1 Service": (object) => new Service(object),
    "v1 ConfigMap": (object) => new ConfigMap(object),
    "v1 Secret": (object) => new Secret(object),
    "policy/v1 PodDisruptionBudget": (object) => new PodDisruptionBudget(object),
  };
  const validate = (object: Json) => {
    const model = models[`${object.apiVersion} ${object.kind}`];
    if (!model) throw new Error(`no schema here for ${object.apiVersion} ${object.kind}`);
    model(object).validate();
  };
  const deployment = byKind("Deployment");
  const pod = deployment.spec.template.spec;
  const [container] = pod.containers;
  const configMap = byKind("ConfigMap");

  it("lists every manifest of the folder in kustomization.yaml, and nothing else", () => {
    const yamls = readdirSync(`${root}${dir}`).filter(
      (name) => name.endsWith(".yaml") && name !== "kustomization.yaml",
    );
    expect([...files, "secret.example.yaml"].sort()).toEqual(yamls.sort());
    for (const file of kustomization.secretGenerator[0].files) {
      expect(gitIgnored(`${dir}/${file}`)).toBe(true);
    }
  });

  it.each(manifests.map((manifest) => [manifest.kind, manifest]))(
    "%s is valid against the Kubernetes schemas, without a namespace",
    (_kind, manifest) => {
      expect(() => validate(manifest)).not.toThrow();
      expect(manifest.metadata.namespace).toBeUndefined();
    },
  );

  it("has a validator that rejects a wrong type and a missing required field", () => {
    const wrongType = structuredClone(deployment);
    wrongType.spec.replicas = "2";
    expect(() => validate(wrongType)).toThrow(/replicas must be integer/);
    const unnamed = structuredClone(deployment);
    delete unnamed.spec.template.spec.containers[0].name;
    expect(() => validate(unnamed)).toThrow(/name/);
    const badPort = structuredClone(byKind("Service"));
    badPort.spec.ports[0].port = "http";
    expect(() => validate(badPort)).toThrow(/port/);
  });

  it("runs 2+ replicas, probing readiness, liveness and the first start on the named port", () => {
    expect(deployment.spec.replicas).toBeGreaterThanOrEqual(2);
    const port = container.ports[0];
    expect(String(port.containerPort)).toBe(configMap.data.SERVICE_PORT);
    expect(container.readinessProbe.httpGet).toEqual({ path: "/health/ready", port: port.name });
    expect(container.livenessProbe.httpGet).toEqual({ path: "/health/alive", port: port.name });
    expect(container.startupProbe.httpGet.port).toBe(port.name);
  });

  it("waits for endpoints to drop a pod before SIGTERM, and is not killed while it drains", () => {
    const [command, seconds] = container.lifecycle.preStop.exec.command;
    expect(command).toBe("sleep");
    const drain = Number(configMap.data.SHUTDOWN_TIMEOUT_SECONDS) + 5;
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(Number(seconds) + drain);
  });

  it("runs as a non-root user on a read-only root filesystem", () => {
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    expect(container.securityContext.readOnlyRootFilesystem).toBe(true);
    expect(container.securityContext.allowPrivilegeEscalation).toBe(false);
  });

  it("has an environment the gateway accepts, with tokens mounted where AUTH_TOKENS_FILE says", () => {
    expect(container.envFrom[0].configMapRef.name).toBe(configMap.metadata.name);
    const names = [
      ...Object.keys(configMap.data),
      ...container.env.map((variable: Json) => variable.name),
    ];
    expect(unknownVariables(names)).toEqual([]);
    const config = configOf({ ...configMap.data, POSTGRES_PASSWORD: "secret" });
    expect(config.database).toEqual({
      url: "postgres://postgres:secret@postgres:5432/berrys_integration",
    });
    const secretName = kustomization.secretGenerator[0].name;
    const volume = pod.volumes.find((v: Json) => v.secret?.secretName === secretName);
    const mount = container.volumeMounts.find((m: Json) => m.name === volume.name);
    expect(configMap.data.AUTH_TOKENS_FILE).toBe(
      `${mount.mountPath}/${volume.secret.items[0].path}`,
    );
    expect(byKind("Secret").metadata.name).toBe(secretName);
  });

  it("has an example Secret whose tokens the gateway accepts", () => {
    const text = byKind("Secret").stringData["tokens.json"];
    expect(() =>
      loadConfig({ NODE_ENV: "production", AUTH_TOKENS: text }, { stdoutIsTTY: false }),
    ).not.toThrow();
  });

  it("routes the Service and the disruption budget to the Deployment's pods", () => {
    const labels = deployment.spec.template.metadata.labels;
    const service = byKind("Service");
    expect(labels).toMatchObject(service.spec.selector);
    expect(service.spec.ports[0].targetPort).toBe(container.ports[0].name);
    const budget = byKind("PodDisruptionBudget");
    expect(labels).toMatchObject(budget.spec.selector.matchLabels);
    expect(budget.spec.maxUnavailable ?? 0).toBeLessThan(deployment.spec.replicas);
  });
});
