/**
 * Reading the events table in id order without skipping an event that commits late. Pure.
 *
 * Ids come from a sequence when a row is inserted, but transactions commit in any order: transaction A takes
 * id 10, B takes 11 and commits first. A reader that saw 11 and moved its cursor to 11 would never see 10.
 * So a missing id (a "gap") is not skipped until it is settled: either its row shows up, or every
 * transaction that could hold it has ended (then it was rolled back and never will).
 *
 * Which transactions could hold a gap id? The one that took it did so before the id above the gap was taken,
 * which was committed when we read it; so it already had a transaction id (xid) when we read — as long as
 * the transaction has an xid before it takes an event id, which recordEvents guarantees (record.ts). Every
 * xid assigned before a snapshot is below that snapshot's xmax, and once a later snapshot's xmin (the oldest
 * xid still running) reaches that xmax, all of them have ended. Both numbers are xid8 (64-bit, no
 * wraparound), read in the same statement as the rows, so they describe exactly what the rows saw.
 */

export interface Snapshot {
  /** Oldest transaction still running (all older ones have ended). */
  xmin: bigint;
  /** First transaction id not yet assigned. */
  xmax: bigint;
}

/** "Every id ≤ upTo is settled once xmin reaches xmax" (recorded when a gap was seen). */
export interface Mark {
  upTo: number;
  xmax: bigint;
  /** When the gap was seen (ms): a gap older than maxWaitMs is given up on. */
  at: number;
}

export interface Cursor {
  /** Every id ≤ last is settled: delivered, or known never to appear. */
  last: number;
  marks: Mark[];
}

export interface Advance<T> {
  deliver: T[];
  cursor: Cursor;
  /** Gaps given up on because a transaction ran longer than maxWaitMs (logged by the caller). */
  abandoned: Mark[];
}

/**
 * One poll: `rows` are the visible events with id > cursor.last, ascending, read with `snap`; `truncated` when
 * the read hit its row limit (more rows may follow the last one). Returns what may be delivered now, in order.
 */
export function advance<T extends { id: number }>(c: Cursor, rows: T[], snap: Snapshot, truncated: boolean, now: number, maxWaitMs: number): Advance<T> {
  let settled = c.last;
  const pending: Mark[] = [];
  const abandoned: Mark[] = [];
  for (const m of c.marks) {
    if (snap.xmin >= m.xmax) settled = Math.max(settled, m.upTo);
    else if (now - m.at > maxWaitMs) {
      settled = Math.max(settled, m.upTo);
      abandoned.push(m);
    } else pending.push(m);
  }
  // Nothing running at all: every id below the highest one seen is settled right now.
  if (snap.xmin >= snap.xmax && rows.length) settled = Math.max(settled, rows[rows.length - 1]!.id);

  let last = c.last;
  const deliver: T[] = [];
  let i = 0;
  for (; i < rows.length; i++) {
    const r = rows[i]!;
    if (r.id !== last + 1 && r.id > settled) break;
    deliver.push(r);
    last = r.id;
  }
  // Settled ids that are not there were rolled back. Past the rows read only when they were all the rows.
  if (!truncated && settled > last) last = settled;

  const marks = pending.filter((m) => m.upTo > last);
  if (i < rows.length) {
    const upTo = rows[rows.length - 1]!.id;
    if (!marks.some((m) => m.upTo >= upTo)) marks.push({ upTo, xmax: snap.xmax, at: now });
  }
  return { deliver, cursor: { last, marks }, abandoned };
}
