// CI's stand-in for running the image where no Docker engine is: the Dockerfile's final
// stage is read, not restated. Its COPY sources are staged in a temporary directory (the
// build stage's output is the dist/ that `npm run build` made), its `npm ci` runs there,
// and its CMD starts with its ENV, in production mode with a tokens file. Its HEALTHCHECK
// command must then pass, an authenticated query answer, an anonymous one be refused, and
// SIGTERM end the process with exit code 0. Any failed step exits 1, with the gateway's
// output. Plain Node ESM with no dependencies: it runs right after the build.
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, posix } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));

/**
 * The Dockerfile's stages: each a name and its instructions (continuation lines joined,
 * comments dropped), in order.
 */
export function parseDockerfile(text) {
  const lines = text.replace(/\\\r?\n/g, " ").split(/\r?\n/);
  const stages = [];
  for (const line of lines) {
    const trimmed = line.trim();
    if (trimmed === "" || trimmed.startsWith("#")) continue;
    const [, keyword = "", rest = ""] = /^(\S+)\s*(.*)$/.exec(trimmed) ?? [];
    const instruction = { keyword: keyword.toUpperCase(), args: rest.trim() };
    if (instruction.keyword === "FROM") {
      stages.push({ name: /\sAS\s+(\S+)/i.exec(rest)?.[1] ?? null, instructions: [] });
    }
    stages.at(-1)?.instructions.push(instruction);
  }
  return stages;
}

/** `--flag=value` options, then the rest of the words. */
function flagsAndWords(args) {
  const words = args.split(/\s+/).filter(Boolean);
  const flags = {};
  while (words[0]?.startsWith("--")) {
    const [name, value = ""] = words.shift().slice(2).split("=");
    flags[name] = value;
  }
  return { flags, words };
}

/** What the final stage needs to be rerun outside Docker. */
export function imageRecipe(stages) {
  const final = stages.at(-1);
  if (!final) throw new Error("the Dockerfile has no stage");
  const workdirOf = (stage) =>
    stage.instructions.filter((i) => i.keyword === "WORKDIR").at(-1)?.args ?? "/";
  const copies = [];
  const env = {};
  let install = null;
  let healthcheck = null;
  let cmd = null;
  for (const { keyword, args } of final.instructions) {
    if (keyword === "COPY") {
      const { flags, words } = flagsAndWords(args);
      const dest = words.pop();
      // A source of another stage is where that stage made it: its WORKDIR is the checkout.
      const from = flags.from ? stages.find((stage) => stage.name === flags.from) : null;
      if (flags.from && !from) throw new Error(`COPY --from=${flags.from}: no such stage`);
      for (const source of words) {
        const local = from ? posix.relative(workdirOf(from), source) : source;
        if (local.startsWith("..")) throw new Error(`COPY ${source}: outside the checkout`);
        copies.push({ source: local, dest: dest.endsWith("/") ? posix.join(dest, local) : dest });
      }
    } else if (keyword === "ENV") {
      for (const [, name, value] of args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|\S*)/g)) {
        env[name] = value.replace(/^"(.*)"$/, "$1");
      }
    } else if (keyword === "RUN") {
      // Only the install: the other commands prepare /app/data (replaced by a temporary
      // DATA_DIR) or clean npm's cache, which here is the machine's own.
      const npmCi = args.split("&&").find((command) => /^\s*npm ci\b/.test(command));
      if (npmCi) install = npmCi.trim().split(/\s+/);
    } else if (keyword === "HEALTHCHECK") {
      const [, options = "", command = ""] = /^(.*?)\bCMD\s+(.*)$/.exec(args) ?? [];
      const startPeriod = /--start-period=(\d+)s/.exec(options)?.[1];
      healthcheck = { command: JSON.parse(command), startPeriodMs: Number(startPeriod) * 1000 };
    } else if (keyword === "CMD") {
      cmd = JSON.parse(args);
    }
  }
  if (!install) throw new Error("the final stage runs no `npm ci`");
  if (!healthcheck?.startPeriodMs) {
    throw new Error("the final stage has no HEALTHCHECK CMD [...] with --start-period=<n>s");
  }
  if (!cmd) throw new Error("the final stage has no CMD [...]");
  return { workdir: workdirOf(final), copies, env, install, healthcheck, cmd };
}

function step(message) {
  console.log(`image smoke: ${message}`);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function run([command, ...args], options) {
  const result = spawnSync(command, args, { encoding: "utf8", ...options });
  return { ok: result.status === 0, output: `${result.stdout ?? ""}${result.stderr ?? ""}` };
}

/** The final stage's files in `app`, and its `npm ci` run there. */
function stage(recipe, app) {
  for (const { source, dest } of recipe.copies) {
    const target = posix.relative(recipe.workdir, posix.resolve(recipe.workdir, dest));
    cpSync(join(root, source), join(app, target), { recursive: true });
  }
  step(`staged ${recipe.copies.map((copy) => copy.source).join(", ")}`);
  const install = run(recipe.install, { cwd: app, timeout: 180_000 });
  if (!install.ok) throw new Error(`${recipe.install.join(" ")} failed:\n${install.output}`);
  step(`${recipe.install.join(" ")} done`);
}

/** The CMD, with its output kept for a failure's report and its exit as a promise. */
function start(recipe, app, env) {
  const [command, ...args] = recipe.cmd;
  const child = spawn(command, args, { cwd: app, env, stdio: ["ignore", "pipe", "pipe"] });
  const output = [];
  child.stdout.on("data", (chunk) => output.push(chunk));
  child.stderr.on("data", (chunk) => output.push(chunk));
  const exited = new Promise((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  return { child, exited, output: () => Buffer.concat(output).toString() };
}

/** The HEALTHCHECK command, every half second until it passes within the start period. */
async function healthy(recipe, app, env, gateway) {
  let exit = null;
  gateway.exited.then((result) => {
    exit = result;
  });
  const deadline = Date.now() + recipe.healthcheck.startPeriodMs;
  for (;;) {
    if (exit) throw new Error(`the gateway exited while starting (${JSON.stringify(exit)})`);
    if (run(recipe.healthcheck.command, { cwd: app, env, timeout: 5000 }).ok) return;
    if (Date.now() > deadline) throw new Error("the HEALTHCHECK did not pass in the start period");
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** A token's query answers; the same query without one is refused. */
async function checkAccess(port, token) {
  const query = (headers) =>
    fetch(`http://127.0.0.1:${port}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify({ query: "{ systemHealth { status } }" }),
    }).then(async (response) => ({ status: response.status, body: await response.json() }));
  const authenticated = await query({ authorization: `Bearer ${token}` });
  if (authenticated.status !== 200 || !authenticated.body.data?.systemHealth?.status) {
    throw new Error(`the authenticated query failed: ${JSON.stringify(authenticated)}`);
  }
  const anonymous = await query({});
  const code = anonymous.body.errors?.[0]?.extensions?.code;
  if (anonymous.body.data?.systemHealth || code !== "UNAUTHENTICATED") {
    throw new Error(`the anonymous query was not refused: ${JSON.stringify(anonymous)}`);
  }
  step(`a token's query answers, an anonymous one is refused (${anonymous.status} ${code})`);
  // The dashboard is part of the build the image copies (dist/dashboard).
  const page = await fetch(`http://127.0.0.1:${port}/`, { headers: { accept: "text/html" } });
  const html = await page.text();
  if (page.status !== 200 || !page.headers.get("content-type")?.startsWith("text/html")) {
    throw new Error(`the dashboard is not served at /: ${page.status} ${html.slice(0, 200)}`);
  }
  step("the dashboard's page is served at /");
}

async function main() {
  const began = Date.now();
  const seconds = (since = began) => `${Math.round((Date.now() - since) / 1000)} s`;
  const recipe = imageRecipe(parseDockerfile(readFileSync(join(root, "Dockerfile"), "utf8")));
  const dir = mkdtempSync(join(tmpdir(), "image-smoke-"));
  const app = join(dir, "app");
  let gateway = null;
  try {
    stage(recipe, app);
    const token = randomBytes(24).toString("hex");
    const tokensFile = join(dir, "tokens.json");
    writeFileSync(tokensFile, JSON.stringify([{ token, role: "admin", name: "admin" }]));
    const port = await freePort();
    // The image's environment, not this shell's: CI exports REDIS_URL and DATABASE_URL.
    const env = {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: dir,
      ...recipe.env,
      NODE_ENV: "production",
      DATA_DIR: join(dir, "data", "pglite"),
      AUTH_TOKENS_FILE: tokensFile,
      SERVICE_PORT: String(port),
      SERVICE_HOST: "127.0.0.1",
    };
    const startedAt = Date.now();
    gateway = start(recipe, app, env);
    step(`started ${recipe.cmd.join(" ")} on port ${port} (pid ${gateway.child.pid})`);
    await healthy(recipe, app, env, gateway);
    step(`HEALTHCHECK passes ${seconds(startedAt)} after the start`);
    await checkAccess(port, token);
    gateway.child.kill("SIGTERM");
    const result = await Promise.race([
      gateway.exited,
      new Promise((resolve) => setTimeout(() => resolve({ timedOut: true }), 30_000)),
    ]);
    if (result.code !== 0) throw new Error(`after SIGTERM: ${JSON.stringify(result)}, not exit 0`);
    step(`SIGTERM: exit code 0; done in ${seconds()}`);
  } catch (error) {
    console.error(`image smoke: FAILED: ${error.message}`);
    if (gateway) console.error(`--- gateway output ---\n${gateway.output()}`);
    process.exitCode = 1;
  } finally {
    const child = gateway?.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill("SIGKILL");
      await gateway.exited;
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
