import { cursorCodec } from "../lib/cursor.js";
import { pageSize } from "../lib/page-size.js";

export type Page<T> = {
  nodes: T[];
  totalCount: number;
  hasNextPage: boolean;
  endCursor: string | null;
};

export type PageRequest = { first?: number | null; after?: string | null };

const serviceCursor = cursorCodec("service");

/** The cursor of the page that ends at the service `id`. */
export const encodeCursor = serviceCursor.encode;

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
  const size = pageSize(first, { fallback: 100, min: 0, max: maxPageSize });
  const afterId = after ? serviceCursor.decode(after) : null;
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
