import { badInput } from "../domain/errors.js";

/**
 * The `first` of a list request, checked against the smallest and largest page the list
 * serves (the largest is MAX_PAGE_SIZE); absent, the list's own default.
 */
export function pageSize(
  first: number | null | undefined,
  { fallback, min, max }: { fallback: number; min: 0 | 1; max: number },
): number {
  const size = first ?? fallback;
  if (!Number.isInteger(size) || size < min || size > max) {
    throw badInput("first", `must be between ${min} and ${max}`);
  }
  return size;
}
