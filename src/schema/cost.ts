/*
 * Query costs for the complexity plugin. A list field's selection costs 10 times over by
 * default; a list sized by `first` costs it once per item asked for, so
 * `statusHistory(first: 500)` inside `services(first: 500)` is priced at what it reads.
 * A cost may read only the field's `first` argument: the operation limits
 * (src/http/operation-limits.ts) remember a document's cost by its `first` values.
 */

/** The cost of a field returning up to `first` items (`fallback` when not given). */
export function perItem(first: number | null | undefined, fallback: number) {
  return { field: 1, multiplier: Math.max(0, first ?? fallback) };
}

/** A list inside a page whose field was priced per item already (`nodes`, `edges`). */
export const pricedByPage = { field: 1, multiplier: 1 };
