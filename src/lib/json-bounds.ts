/**
 * How far a JSON value may reach: how deeply its objects and arrays nest, and how many
 * bytes its JSON text takes.
 */
export type JsonLimits = {
  /** Levels of nested objects and arrays: a scalar is 0, `{}` is 1, `{"a":[]}` is 2. */
  maxDepth: number;
  /** UTF-8 bytes of the value as JSON.stringify writes it (no spaces). */
  maxBytes: number;
};

export type JsonLimitExceeded =
  | {
      limit: "depth";
      max: number /** Where the nesting went past the limit, e.g. `a.0.b`. */;
      at: string;
    }
  | { limit: "size"; max: number };

type PathLink = { key: string; parent: PathLink | null };
type Pending = { value: unknown; depth: number; path: PathLink | null };

/**
 * The first limit a value exceeds, or null when it is within both. It walks the value
 * with a stack of its own and counts bytes instead of serialising, because JSON.parse
 * accepts documents nested 100,000 levels deep while JSON.stringify, and any recursive
 * walk, overflows the call stack at a few thousand. It stops at the first excess, so
 * a huge value costs about as much as `maxBytes` of it.
 */
export function exceededJsonLimit(value: unknown, limits: JsonLimits): JsonLimitExceeded | null {
  let bytes = 0;
  const stack: Pending[] = [{ value, depth: 0, path: null }];
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    const { value: current, depth, path } = next;
    if (current !== null && typeof current === "object") {
      if (depth + 1 > limits.maxDepth) {
        return { limit: "depth", max: limits.maxDepth, at: pathText(path) };
      }
      bytes += pushMembers(current, depth + 1, path, stack);
    } else {
      bytes += scalarBytes(current, limits.maxBytes - bytes);
    }
    if (bytes > limits.maxBytes) return { limit: "size", max: limits.maxBytes };
  }
  return null;
}

/** A client-facing sentence for an excess, e.g. "nests deeper than 32 levels (at a.b)". */
export function describeJsonLimit(exceeded: JsonLimitExceeded): string {
  return exceeded.limit === "depth"
    ? `nests deeper than ${exceeded.max} levels${exceeded.at ? ` (at ${exceeded.at})` : ""}`
    : `is larger than ${exceeded.max} bytes as JSON`;
}

/** Pushes an object's or array's members and returns the bytes of its own punctuation. */
function pushMembers(
  container: object,
  depth: number,
  path: PathLink | null,
  stack: Pending[],
): number {
  if (Array.isArray(container)) {
    container.forEach((item, index) => {
      stack.push({ value: item, depth, path: { key: String(index), parent: path } });
    });
    return 2 + Math.max(0, container.length - 1);
  }
  let bytes = 2;
  let members = 0;
  for (const [key, member] of Object.entries(container)) {
    // JSON.stringify leaves these members out of objects, so they take no bytes.
    if (member === undefined || typeof member === "function" || typeof member === "symbol") {
      continue;
    }
    members += 1;
    bytes += stringBytes(key) + 1;
    stack.push({ value: member, depth, path: { key, parent: path } });
  }
  return bytes + Math.max(0, members - 1);
}

/**
 * Bytes of a scalar as JSON. A string longer than what is left cannot fit, whatever its
 * characters (each is at least one byte), so it is not escaped to be measured.
 */
function scalarBytes(value: unknown, left: number): number {
  switch (typeof value) {
    case "string":
      return value.length + 2 > left ? value.length + 2 : stringBytes(value);
    case "number":
      return Number.isFinite(value) ? String(value).length : 4;
    case "boolean":
      return value ? 4 : 5;
    default:
      // null, and what JSON.stringify writes as null inside arrays (undefined, functions).
      return 4;
  }
}

function stringBytes(value: string): number {
  return Buffer.byteLength(JSON.stringify(value));
}

const MAX_PATH_CHARS = 120;

function pathText(path: PathLink | null): string {
  const keys: string[] = [];
  for (let link = path; link !== null; link = link.parent) keys.push(link.key);
  const text = keys.reverse().join(".");
  return text.length > MAX_PATH_CHARS ? `${text.slice(0, MAX_PATH_CHARS)}…` : text;
}
