/**
 * `npm run db:check`: the migrations in drizzle/ are whole, and they are src/db/schema.ts.
 *
 * 1. `drizzle-kit check`: the journal and the snapshot chain are consistent (no two
 *    migrations on one parent, no malformed or outdated snapshot). It never reads the schema.
 * 2. Drift: `drizzle-kit generate` into a copy of drizzle/ must find nothing to migrate. A
 *    schema.ts edited without `npm run db:generate` makes it write a migration, and fails here.
 *
 * drizzle-kit exits 0 even when a command throws, and generate, asked to tell a rename from
 * a drop and an add, throws for want of a terminal and writes nothing. So success is what
 * each command prints on success (drizzle-kit is pinned; a new wording fails, never passes),
 * and the copy must come back unchanged.
 */
import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import config from "../drizzle.config.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const drizzleKit = join(root, "node_modules", ".bin", "drizzle-kit");
const migrations = join(root, config.out ?? "drizzle");

/** Runs drizzle-kit from the root, never waiting on a prompt; its stdout and stderr, as one. */
function drizzle(args: string[]): string {
  const run = spawnSync(drizzleKit, args, {
    cwd: root,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
    timeout: 120_000,
  });
  if (run.error) throw run.error;
  return `${run.stdout}${run.stderr}`.trim();
}

function fail(message: string, output: string): never {
  console.error(`${output}\n\n${message}`);
  process.exit(1);
}

/** Every file under `dir`, by path relative to it, with its content. */
function filesOf(dir: string): Map<string, string> {
  const files = new Map<string, string>();
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    files.set(relative(dir, path), readFileSync(path, "utf8"));
  }
  return files;
}

/** What `drizzle-kit generate` into `copy` wrote or said, when it is not "nothing to migrate". */
function drift(copy: string): { message: string; output: string } | null {
  const out = join(copy, "drizzle");
  cpSync(migrations, out, { recursive: true });
  // The same options as drizzle.config.ts but another out (generate takes no --out beside
  // --config). drizzle-kit prefixes "./" to out, so it has to be relative.
  const generated = drizzle([
    "generate",
    `--dialect=${config.dialect}`,
    `--schema=${config.schema}`,
    ...(config.casing ? [`--casing=${config.casing}`] : []),
    `--out=${relative(root, out)}`,
  ]);
  const before = filesOf(migrations);
  const after = filesOf(out);
  const changed = [...after.keys()].filter((path) => before.get(path) !== after.get(path));
  if (changed.length > 0) {
    const sql = changed
      .filter((path) => path.endsWith(".sql"))
      .map((path) => `-- ${path}\n${after.get(path)}`)
      .join("\n\n");
    return {
      message:
        "src/db/schema.ts has changes no migration holds: run `npm run db:generate` and commit drizzle/.",
      output: sql || generated,
    };
  }
  if (!generated.includes("No schema changes, nothing to migrate")) {
    return {
      message:
        "drizzle-kit generate did not finish (a rename asks in a terminal): run `npm run db:generate`.",
      output: generated,
    };
  }
  return null;
}

if (typeof config.schema !== "string") {
  fail("drizzle.config.ts must name its schema as one path or glob.", "");
}

const checked = drizzle(["check", "--config", join(root, "drizzle.config.ts")]);
if (!checked.includes("Everything's fine")) {
  fail("drizzle-kit check: the migrations in drizzle/ are not consistent.", checked);
}

const copy = mkdtempSync(join(tmpdir(), "gateway-drift-"));
let found: ReturnType<typeof drift>;
try {
  found = drift(copy);
} finally {
  rmSync(copy, { recursive: true, force: true });
}
if (found) fail(found.message, found.output);
console.log("drizzle/ is consistent and holds every change to src/db/schema.ts");
