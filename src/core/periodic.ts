/**
 * A background round every N ms (retention, resuming uploads): never two rounds at once — a round slower than
 * the interval makes the next tick skip, not queue behind it — and a stop that waits for the round in
 * progress, so the database is not closed under it. Rounds handle their own errors; one that throws anyway
 * does not end the loop.
 */
export function startPeriodic(round: () => Promise<unknown>, everyMs: number, opts: { immediately?: boolean } = {}): () => Promise<void> {
  let current: Promise<void> | undefined;
  const run = () => {
    if (current) return;
    current = round()
      .then(() => {}, () => {})
      .finally(() => {
        current = undefined;
      });
  };
  if (opts.immediately) run();
  const timer = setInterval(run, everyMs);
  return async () => {
    clearInterval(timer);
    await current;
  };
}
