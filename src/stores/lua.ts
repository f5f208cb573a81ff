import { readFileSync } from "node:fs";

/** Resolves the same way from src/stores and dist/stores: lua/ sits beside both. */
const luaFolder = new URL("../../lua/", import.meta.url);

/**
 * The text of scripts in lua/, one after another (a script that uses helpers is loaded
 * after the file that defines them), for ioredis `defineCommand`. ioredis sends a
 * script's body on a connection's first call, then only its SHA (EVALSHA); on a
 * NOSCRIPT (Redis restarted empty, SCRIPT FLUSH) it sends the body again. Read when a
 * store is created, so a gateway without Redis never needs the folder.
 */
export function luaSource(...names: string[]): string {
  return names.map((name) => readFileSync(new URL(`${name}.lua`, luaFolder), "utf8")).join("\n");
}
