// `npm start`'s prestart: compiles (`npm run build`) only when dist/ is older than what it
// is built from. Plain Node ESM with no dependencies, so it runs wherever `npm start` does.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, rmSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The newest of what a build reads: every file and folder in src/ and dashboard/ (a
 * folder's time moves when a file in it is deleted or renamed), the dashboard's build
 * script, tsconfig*.json and package.json.
 */
function newestInput(dir) {
  const newest = { path: "", mtimeMs: 0 };
  const visit = (path) => {
    const stat = statSync(path);
    if (stat.mtimeMs > newest.mtimeMs) Object.assign(newest, { path, mtimeMs: stat.mtimeMs });
    if (stat.isDirectory()) for (const name of readdirSync(path)) visit(join(path, name));
  };
  visit(join(dir, "src"));
  for (const path of [join(dir, "dashboard"), join(dir, "scripts", "build-dashboard.mjs")]) {
    if (existsSync(path)) visit(path);
  }
  for (const name of readdirSync(dir)) {
    if (name === "package.json" || /^tsconfig.*\.json$/.test(name)) visit(join(dir, name));
  }
  return newest;
}

/**
 * Whether `dir`'s dist/main.js is missing or older than anything a build reads; the reason
 * when it is, null when dist/ is up to date.
 */
export function isStale(dir) {
  let builtMs;
  try {
    builtMs = statSync(join(dir, "dist", "main.js")).mtimeMs;
  } catch {
    return "dist/main.js is missing";
  }
  const newest = newestInput(dir);
  return newest.mtimeMs > builtMs
    ? `${relative(dir, newest.path) || "."} is newer than dist/main.js`
    : null;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const root = fileURLToPath(new URL("..", import.meta.url));
  const reason = isStale(root);
  if (reason !== null) {
    console.error(`${reason}: npm run build`);
    // A shell, for npm.cmd on Windows; the command is a constant.
    const build = spawnSync("npm run build", { cwd: root, stdio: "inherit", shell: true });
    // tsc writes dist/ even when it reports errors: without dist/main.js the next start
    // builds (and fails) again instead of running what failed.
    if (build.status !== 0) rmSync(join(root, "dist", "main.js"), { force: true });
    process.exit(build.status ?? 1);
  }
}
