/**
 * The etcd provider: routes as keys under `traefik/` and `jupyterhub/`, read by traefik's etcd
 * provider. Changes are written in transactions of at most 128 operations (etcd's limit), never
 * splitting one route's keys across two of them.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { Etcd3, type IRequestOp } from "etcd3";
import { StoreError } from "../lib/core/errors.ts";
import { RECORD_FIELDS } from "../lib/core/kv_layout.ts";
import { TIMED_OUT, withTimeout } from "../lib/async/timeout.ts";
import type { KvDiff } from "../lib/core/kv.ts";
import type { Store } from "../lib/core/store.ts";
import type { ConfigTree } from "../lib/core/types.ts";
import {
  type KvClient,
  kvStore,
  type KvStoreOptions,
  type KvWatch,
  type KvWatchSink,
} from "./kv_store.ts";

/** etcd's limit of operations in one transaction. */
export const ETCD_MAX_TXN_OPS = 128;

/** Keys read per range request. */
const RANGE_PAGE = 5_000;

/** How long a sync may wait for the watch to report a revision, in ms. */
const SYNC_TIMEOUT_MS = 5_000;

/**
 * The end of the key range holding every key that starts with `prefix` (etcd's `range_end`):
 * the prefix with its last byte below 0xff incremented.
 *
 * @example
 * ```ts
 * import { Buffer } from "node:buffer";
 * import { prefixEnd } from "./etcd.ts";
 * prefixEnd(Buffer.from("ab")).toString(); // "ac"
 * ```
 */
export function prefixEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i] < 0xff) {
      end[i]++;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]); // every key
}

/** Options of `etcdStore`. */
export interface EtcdStoreOptions extends KvStoreOptions {
  /** Endpoints, e.g. `["http://127.0.0.1:2379"]`; default that one. */
  urls?: string[];
  /** User name, when etcd has auth enabled. */
  username?: string;
  /** Password. */
  password?: string;
  /** PEM CA certificate for https endpoints. */
  caFile?: string;
  /** How long the first request may take, in ms; default 5,000. */
  connectTimeoutMs?: number;
}

/**
 * Packs groups of operations into transactions of at most `max` operations, keeping each group
 * whole (a group larger than `max` is split on its own).
 *
 * @example
 * ```ts
 * import { packTransactions } from "./etcd.ts";
 * packTransactions([[1, 2], [3, 4], [5]], 4); // [[1, 2, 3, 4], [5]]
 * ```
 */
export function packTransactions<T>(groups: T[][], max: number = ETCD_MAX_TXN_OPS): T[][] {
  const out: T[][] = [];
  let current: T[] = [];
  for (const group of groups) {
    if (current.length + group.length > max && current.length > 0) {
      out.push(current);
      current = [];
    }
    if (group.length > max) {
      for (let i = 0; i < group.length; i += max) out.push(group.slice(i, i + max));
      continue;
    }
    current.push(...group);
  }
  if (current.length > 0) out.push(current);
  return out;
}

/**
 * traefik's static `providers.etcd` section for the same endpoints and prefix.
 *
 * @example
 * ```ts
 * import { etcdProviderConfig } from "./etcd.ts";
 * etcdProviderConfig({ urls: ["http://127.0.0.1:2379"] });
 * // { endpoints: ["127.0.0.1:2379"], rootKey: "traefik" }
 * ```
 */
export function etcdProviderConfig(options: EtcdStoreOptions): ConfigTree {
  const urls = options.urls ?? ["http://127.0.0.1:2379"];
  const config: ConfigTree = {
    endpoints: urls.map((url) => url.replace(/^https?:\/\//, "").replace(/\/+$/, "")),
    rootKey: (options.traefikPrefix ?? "traefik").replace(/^\/+|\/+$/g, ""),
  };
  if (options.username) config.username = options.username;
  if (options.password) config.password = options.password;
  if (urls.some((url) => url.startsWith("https:"))) {
    config.tls = options.caFile ? { ca: options.caFile } : {};
  }
  return config;
}

/**
 * Connects to etcd and opens a route store on it.
 *
 * @example
 * ```ts
 * import { etcdStore } from "./etcd.ts";
 * const store = await etcdStore({ urls: ["http://127.0.0.1:2379"] });
 * await store.close();
 * ```
 * @throws {StoreError} when etcd is unreachable or refuses the credentials.
 */
export async function etcdStore(options: EtcdStoreOptions = {}): Promise<Store> {
  const urls = options.urls ?? ["http://127.0.0.1:2379"];
  const client = new Etcd3({
    hosts: urls,
    auth: options.username
      ? { username: options.username, password: options.password ?? "" }
      : undefined,
    credentials: options.caFile
      ? { rootCertificate: Buffer.from(await Deno.readFile(options.caFile)) }
      : undefined,
    dialTimeout: options.connectTimeoutMs ?? 5_000,
  });
  const where = `etcd at ${urls.join(",")}`;
  try {
    const probe = client.get("jupyterhub-traefik-proxy-probe").string();
    if (await withTimeout(probe, options.connectTimeoutMs ?? 5_000) === TIMED_OUT) {
      throw new Error("timed out");
    }
  } catch (error) {
    client.close();
    throw new StoreError(
      `cannot use ${where}: ${(error as Error).message}; check that etcd runs there and that ` +
        "the username and password are right",
      { cause: error },
    );
  }
  const kv: KvClient = {
    provider: "etcd",
    getPrefix: (prefix: string) => readRange(client, prefix, () => true),
    // Only the fields a route needs: about half the keys of a record.
    getRecordFields: (base: string) =>
      readRange(client, base, (key) => {
        const field = key.slice(key.indexOf("/", base.length) + 1);
        return RECORD_FIELD_SET.has(field) || field.startsWith("data/");
      }),
    async commit(groups: KvDiff[]) {
      const ops = groups.map((group) => {
        const list: IRequestOp[] = group.delete.map((key) => ({
          request_delete_range: { key: Buffer.from(key) },
        }));
        for (const [key, value] of group.set) {
          list.push({ request_put: { key: Buffer.from(key), value: Buffer.from(value) } });
        }
        return list;
      });
      for (const txn of packTransactions(ops)) await client.kv.txn({ success: txn });
    },
    close() {
      client.close();
      return Promise.resolve();
    },
    watch: (prefix, sink) => watchEtcd(client, prefix, sink),
  };
  try {
    return await kvStore(kv, options);
  } catch (error) {
    client.close();
    throw error;
  }
}

const RECORD_FIELD_SET = new Set<string>(RECORD_FIELDS);

/**
 * Every pair under `prefix` whose key passes `keep`, read in pages: one response over gRPC's
 * 4 MB limit fails (about 8,000 routes' records).
 */
async function readRange(
  client: Etcd3,
  prefix: string,
  keep: (key: string) => boolean,
): Promise<Map<string, string>> {
  const pairs = new Map<string, string>();
  const end = prefixEnd(Buffer.from(prefix));
  let start = Buffer.from(prefix);
  while (true) {
    const page = await client.kv.range({ key: start, range_end: end, limit: RANGE_PAGE });
    for (const kv of page.kvs) {
      const key = kv.key.toString();
      if (keep(key)) pairs.set(key, kv.value.toString());
    }
    if (!page.more || page.kvs.length === 0) return pairs;
    start = Buffer.concat([page.kvs[page.kvs.length - 1].key, Buffer.from([0])]);
  }
}

/**
 * Watches the keys under `prefix` (events carry their values), plus a fence key just before
 * it, `<prefix without "/">.sync`. A sync asks etcd for its current revision; if the watch has
 * not yet reported an event at or after it (the last writes were to other keys, or events are
 * on their way), it writes the fence key and waits for that event: etcd reports a watcher's
 * events in revision order, so every earlier change under the prefix has been reported by then.
 */
async function watchEtcd(client: Etcd3, prefix: string, sink: KvWatchSink): Promise<KvWatch> {
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
