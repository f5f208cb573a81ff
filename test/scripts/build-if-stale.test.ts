import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { isStale } from "../../scripts/build-if-stale.mjs";

describe("build-if-stale: npm start compiles only when dist/ is older than its sources", () => {
  let dir: string;
  const at = (path: string, seconds: number) => utimesSync(join(dir, path), seconds, seconds);
  const write = (path: string, seconds: number) => {
    writeFileSync(join(dir, path), "x");
    at(path, seconds);
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "build-if-stale-"));
    mkdirSync(join(dir, "src", "http"), { recursive: true });
    mkdirSync(join(dir, "dist"));
    write("package.json", 1000);
    write("tsconfig.json", 1000);
    write("tsconfig.build.json", 1000);
    write("src/main.ts", 1000);
    write("src/http/server.ts", 1000);
    at("src/http", 1000);
    at("src", 1000);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("builds when dist/main.js is missing", () => {
    expect(isStale(dir)).toBe("dist/main.js is missing");
  });

  it("does not build when dist/main.js is newer than everything it is built from", () => {
    write("dist/main.js", 2000);
    // What a build does not read may be newer.
    write("README.md", 3000);
    mkdirSync(join(dir, "test"));
    write("test/a.test.ts", 3000);
    expect(isStale(dir)).toBeNull();
  });

  it.each([
    ["src/http/server.ts", "a source file deep in src/"],
    ["src/main.ts", "a source file"],
    ["tsconfig.json", "tsconfig.json"],
    ["tsconfig.build.json", "tsconfig.build.json"],
    ["package.json", "package.json"],
  ])("builds when %s is newer (%s)", (path) => {
    write("dist/main.js", 2000);
    at(path, 3000);
    expect(isStale(dir)).toBe(`${path} is newer than dist/main.js`);
  });

  it("builds when a file was added or removed in src/ (its folder's time moves)", () => {
    write("dist/main.js", 2000);
    rmSync(join(dir, "src/http/server.ts"));
    at("src/http", 3000);
    expect(isStale(dir)).toBe(`${join("src", "http")} is newer than dist/main.js`);
  });
});
