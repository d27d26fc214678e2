/**
 * The etcd route watch: a watcher on the prefix and a fence key just before it, which a sync
 * writes to know when every earlier change has been reported.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { TIMED_OUT, withTimeout } from "../lib/async/timeout.ts";
import { prefixEnd } from "./_prefix_end.ts";
import type { KvWatch, KvWatchSink } from "./kv_store.ts";

export type { ChangedValue, KvWatch, KvWatchSink } from "./kv_store.ts";

/** How long a sync may wait for the watch to report a revision, in ms. */
const SYNC_TIMEOUT_MS = 5_000;

/**
 * What an etcd watcher reports with its `data` event (the part the watch reads).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { Buffer } from "node:buffer";
 * import type { EtcdWatchResponse } from "./_etcd_watch.ts";
 * const response: EtcdWatchResponse = {
 *   events: [{
 *     type: "Delete",
 *     kv: {
 *       key: Buffer.from("jupyterhub/routes/r/target"),
 *       value: Buffer.from(""),
 *       mod_revision: "9",
 *     },
 *   }],
 * };
 * assert.equal(response.events[0].kv.key.toString(), "jupyterhub/routes/r/target");
 * ```
 */
export interface EtcdWatchResponse {
  /** The changes, in revision order. */
  events: {
    type: string;
    kv: { key: Buffer; value: Buffer; mod_revision: string };
  }[];
}

/**
 * The part of an etcd3 `Watcher` the watch needs.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import type { EtcdWatcher } from "./_etcd_watch.ts";
 * const events: string[] = [];
 * const watcher: EtcdWatcher = {
 *   on: (event: string) => void events.push(event),
 *   cancel: () => Promise.resolve(),
 * };
 * watcher.on("disconnected", () => {});
 * assert.deepEqual(events, ["disconnected"]);
 * ```
 */
export interface EtcdWatcher {
  /** Adds a listener for the changes. */
  on(event: "data", listener: (response: EtcdWatchResponse) => void): unknown;
  /** Adds a listener for a lost or restored connection. */
  on(event: "connected" | "disconnected" | "error", listener: () => void): unknown;
  /** Stops watching. */
  cancel(): Promise<void>;
}

/**
 * The part of an etcd3 client (`Etcd3`) the watch needs.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { Etcd3 } from "etcd3";
 * import type { EtcdWatchClient } from "./_etcd_watch.ts";
 * const etcd = new Etcd3({ hosts: ["http://127.0.0.1:2379"] }); // connects on first use
 * const client: EtcdWatchClient = etcd;
 * assert.equal(typeof client.kv.put, "function");
 * etcd.close();
 * ```
 */
export interface EtcdWatchClient {
  /** Starts building a watcher. */
  watch(): { inRange(range: { start: Buffer; end: Buffer }): { create(): Promise<EtcdWatcher> } };
  /** The key-value service. */
  readonly kv: {
    range(request: { key: Buffer; count_only: boolean }): Promise<{ header: { revision: string } }>;
    put(request: { key: Buffer; value: Buffer }): Promise<{ header: { revision: string } }>;
  };
}

/**
 * Watches the keys under `prefix` (events carry their values), plus a fence key just before
 * it, `<prefix without "/">.sync`. A sync asks etcd for its current revision; if the watch has
 * not yet reported an event at or after it (the last writes were to other keys, or events are
 * on their way), it writes the fence key and waits for that event: etcd reports a watcher's
 * events in revision order, so every earlier change under the prefix has been reported by then.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { type EtcdWatchClient, type EtcdWatchResponse, watchEtcd } from "./_etcd_watch.ts";
 * // An in-process stand-in for an etcd3 client: a put is reported to the watcher at once.
 * let revision = 7;
 * let report = (_response: EtcdWatchResponse) => {};
 * const client: EtcdWatchClient = {
 *   watch: () => ({
 *     inRange: () => ({
 *       create: () =>
 *         Promise.resolve({
 *           on(event: string, listener: (response: EtcdWatchResponse) => void) {
 *             if (event === "data") report = listener;
 *           },
 *           cancel: () => Promise.resolve(),
 *         }),
 *     }),
 *   }),
 *   kv: {
 *     range: () => Promise.resolve({ header: { revision: String(revision) } }),
 *     put({ key, value }) {
 *       revision++;
 *       report({ events: [{ type: "Put", kv: { key, value, mod_revision: String(revision) } }] });
 *       return Promise.resolve({ header: { revision: String(revision) } });
 *     },
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
 * @throws {Error} from `sync()` when the watch is down or does not catch up in time.
 */
export async function watchEtcd(
  client: EtcdWatchClient,
  prefix: string,
  sink: KvWatchSink,
): Promise<KvWatch> {
  const fence = Buffer.from(`${prefix.replace(/\/+$/, "")}.sync`);
  const start = Buffer.from(prefix);
  let seen = 0; // highest mod revision reported
  let up = false;
  const waiting = new Set<{ revision: number; resolve: () => void }>();
  const watcher = await client.watch().inRange({ start: fence, end: prefixEnd(start) }).create();
  up = true;
  watcher.on("data", (response) => {
    for (const event of response.events) {
      const revision = Number(event.kv.mod_revision);
      if (revision > seen) seen = revision;
      if (!event.kv.key.subarray(0, start.length).equals(start)) continue;
      sink.changed(
        event.kv.key.toString(),
        event.type === "Delete" ? null : event.kv.value.toString(),
      );
    }
    for (const wait of waiting) {
      if (seen >= wait.revision) {
        waiting.delete(wait);
        wait.resolve();
      }
    }
  });
  watcher.on("disconnected", () => {
    up = false;
    sink.reset();
  });
  watcher.on("connected", () => {
    // Events between the two may be lost: read everything again.
    sink.reset();
    up = true;
  });
  watcher.on("error", () => {
    up = false;
    sink.reset();
  });

  function reached(revision: number): Promise<void> {
    if (seen >= revision) return Promise.resolve();
    const { promise, resolve } = Promise.withResolvers<void>();
    const wait = { revision, resolve };
    waiting.add(wait);
    return withTimeout(promise, SYNC_TIMEOUT_MS).then((result) => {
      waiting.delete(wait);
      if (result === TIMED_OUT) throw new Error("the etcd watch did not catch up in time");
    });
  }

  return {
    async sync() {
      if (!up) throw new Error("the etcd watch is down");
      const probe = await client.kv.range({ key: fence, count_only: true });
      const current = Number(probe.header.revision);
      if (seen >= current) return;
      const put = await client.kv.put({ key: fence, value: Buffer.from(String(current)) });
      await reached(Number(put.header.revision));
      if (!up) throw new Error("the etcd watch is down");
    },
    async close() {
      await watcher.cancel();
    },
  };
}
