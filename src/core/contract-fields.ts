/** The field types every task contract is built from (task-contracts.ts, stream-task-contracts.ts). */
import * as v from "valibot";

export const text = v.pipe(v.string(), v.minLength(1));
export const count = v.pipe(v.number(), v.integer(), v.minValue(0));
export const positive = v.pipe(v.number(), v.finite(), v.gtValue(0));
export const bytes = v.pipe(v.number(), v.finite(), v.minValue(0));
