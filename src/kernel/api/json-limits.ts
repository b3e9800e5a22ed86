/**
 * JSON nesting limit (JSON_MAX_DEPTH). Bun's JSON.parse is iterative and copes with any depth that fits in
 * MAX_BODY_SIZE, but everything after it — schema validation, our own walkers, JSON.stringify into the
 * database and logs — may recurse, and a 1 MiB body of "[[[[…" would blow their stacks. So the parsed body is
 * measured (iteratively) in onTransform, which runs after parsing and before validation and handlers.
 */
import { AppError } from "../../core/errors.ts";

/** True when `value` nests objects/arrays deeper than `limit` levels (a top-level `{}` is depth 1). Pure, no recursion. */
export function exceedsDepth(value: unknown, limit: number): boolean {
  if (value === null || typeof value !== "object") return false;
  const stack: Array<[object, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (depth > limit) return true;
    const children = Array.isArray(node) ? node : Object.values(node);
    for (const child of children) {
      if (child !== null && typeof child === "object") stack.push([child, depth + 1]);
    }
  }
  return false;
}

/** True when any string in `value` — keys included — holds a NUL character. Pure, no recursion. */
export function containsNul(value: unknown): boolean {
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const node = stack.pop();
    if (typeof node === "string") {
      if (node.includes("\0")) return true;
    } else if (node !== null && typeof node === "object") {
      for (const [k, child] of Object.entries(node)) {
        if (k.includes("\0")) return true;
        stack.push(child);
      }
    }
  }
  return false;
}

/**
 * Throws WE-REQ-004 (400) when a parsed body nests deeper than `maxDepth`, or holds a NUL character: PostgreSQL
 * refuses NUL in text and jsonb alike, so left through it became a 500 at the first insert (issue 12 fuzzing).
 */
export function assertJsonDepth(body: unknown, maxDepth: number): void {
  // Only plain parsed JSON: FormData, Blobs and streams (uploads) are not ours to walk.
  if (body === null || typeof body !== "object" || !(Array.isArray(body) || Object.getPrototypeOf(body) === Object.prototype || Object.getPrototypeOf(body) === null)) return;
  if (exceedsDepth(body, maxDepth)) {
    throw new AppError("WE-REQ-004", `JSON nested deeper than ${maxDepth} levels (JSON_MAX_DEPTH)`, { max_depth: maxDepth });
  }
  if (containsNul(body)) throw new AppError("WE-REQ-004", "the body holds a NUL character (\\u0000), which no field accepts");
}

/** An onTransform handler enforcing JSON_MAX_DEPTH on the parsed request body. */
export function jsonDepthHook(maxDepth: number) {
  return ({ body }: { body: unknown }) => assertJsonDepth(body, maxDepth);
}
