/** Why `dir`'s dist/main.js needs building (missing, or older than src/), or null. */
export function isStale(dir: string): string | null;
