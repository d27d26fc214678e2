/**
 * The consul provider: routes as keys under `traefik/` and `jupyterhub/` in consul's KV store
 * (the layout of redis and etcd, and of the Python proxy's `TraefikConsulProxy`), over consul's
 * HTTP API with `fetch`. Changes are written in transactions of at most 64 operations (consul's
 * limit), never splitting one route's keys across two of them; the watch is a loop of blocking
 * queries.
 *
 * @module
 */

import { readCaFile } from "./_ca_file.ts";
import { StoreError } from "../lib/core/errors.ts";
import { TIMED_OUT, withTimeout } from "../lib/async/timeout.ts";
import type { KvDiff } from "../lib/core/kv.ts";
import type { ConfigTree } from "../lib/core/types.ts";
import { consulHttp, type ConsulTxnOp } from "./_consul_http.ts";
import { fromBase64, toBase64 } from "../lib/core/base64.ts";
import { type ConsulWatch, watchConsul } from "./_consul_watch.ts";
import { openSharedStore } from "./_shared_store.ts";
import { type KvClient, kvLayout, type KvStore, kvStore, type KvStoreOptions } from "./kv_store.ts";
import type { StoreProvider } from "./provider.ts";

export type { Store } from "../lib/core/store.ts";
export type { ConfigTree, JsonValue, Route, RouteChange, RouteData } from "../lib/core/types.ts";
export type { KvStore, KvStoreOptions, Mirror, SharedValues, VersionedValue } from "./kv_store.ts";
export type { KvDiff } from "../lib/core/kv.ts";
export type { ConsulTxnOp } from "./_consul_http.ts";
export type { FeedStartOptions, OpenedStore, StoreContext, StoreProvider } from "./provider.ts";

/**
 * consul's limit of operations in one transaction.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { CONSUL_MAX_TXN_OPS } from "./consul.ts";
 * assert.equal(CONSUL_MAX_TXN_OPS, 64);
 * ```
 */
export const CONSUL_MAX_TXN_OPS = 64;

/**
 * Options of `consulStore`.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { consulProviderConfig, type ConsulStoreOptions } from "./consul.ts";
 * const options: ConsulStoreOptions = { url: "https://10.0.0.1:8501", caFile: "/etc/ca.pem" };
 * assert.deepEqual(consulProviderConfig(options).tls, { ca: "/etc/ca.pem" });
 * ```
 */
export interface ConsulStoreOptions extends KvStoreOptions {
  /** consul's HTTP API, `http://host:port` or `https://...`; default `http://127.0.0.1:8500`. */
  url?: string;
  /** ACL token (sent as `X-Consul-Token`; given to traefik as `CONSUL_HTTP_TOKEN`). */
  token?: string;
  /** PEM CA certificate for an https URL. */
  caFile?: string;
  /** How long the first request may take, in ms; default 5,000. */
  connectTimeoutMs?: number;
}

/**
 * traefik's static `providers.consul` section for the same consul and prefix. The token is not
 * in it: traefik reads it from `CONSUL_HTTP_TOKEN` (`consulTraefikEnv`), never from a file.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { consulProviderConfig } from "./consul.ts";
 * assert.deepEqual(consulProviderConfig({ url: "http://127.0.0.1:8500", token: "secret" }), {
 *   endpoints: ["127.0.0.1:8500"],
 *   rootKey: "traefik",
 * });
 * ```
 */
export function consulProviderConfig(options: ConsulStoreOptions): ConfigTree {
  const url = options.url ?? "http://127.0.0.1:8500";
  const config: ConfigTree = {
    endpoints: [url.replace(/^https?:\/\//, "").replace(/\/+$/, "")],
    rootKey: kvLayout(options).traefikPrefix,
  };
  if (url.startsWith("https:")) config.tls = options.caFile ? { ca: options.caFile } : {};
  return config;
}

/**
 * The environment traefik's consul provider reads the token from.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { consulTraefikEnv } from "./consul.ts";
 * assert.deepEqual(consulTraefikEnv({ token: "secret" }), { CONSUL_HTTP_TOKEN: "secret" });
 * assert.equal(consulTraefikEnv({}), undefined);
 * ```
 */
export function consulTraefikEnv(
  options: ConsulStoreOptions,
): Record<string, string> | undefined {
  return options.token ? { CONSUL_HTTP_TOKEN: options.token } : undefined;
}

/**
 * The transactions of a commit: each group's (route's) operations together, at most
 * `CONSUL_MAX_TXN_OPS` and 384 KiB per transaction (a group larger than that alone, split).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { consulTransactions } from "./consul.ts";
 * const txns = consulTransactions([{ set: new Map([["a", "1"]]), delete: ["b"] }]);
 * assert.deepEqual(txns, [[
 *   { KV: { Verb: "delete", Key: "b" } },
 *   { KV: { Verb: "set", Key: "a", Value: "MQ==" } },
 * ]]);
 * ```
 */
export function consulTransactions(groups: KvDiff[]): ConsulTxnOp[][] {
  const out: ConsulTxnOp[][] = [];
  let current: ConsulTxnOp[] = [];
  let bytes = 0;
  for (const group of groups) {
    const list: ConsulTxnOp[] = group.delete.map((key) => ({ KV: { Verb: "delete", Key: key } }));
    for (const [key, value] of group.set) {
      list.push({ KV: { Verb: "set", Key: key, Value: toBase64(value) } });
    }
    const size = list.reduce((sum, op) => sum + opBytes(op), 0);
    const fits = current.length + list.length <= CONSUL_MAX_TXN_OPS &&
      bytes + size <= CONSUL_MAX_TXN_BYTES;
    if (!fits && current.length > 0) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    if (list.length <= CONSUL_MAX_TXN_OPS && size <= CONSUL_MAX_TXN_BYTES) {
      current.push(...list);
      bytes += size;
      continue;
    }
    // One route larger than a transaction (data near its 64 KiB limit): split on its own.
    for (const op of list) {
      if (
        current.length > 0 &&
        (current.length === CONSUL_MAX_TXN_OPS || bytes + opBytes(op) > CONSUL_MAX_TXN_BYTES)
      ) {
        out.push(current);
        current = [];
        bytes = 0;
      }
      current.push(op);
      bytes += opBytes(op);
    }
  }
  if (current.length > 0) out.push(current);
  return out;
}

/**
 * The most request bytes put in one transaction: consul refuses transactions over its
 * `txn_max_req_len` (512 KiB by default) with a 413.
 */
const CONSUL_MAX_TXN_BYTES = 384 * 1024;

function opBytes(op: ConsulTxnOp): number {
  return op.KV.Key.length + ("Value" in op.KV ? op.KV.Value.length : 0) + 48;
}

/**
 * Connects to consul and opens a route store on it.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { StoreError } from "../lib/core/errors.ts";
 * import { consulStore } from "./consul.ts";
 * // With consul on 127.0.0.1:8500:
 * //   const store = await consulStore({ url: "http://127.0.0.1:8500" });
 * //   await store.close();
 * // Without a server, opening fails with a StoreError saying what to check:
 * const url = "http://127.0.0.1:1";
 * await assert.rejects(consulStore({ url, connectTimeoutMs: 1_000 }), StoreError);
 * ```
 * @throws {StoreError} when consul is unreachable or refuses the token.
 */
export async function consulStore(options: ConsulStoreOptions = {}): Promise<KvStore> {
  const url = options.url ?? "http://127.0.0.1:8500";
  const caCert = await readCaFile(options.caFile, `consul at ${url}`);
  const http = consulHttp({ url, token: options.token, caCert });
  const layout = kvLayout(options);
  try {
    // Reading the routes' prefix checks the address and the token's read access at once.
    const probe = http.index(`${layout.jupyterhubPrefix}/`);
    if (await withTimeout(probe, options.connectTimeoutMs ?? 5_000) === TIMED_OUT) {
      throw new Error("timed out");
    }
  } catch (error) {
    http.close();
    throw new StoreError(
      `cannot use consul at ${url}: ${(error as Error).message}; check that consul runs there ` +
        "and that the token (--consul-token) may read and write the prefixes",
      { cause: error },
    );
  }
  let watching: ConsulWatch | undefined;
  const kv: KvClient = {
    provider: "consul",
    async getPrefix(prefix: string) {
      const listing = await http.list(prefix);
      return new Map(listing.entries.map((entry) => [entry.Key, fromBase64(entry.Value)]));
    },
    async commit(groups: KvDiff[]) {
      for (const txn of consulTransactions(groups)) {
        const index = await http.txn(txn);
        // Reported now, not when the next listing of the whole prefix brings it back.
        if (index !== undefined) watching?.committed(txn, index);
      }
    },
    close() {
      http.close();
      return Promise.resolve();
    },
    async watch(prefix, sink) {
      watching = await watchConsul(http, prefix, sink);
      return watching;
    },
    async getValue(key) {
      const entry = await http.get(key);
      return entry ? { value: entry.value, version: String(entry.index) } : undefined;
    },
    compareAndSet: (key, version, value) =>
      http.cas(key, version === undefined ? 0 : Number(version), value),
  };
  try {
    return await kvStore(kv, options);
  } catch (error) {
    http.close();
    throw error;
  }
}

/**
 * The consul provider for the registry in `mod.ts`: a consul store, read by traefik's consul
 * provider (when traefik reads the store itself), and a private file for this process's own
 * configuration.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { StoreError } from "../lib/core/errors.ts";
 * import { consulProvider } from "./consul.ts";
 * const context = { entryPoint: "http", fixed: {}, workDir: "/nonexistent", log: () => {}, feed: false };
 * const url = "http://127.0.0.1:1"; // nothing listens there
 * await assert.rejects(consulProvider.open({ url, connectTimeoutMs: 1_000 }, context), StoreError);
 * ```
 */
export const consulProvider: StoreProvider<ConsulStoreOptions> = {
  open: (options, context) =>
    openSharedStore(
      () =>
        consulStore({
          ...options,
          entryPoint: context.entryPoint,
          log: context.log,
          serversTransport: context.serversTransport,
        }),
      consulProviderConfig(options),
      context,
      consulTraefikEnv(options),
    ),
};
