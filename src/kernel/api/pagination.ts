/** Shared list parameters: `limit` (1-200, default 50) and `offset`. Query strings stay strings (docs/architecture.md §9). */
import * as v from "valibot";

export const limitParam = v.optional(v.pipe(v.string(), v.digits("limit must be a whole number"), v.toNumber(), v.minValue(1), v.maxValue(200)));
// Past 2^53 a digit string no longer converts exactly (and past 2^63 PostgreSQL refuses it: a 500): refused here.
export const offsetParam = v.optional(v.pipe(v.string(), v.digits("offset must be a whole number"), v.toNumber(), v.minValue(0), v.maxValue(Number.MAX_SAFE_INTEGER, "offset is too large")));

export function page(query: { limit?: number; offset?: number }) {
  return { limit: query.limit ?? 50, offset: query.offset ?? 0 };
}
