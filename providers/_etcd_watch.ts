/**
 * The etcd route watch: a watcher on the prefix and a fence key just before it, which a sync
 * writes to know when every earlier change has been reported.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { TIMED_OUT, withTimeout } from "../lib/async/timeout.ts";
import { prefixEnd } from "./_prefix_end.ts";
import type { EtcdClient } from "./_etcd_client.ts";
import type { KvWatch, KvWatchSink } from "./kv_store.ts";

export type { ChangedValue, KvWatch, KvWatchSink } from "./kv_store.ts";

/** How long a sync may wait for the watch to report a revision, in ms. */
const SYNC_TIMEOUT_MS = 5_000;

/**
 * The part of an etcd client (`etcdClient`) the watch needs.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { etcdClient } from "./_etcd_client.ts";
 * import type { EtcdWatchClient } from "./_etcd_watch.ts";
 * const etcd = etcdClient({ urls: ["http://127.0.0.1:2379"] }); // connects on first use
 * const client: EtcdWatchClient = etcd;
 * assert.equal(typeof client.watch, "function");
 * etcd.close();
 * ```
 */
export type EtcdWatchClient = Pick<EtcdClient, "watch" | "range" | "txn">;

/**
 * Watches the keys under `prefix` (events carry their values), plus a fence key just before
 * it, `<prefix without "/">.sync`. A sync asks etcd for its current revision; if the watch has
 * not yet reported an event at or after it (the last writes were to other keys, or events are
 * on their way), it writes the fence key and waits for that event: etcd reports a watcher's
 * events in revision order, so every earlier change under the prefix has been reported by then.
 * A broken watch resets the sink (events may have been lost) and is established again by the
 * client, as is one that did not report the fence key's write in time.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import type { EtcdWatchListener } from "./_etcd_client.ts";
 * import { type EtcdWatchClient, watchEtcd } from "./_etcd_watch.ts";
 * // An in-process stand-in for an etcd client: a write is reported to the watcher at once.
 * let revision = 7;
 * let listener: EtcdWatchListener | undefined;
 * const client: EtcdWatchClient = {
 *   watch(_range, watching) {
 *     listener = watching;
 *     watching.connected(); // as etcdClient does before it resolves
 *     return Promise.resolve({ reconnect() {}, cancel: () => Promise.resolve() });
 *   },
 *   range: () => Promise.resolve({ pairs: [], more: false, revision }),
 *   txn(ops) {
 *     revision++;
 *     const pair = "put" in ops[0] ? { ...ops[0].put, modRevision: revision } : undefined;
 *     listener?.events([{ pair: pair!, deleted: false }]);
 *     return Promise.resolve({ ok: true, revision });
 *   },
 * };
 * const changed: string[] = [];
 * const watch = await watchEtcd(client, "jupyterhub/routes/", {
 *   changed: (key) => void changed.push(key),
 *   reset() {},
 * });
 * await watch.sync(); // wrote the fence key and saw its event
 * assert.equal(revision, 8);
 * assert.deepEqual(changed, []); // the fence key is not a route's
 * await watch.close();
 * ```
 */
export async function watchEtcd(
  client: EtcdWatchClient,
  prefix: string,
  sink: KvWatchSink,
): Promise<KvWatch> {
  const fence = `${prefix.replace(/\/+$/, "")}.sync`;
  let seen = 0; // highest mod revision reported
  let up = false;
  let connections = 0;
  const waiting = new Set<{ revision: number; resolve: () => void }>();
  const stream = await client.watch({ key: fence, rangeEnd: prefixEnd(Buffer.from(prefix)) }, {
    connected() {
      // Again: events while the watch was down may be lost, read everything again.
      if (connections++ > 0) sink.reset();
      up = true;
    },
    events(events) {
      for (const { pair, deleted } of events) {
        if (pair.modRevision > seen) seen = pair.modRevision;
        if (!pair.key.startsWith(prefix)) continue;
        sink.changed(pair.key, deleted ? null : pair.value);
      }
      for (const wait of waiting) {
        if (seen >= wait.revision) {
          waiting.delete(wait);
          wait.resolve();
        }
      }
    },
    disconnected() {
      up = false;
      sink.reset();
      // A sync waiting on this stream ends now (it fails: the watch is down).
      for (const wait of waiting) wait.resolve();
      waiting.clear();
    },
  });

  function reached(revision: number): Promise<void> {
    if (seen >= revision) return Promise.resolve();
    const { promise, resolve } = Promise.withResolvers<void>();
    const wait = { revision, resolve };
    waiting.add(wait);
    return withTimeout(promise, SYNC_TIMEOUT_MS).then((result) => {
      waiting.delete(wait);
      if (result === TIMED_OUT) {
        // A watch that stays silent is as good as broken (an etcd restarting as it was made).
        if (up) stream.reconnect();
        throw new Error("the etcd watch did not catch up in time");
      }
    });
  }

  return {
    get revision() {
      return up ? seen : undefined;
    },
    async sync() {
      if (!up) throw new Error("the etcd watch is down");
      const probe = await client.range({ key: fence, countOnly: true });
      if (seen >= probe.revision) return;
      const put = await client.txn([{ put: { key: fence, value: String(probe.revision) } }]);
      await reached(put.revision);
      if (!up) throw new Error("the etcd watch is down");
    },
    async close() {
      await stream.cancel();
    },
  };
}
