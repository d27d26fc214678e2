/**
 * The consul route watch: a loop of blocking queries on the prefix (`?index=`), each answer
 * compared with the last by `ModifyIndex`; a sync reads consul's current index for the prefix and
 * waits until the loop has passed it. A failed query reports a reset (changes may have been
 * missed) and retries with backoff.
 *
 * @module
 */

import { TIMED_OUT, withTimeout } from "../lib/async/timeout.ts";
import type { ConsulHttp } from "./_consul_http.ts";
import { fromBase64 } from "../lib/core/base64.ts";
import type { KvWatch, KvWatchSink } from "./kv_store.ts";

export type { ChangedValue, KvWatch, KvWatchSink } from "./kv_store.ts";

/** How long a sync may wait for the loop to pass consul's index, in ms. */
const SYNC_TIMEOUT_MS = 5_000;
/** How long one blocking query may wait for a change, in seconds. */
const WAIT_SECONDS = 60;

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
 *   txn: () => Promise.resolve(),
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
 * await watch.close();
 * ```
 * @throws {Error} when the first listing fails; `sync()` rejects while the watch is down.
 */
export async function watchConsul(
  http: ConsulHttp,
  prefix: string,
  sink: KvWatchSink,
): Promise<KvWatch> {
  const abort = new AbortController();
  let known = new Map<string, number>(); // key -> ModifyIndex
  let index = 0;
  let up = false;
  const waiting = new Set<{ index: number; resolve: () => void }>();

  function take(
    entries: { Key: string; Value: string | null; ModifyIndex: number }[],
    report: boolean,
  ) {
    const next = new Map<string, number>();
    for (const entry of entries) {
      next.set(entry.Key, entry.ModifyIndex);
      if (report && known.get(entry.Key) !== entry.ModifyIndex) {
        sink.changed(entry.Key, fromBase64(entry.Value));
      }
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
  take(first.entries, false);
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
        if (!up) {
          // Back after a failure: what happened meanwhile is unknown; report a reset and take
          // this listing as the new baseline.
          take(listing.entries, false);
          sink.reset();
          up = true;
        } else {
          take(listing.entries, true);
        }
        passed(listing.index);
        backoffMs = 100;
      } catch {
        if (abort.signal.aborted) break;
        if (up) {
          up = false;
          sink.reset();
        }
        index = 0;
        await new Promise((resolve) => setTimeout(resolve, backoffMs));
        backoffMs = Math.min(backoffMs * 2, 5_000);
      }
    }
  })();

  return {
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
