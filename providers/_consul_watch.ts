/**
 * The consul route watch: a loop of blocking queries on the prefix (`?index=`), each answer
 * compared with the last by `ModifyIndex`; a sync reads consul's current index for the prefix and
 * waits until the loop has passed it. A failed query reports a reset (changes may have been
 * missed) and retries with backoff.
 *
 * consul has no "changes since" for KV: every answer is the whole prefix (at 5,000 routes, 45,000
 * entries and about 140 ms of consul's and this process's time). So this process's own
 * transactions are reported as they commit (`ConsulWatch.committed`), not when a listing brings
 * them back, and the loop rests after each listing in proportion to its size: in a burst of
 * writes it listed back to back, and every add waited for the next listing.
 *
 * @module
 */

import { TIMED_OUT, withTimeout } from "../lib/async/timeout.ts";
import { sleep } from "../lib/async/sleep.ts";
import type { ConsulHttp, ConsulListing, ConsulTxnOp } from "./_consul_http.ts";
import { fromBase64 } from "../lib/core/base64.ts";
import type { KvWatch, KvWatchSink } from "./kv_store.ts";

export type { ChangedValue, KvWatch, KvWatchSink } from "./kv_store.ts";

/** How long a sync may wait for the loop to pass consul's index, in ms. */
const SYNC_TIMEOUT_MS = 5_000;
/** How long one blocking query may wait for a change, in seconds. */
const WAIT_SECONDS = 60;
/**
 * The loop's rest after a listing, per entry listed, in ms: two thirds of what a listing costs
 * here (3 µs an entry, consul and this process together), so that it lists at most 60% of the
 * time; 2 ms at 100 routes, 180 ms at 10,000.
 */
const REST_PER_ENTRY_MS = 0.002;

/**
 * A consul route watch that is also told of this process's own transactions.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ConsulWatch } from "./_consul_watch.ts";
 * const watch: ConsulWatch = {
 *   committed() {},
 *   sync: () => Promise.resolve(),
 *   close: () => Promise.resolve(),
 * };
 * watch.committed([{ KV: { Verb: "delete", Key: "r/a" } }], 7);
 * assert.equal(typeof watch.sync, "function");
 * ```
 */
export interface ConsulWatch extends KvWatch {
  /**
   * Reports the operations of a transaction this process committed at `index` (what
   * `ConsulHttp.txn` resolved to; the keys under the watched prefix), unless a listing at or past
   * `index` came first; until a listing at or past it comes, older listings leave these keys
   * alone.
   */
  committed(ops: readonly ConsulTxnOp[], index: number): void;
}

/**
 * Watches `prefix` and reports each change to `sink`; resolves once the first listing (the
 * baseline, not reported) is in.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ConsulHttp } from "./_consul_http.ts";
 * import { watchConsul } from "./_consul_watch.ts";
 * // A consul whose prefix holds one key, and then a second one.
 * let calls = 0;
 * const http: ConsulHttp = {
 *   list(_prefix, wait) {
 *     calls++;
 *     if (calls === 1) {
 *       return Promise.resolve({ entries: [{ Key: "r/a", Value: btoa("1"), ModifyIndex: 5 }], index: 5 });
 *     }
 *     if (calls === 2) {
 *       return Promise.resolve({
 *         entries: [
 *           { Key: "r/a", Value: btoa("1"), ModifyIndex: 5 },
 *           { Key: "r/b", Value: btoa("2"), ModifyIndex: 6 },
 *         ],
 *         index: 6,
 *       });
 *     }
 *     return new Promise((_, reject) =>
 *       wait?.signal?.addEventListener("abort", () => reject(new Error("closed")))
 *     );
 *   },
 *   index: () => Promise.resolve(6),
 *   txn: () => Promise.resolve(undefined),
 *   get: () => Promise.resolve(undefined),
 *   cas: () => Promise.resolve(false),
 *   close() {},
 * };
 * const changed: string[] = [];
 * const watch = await watchConsul(http, "r/", {
 *   changed: (key, value) => void changed.push(`${key}=${value}`),
 *   reset() {},
 * });
 * await watch.sync(); // index 6 reached
 * assert.deepEqual(changed, ["r/b=2"]);
 * // This process's own transaction at index 9: reported at once.
 * watch.committed([{ KV: { Verb: "set", Key: "r/c", Value: btoa("3") } }], 9);
 * assert.deepEqual(changed, ["r/b=2", "r/c=3"]);
 * await watch.close();
 * ```
 * @throws {Error} when the first listing fails; `sync()` rejects while the watch is down.
 */
export async function watchConsul(
  http: ConsulHttp,
  prefix: string,
  sink: KvWatchSink,
): Promise<ConsulWatch> {
  const abort = new AbortController();
  let known = new Map<string, number>(); // key -> ModifyIndex
  let index = 0;
  let up = false;
  const waiting = new Set<{ index: number; resolve: () => void }>();
  // Keys of this process's transactions reported before a listing brought them, with the
  // transaction's index: a listing older than that says nothing of them, and `known` keeps
  // what the transaction made of them (set at its index, or absent) until one at or past it.
  const own = new Map<string, number>();

  function take(listing: ConsulListing, report: boolean) {
    const next = new Map<string, number>();
    for (const entry of listing.entries) {
      const mine = own.get(entry.Key);
      if (mine !== undefined && listing.index < mine) continue; // older than the write
      next.set(entry.Key, entry.ModifyIndex);
      if (report && known.get(entry.Key) !== entry.ModifyIndex) {
        sink.changed(entry.Key, fromBase64(entry.Value));
      }
    }
    for (const [key, mine] of own) {
      if (listing.index >= mine) {
        own.delete(key);
        continue;
      }
      const at = known.get(key);
      if (at !== undefined) next.set(key, at);
    }
    if (report) { for (const key of known.keys()) if (!next.has(key)) sink.changed(key, null); }
    known = next;
  }

  function passed(at: number) {
    // consul's index may go backwards (a restarted server): start over from there.
    index = at < index ? 0 : at;
    for (const wait of waiting) {
      if (index >= wait.index) {
        waiting.delete(wait);
        wait.resolve();
      }
    }
  }

  const first = await http.list(prefix);
  take(first, false);
  passed(first.index);
  up = true;

  const loop = (async () => {
    let backoffMs = 100;
    while (!abort.signal.aborted) {
      try {
        const listing = await http.list(prefix, {
          index,
          seconds: WAIT_SECONDS,
          signal: abort.signal,
        });
        if (!up || listing.index < index) {
          // Back after a failure, or consul's index went back (a restored snapshot): what
          // happened meanwhile is unknown; report a reset and take this listing as the new
          // baseline.
          own.clear();
          take(listing, false);
          sink.reset();
          up = true;
        } else {
          take(listing, true);
        }
        passed(listing.index);
        backoffMs = 100;
        await sleep(listing.entries.length * REST_PER_ENTRY_MS, abort.signal);
      } catch {
        if (abort.signal.aborted) break;
        if (up) {
          up = false;
          sink.reset();
        }
        index = 0;
        await sleep(backoffMs, abort.signal); // cut short by close()
        backoffMs = Math.min(backoffMs * 2, 5_000);
      }
    }
  })();

  return {
    committed(ops, at) {
      // Down: the listing after the reset brings it. Passed: a listing brought it (or newer).
      if (!up || at <= index) return;
      for (const { KV: op } of ops) {
        if (!op.Key.startsWith(prefix)) continue;
        own.set(op.Key, at);
        if (op.Verb === "set") known.set(op.Key, at);
        else known.delete(op.Key);
        sink.changed(op.Key, op.Verb === "set" ? fromBase64(op.Value) : null);
      }
    },
    async sync() {
      if (!up) throw new Error("the consul watch is down");
      const current = await http.index(prefix);
      if (index >= current) return;
      const { promise, resolve } = Promise.withResolvers<void>();
      const wait = { index: current, resolve };
      waiting.add(wait);
      const result = await withTimeout(promise, SYNC_TIMEOUT_MS);
      waiting.delete(wait);
      if (result === TIMED_OUT) throw new Error("the consul watch did not catch up in time");
      if (!up) throw new Error("the consul watch is down");
    },
    async close() {
      abort.abort();
      await loop;
    },
  };
}
