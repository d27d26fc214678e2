/**
 * Coalescing of concurrent writes: items pushed while a commit is under way wait together for
 * the next commit, so a burst of changes costs a handful of writes instead of one each.
 *
 * @module
 */

/** Options of `coalescer`. */
export interface CoalescerOptions<T> {
  /** Throws to reject one item on its own before its batch is committed. */
  check?: (item: T) => void;
  /** Commits the accepted items of one batch; a rejection rejects all of them. */
  commit: (items: T[]) => Promise<void>;
}

/** A queue whose items are committed in batches. */
export interface Coalescer<T> {
  /** Queues an item; resolves once a commit that includes it has succeeded. */
  push(item: T): Promise<void>;
  /** Resolves once nothing is queued or being committed. */
  idle(): Promise<void>;
}

interface Pending<T> {
  item: T;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * Creates a coalescer. The first commit starts on the next macrotask, so every item pushed in
 * the same turn joins it.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { coalescer } from "./coalesce.ts";
 * const writes: number[][] = [];
 * const queue = coalescer<number>({
 *   commit: (items) => {
 *     writes.push(items);
 *     return Promise.resolve();
 *   },
 * });
 * await Promise.all([queue.push(1), queue.push(2)]);
 * assert.deepEqual(writes, [[1, 2]]);
 * ```
 */
export function coalescer<T>(options: CoalescerOptions<T>): Coalescer<T> {
  let queue: Pending<T>[] = [];
  let running = false;
  let done: Promise<void> = Promise.resolve();

  async function drain(): Promise<void> {
    while (queue.length > 0) {
      const batch = queue;
      queue = [];
      const accepted: Pending<T>[] = [];
      for (const pending of batch) {
        try {
          options.check?.(pending.item);
          accepted.push(pending);
        } catch (error) {
          pending.reject(error);
        }
      }
      if (accepted.length === 0) continue;
      try {
        await options.commit(accepted.map((pending) => pending.item));
        for (const pending of accepted) pending.resolve();
      } catch (error) {
        for (const pending of accepted) pending.reject(error);
      }
    }
    // Cleared in the same synchronous step as the empty-queue check, so no item is stranded.
    running = false;
  }

  return {
    push(item: T) {
      return new Promise<void>((resolve, reject) => {
        queue.push({ item, resolve, reject });
        if (running) return;
        running = true;
        // After the pushes of the current task: they go in the first batch together.
        done = Promise.resolve().then(drain);
      });
    },
    async idle() {
      while (running) await done;
    },
  };
}
