import { badInput } from "../errors.js";

export type Page<T> = {
  nodes: T[];
  totalCount: number;
  hasNextPage: boolean;
  endCursor: string | null;
};

export type PageRequest = { first?: number | null; after?: string | null };

const CURSOR_PREFIX = "service:";

/** Opaque to clients; it holds the last id seen, so pages stay stable while services come and go. */
export function encodeCursor(id: string): string {
  return Buffer.from(`${CURSOR_PREFIX}${id}`).toString("base64url");
}

/** Longest cursor this API hands out: the prefix and a 128-character id, in base64url. */
const MAX_CURSOR_LENGTH = 256;

function decodeCursor(cursor: string): string {
  if (cursor.length > MAX_CURSOR_LENGTH)
    throw badInput("after", "is not a cursor returned by this API");
  const decoded = Buffer.from(cursor, "base64url").toString();
  if (!decoded.startsWith(CURSOR_PREFIX) || decoded.length === CURSOR_PREFIX.length) {
    throw badInput("after", "is not a cursor returned by this API");
  }
  return decoded.slice(CURSOR_PREFIX.length);
}

/** Orders by id in code-unit order, the order cursors compare in. */
export function byId(a: { id: string }, b: { id: string }): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** Keyset pagination over items ordered by id. */
export function paginateById<T extends { id: string }>(
  items: T[],
  { first, after }: PageRequest,
  maxPageSize: number,
): Page<T> {
  const size = first ?? 100;
  if (!Number.isInteger(size) || size < 0 || size > maxPageSize) {
    throw badInput("first", `must be between 0 and ${maxPageSize}`);
  }
  const afterId = after ? decodeCursor(after) : null;
  const sorted = items.slice().sort(byId);
  const start = afterId === null ? 0 : sorted.findIndex((item) => item.id > afterId);
  const remaining = start === -1 ? [] : sorted.slice(start);
  const nodes = remaining.slice(0, size);
  const last = nodes.at(-1);
  return {
    nodes,
    totalCount: items.length,
    hasNextPage: remaining.length > nodes.length,
    endCursor: last ? encodeCursor(last.id) : null,
  };
}
