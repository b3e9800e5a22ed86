/**
 * Group commit: an item that arrives while a batch is being written waits for the next batch, so under load
 * many callers share one statement (one commit, one WAL flush), while an item arriving alone is written at
 * once — no timer delays it. Items added in the same tick (a burst of requests) join the first batch.
 *
 * Each caller's promise settles with its own item's result, only after the batch holding it was written. A
 * batch that fails is written again item by item (`writeOne`), so one bad item cannot take the others of its
 * batch with it and every caller gets its own result or its own error.
 */
export interface GroupCommitOptions<T, R> {
  /** Most items in one batch. */
  max: number;
  /** Writes the batch; resolves with one result per item, in order. */
  writeBatch(items: T[]): Promise<R[]>;
  /** Writes one item (a failed batch's items, one by one). */
  writeOne(item: T): Promise<R>;
}

export class GroupCommit<T, R> {
  private queue: Array<{ item: T; resolve: (result: R) => void; reject: (error: unknown) => void }> = [];
  private running = false;

  constructor(private readonly options: GroupCommitOptions<T, R>) {}

  add(item: T): Promise<R> {
    return new Promise((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (!this.running) {
        this.running = true;
        queueMicrotask(() => void this.drain());
      }
    });
  }

  private async drain(): Promise<void> {
    while (this.queue.length) {
      const batch = this.queue.splice(0, this.options.max);
      try {
        const results = await this.options.writeBatch(batch.map((entry) => entry.item));
        batch.forEach((entry, i) => entry.resolve(results[i]!));
      } catch (error) {
        if (batch.length === 1) batch[0]!.reject(error);
        else await Promise.all(batch.map((entry) => this.options.writeOne(entry.item).then(entry.resolve, entry.reject)));
      }
    }
    this.running = false;
  }
}
