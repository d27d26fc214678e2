/**
 * The etcd provider: routes as keys under `traefik/` and `jupyterhub/`, read by traefik's etcd
 * provider. Changes are written in transactions of at most 128 operations (etcd's limit), never
 * splitting one route's keys across two of them. This process talks to etcd's gRPC API over its
 * own HTTP/2 client (`_etcd_client.ts`), etcd 3.3 or later.
 *
 * @module
 */

import { readCaFile } from "./_ca_file.ts";
import { Buffer } from "node:buffer";
import { type EtcdClient, etcdClient, type EtcdOp } from "./_etcd_client.ts";
import { StoreError } from "../lib/core/errors.ts";
import { RECORD_FIELDS } from "../lib/core/kv_layout.ts";
import { TIMED_OUT, withTimeout } from "../lib/async/timeout.ts";
import type { KvDiff } from "../lib/core/kv.ts";
import type { ConfigTree } from "../lib/core/types.ts";
import { watchEtcd } from "./_etcd_watch.ts";
import { prefixEnd } from "./_prefix_end.ts";
import { openSharedStore } from "./_shared_store.ts";
import { type KvClient, kvLayout, type KvStore, kvStore, type KvStoreOptions } from "./kv_store.ts";
import type { StoreProvider } from "./provider.ts";

export { prefixEnd } from "./_prefix_end.ts";
export type { Store } from "../lib/core/store.ts";
export type { ConfigTree, JsonValue, Route, RouteChange, RouteData } from "../lib/core/types.ts";
export type { KvStore, KvStoreOptions, Mirror, SharedValues, VersionedValue } from "./kv_store.ts";
export type { OpenedStore, StoreContext, StoreProvider } from "./provider.ts";

/**
 * etcd's limit of operations in one transaction.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { ETCD_MAX_TXN_OPS, packTransactions } from "./etcd.ts";
 * const ops = Array.from({ length: ETCD_MAX_TXN_OPS + 1 }, (_, i) => [i]);
 * assert.equal(packTransactions(ops).length, 2);
 * ```
 */
export const ETCD_MAX_TXN_OPS = 128;

/** Keys read per range request. */
const RANGE_PAGE = 5_000;

/**
 * Options of `etcdStore`.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { etcdProviderConfig, type EtcdStoreOptions } from "./etcd.ts";
 * const options: EtcdStoreOptions = { urls: ["https://10.0.0.1:2379"], caFile: "/etc/ca.pem" };
 * assert.deepEqual(etcdProviderConfig(options).tls, { ca: "/etc/ca.pem" });
 * ```
 */
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
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { packTransactions } from "./etcd.ts";
 * assert.deepEqual(packTransactions([[1, 2], [3, 4], [5]], 4), [[1, 2, 3, 4], [5]]);
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
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { etcdProviderConfig } from "./etcd.ts";
 * assert.deepEqual(etcdProviderConfig({ urls: ["http://127.0.0.1:2379"] }), {
 *   endpoints: ["127.0.0.1:2379"],
 *   rootKey: "traefik",
 * });
 * ```
 */
export function etcdProviderConfig(options: EtcdStoreOptions): ConfigTree {
  const urls = options.urls ?? ["http://127.0.0.1:2379"];
  const config: ConfigTree = {
    endpoints: urls.map((url) => url.replace(/^https?:\/\//, "").replace(/\/+$/, "")),
    rootKey: kvLayout(options).traefikPrefix,
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
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { StoreError } from "../lib/core/errors.ts";
 * import { etcdStore } from "./etcd.ts";
 * // With etcd on 127.0.0.1:2379:
 * //   const store = await etcdStore({ urls: ["http://127.0.0.1:2379"] });
 * //   await store.close();
 * // Without a server, opening fails with a StoreError saying what to check:
 * const urls = ["http://127.0.0.1:1"];
 * await assert.rejects(etcdStore({ urls, connectTimeoutMs: 1_000 }), StoreError);
 * ```
 * @throws {StoreError} when etcd is unreachable or refuses the credentials.
 */
export async function etcdStore(options: EtcdStoreOptions = {}): Promise<KvStore> {
  const urls = options.urls ?? ["http://127.0.0.1:2379"];
  const where = `etcd at ${urls.join(",")}`;
  const caCert = await readCaFile(options.caFile, where);
  const client = etcdClient({
    urls,
    username: options.username,
    password: options.password,
    caCert,
  });
  try {
    const probe = client.range({ key: "jupyterhub-traefik-proxy-probe", countOnly: true });
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
      const txns = packTransactions(groups.map(opsOf));
      await inWaves(txns.map((ops) => () => client.txn(ops)));
    },
    async commitUnchanged(records, revision) {
      const done = records.map(() => false);
      if (revision === undefined) return done; // the watch is down
      // Each record's operations and condition in one transaction, beside others that fit.
      const tagged = records.map((record, index) => opsOf(record.diff).map((op) => ({ op, index })))
        .filter((ops) => ops.length <= ETCD_MAX_TXN_OPS); // a larger one is written as usual
      await inWaves(
        packTransactions(tagged).map((txn) => async () => {
          const indices = [...new Set(txn.map((tagged) => tagged.index))];
          const conditions = indices.map((index) => ({
            key: records[index].guarded,
            rangeEnd: prefixEnd(Buffer.from(records[index].guarded)),
            modRevision: revision + 1,
            before: true,
          }));
          const result = await client.txn(txn.map((tagged) => tagged.op), conditions);
          if (result.ok) { for (const index of indices) done[index] = true; }
        }),
      );
      return done;
    },
    close() {
      client.close();
      return Promise.resolve();
    },
    watch: (prefix, sink) => watchEtcd(client, prefix, sink),
    async getValue(key) {
      const pair = (await client.range({ key })).pairs[0];
      return pair ? { value: pair.value, version: String(pair.modRevision) } : undefined;
    },
    async compareAndSet(key, version, value) {
      // A key that does not exist has no last change: revision 0.
      const condition = { key, modRevision: version === undefined ? 0 : Number(version) };
      const op: EtcdOp = value === null ? { delete: { key } } : { put: { key, value } };
      return (await client.txn([op], [condition])).ok;
    },
  };
  try {
    return await kvStore(kv, options);
  } catch (error) {
    client.close();
    throw error;
  }
}

const RECORD_FIELD_SET = new Set<string>(RECORD_FIELDS);

/** Transactions sent at once; etcd commits those that arrive together with one fsync. */
const TXNS_AT_ONCE = 16;

/**
 * Runs the tasks, `TXNS_AT_ONCE` at a time; rejects with the first failure once every task of
 * its wave has ended (a later write must not overtake one still on its way to etcd).
 */
async function inWaves(tasks: (() => Promise<unknown>)[]): Promise<void> {
  for (let i = 0; i < tasks.length; i += TXNS_AT_ONCE) {
    const ended = await Promise.allSettled(tasks.slice(i, i + TXNS_AT_ONCE).map((task) => task()));
    const failed = ended.find((result) => result.status === "rejected");
    if (failed) throw (failed as PromiseRejectedResult).reason;
  }
}

/** A group's operations: its deletions, then its writes. */
function opsOf(group: KvDiff): EtcdOp[] {
  const list: EtcdOp[] = group.delete.map((key) => ({ delete: { key } }));
  for (const [key, value] of group.set) list.push({ put: { key, value } });
  return list;
}

/**
 * Every pair under `prefix` whose key passes `keep`, read in pages of `RANGE_PAGE` keys (one
 * answer for 10,000 routes' records would be tens of megabytes), all at the revision of the
 * first, so that the pages show one state of the store.
 */
async function readRange(
  client: EtcdClient,
  prefix: string,
  keep: (key: string) => boolean,
): Promise<Map<string, string>> {
  const pairs = new Map<string, string>();
  const rangeEnd = prefixEnd(Buffer.from(prefix));
  let key: string | Uint8Array = prefix;
  let revision: number | undefined;
  while (true) {
    const page = await client.range({ key, rangeEnd, limit: RANGE_PAGE, revision });
    revision = page.revision;
    for (const pair of page.pairs) {
      if (keep(pair.key)) pairs.set(pair.key, pair.value);
    }
    if (!page.more || !page.lastKey) return pairs;
    // The next page starts just after the last key, as etcd sent it.
    key = Buffer.concat([page.lastKey, Buffer.from([0])]);
  }
}

/**
 * The etcd provider for the registry in `mod.ts`: an etcd store, read by traefik's etcd
 * provider, and a private file for this process's own configuration.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { StoreError } from "../lib/core/errors.ts";
 * import { etcdProvider } from "./etcd.ts";
 * const context = { entryPoint: "http", fixed: {}, workDir: "/nonexistent", log: () => {}, feed: false };
 * const urls = ["http://127.0.0.1:1"]; // nothing listens there
 * await assert.rejects(etcdProvider.open({ urls, connectTimeoutMs: 1_000 }, context), StoreError);
 * ```
 */
export const etcdProvider: StoreProvider<EtcdStoreOptions> = {
  open: (options, context) =>
    openSharedStore(
      () =>
        etcdStore({
          ...options,
          entryPoint: context.entryPoint,
          log: context.log,
          serversTransport: context.serversTransport,
        }),
      etcdProviderConfig(options),
      context,
    ),
};
