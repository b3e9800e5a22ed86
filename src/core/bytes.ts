/** Byte helpers shared by the FLV readers and writers (live ingest splice, recording, restream input). */

/** `a` followed by `b`; `b` itself when `a` is empty (no copy for the common first-chunk case). */
export function concatBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
