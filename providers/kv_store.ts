/**
 * A route store over any key-value client (redis, etcd). Reads go to the store every time, so
 * a table written by another process is never served stale. Writes are coalesced: the changes
 * that arrive while a commit is under way are committed together in the next one, each route's
 * keys in one transaction.
 *
 * @module
 */

import type { KvDiff } from "../lib/kv.ts";
import { coalescer } from "../lib/coalesce.ts";
import {
  groupRecords,
  type KvLayoutOptions,
  recordPrefix,
  routeChange,
  routeFromRecord,
  routeKeys,
  routesFromKv,
  sentinelKeys,
} from "../lib/kv_layout.ts";
import { StoreError } from "../lib/errors.ts";
import type { Store } from "../lib/store.ts";
import type { Route, RouteChange } from "../lib/types.ts";

/** What a key-value backend must offer. */
export interface KvClient {
  /** traefik's provider name (`redis`, `etcd`). */
  readonly provider: string;
  /** Every pair whose key starts with `prefix`. */
  getPrefix(prefix: string): Promise<Map<string, string>>;
  /**
   * Optional, for listing every route faster: the pairs under `<base><record>/` that
   * `routeFromRecord` needs (`RECORD_FIELDS`, and the `data/...` keys of records without
   * `data_json`). Without it, `getPrefix(base)` is used.
   */
  getRecordFields?(base: string): Promise<Map<string, string>>;
  /**
   * Applies the changes: every group wholly or not at all, all groups in one transaction where
   * the backend allows it.
   */
  commit(groups: KvDiff[]): Promise<void>;
  /** Releases the connection. */
  close(): Promise<void>;
}

/** Options of `kvStore`. */
export interface KvStoreOptions {
  /** Public entry point name; default `http`. */
  entryPoint?: string;
  /** traefik's root key; default `traefik`. */
  traefikPrefix?: string;
  /** Root key of the route records; default `jupyterhub`. */
  jupyterhubPrefix?: string;
}

/** Above this many routes in one batch, all records are read at once instead of one by one. */
const READ_ALL_ABOVE = 16;

/**
 * Opens a store over a key-value client and writes the sentinel.
 *
 * @example
 * ```ts
 * import { kvStore } from "./kv_store.ts";
 * // const store = await kvStore(client, { entryPoint: "http" });
 * ```
 * @throws {StoreError} when the sentinel cannot be written.
 */
export async function kvStore(client: KvClient, options: KvStoreOptions = {}): Promise<Store> {
  const layout: KvLayoutOptions = {
    entryPoint: options.entryPoint ?? "http",
    traefikPrefix: trim(options.traefikPrefix ?? "traefik"),
    jupyterhubPrefix: trim(options.jupyterhubPrefix ?? "jupyterhub"),
  };
  const routesPrefix = `${layout.jupyterhubPrefix}/routes/`;
  let closed = false;

  await wrap(
    "write the sentinel",
    () => client.commit([{ set: sentinelKeys(layout), delete: [] }]),
  );

  async function wrap<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      if (error instanceof StoreError) throw error;
      throw new StoreError(
        `${client.provider}: cannot ${what}: ${(error as Error).message}; ` +
          `check that ${client.provider} is reachable and the credentials are right`,
        { cause: error },
      );
    }
  }

  async function readRecords(routespecs: string[]) {
    const records = new Map<string, { route?: Route; keys: string[] }>();
    // One read of every record for a large batch, one read per route for a small one.
    const pairs = routespecs.length > READ_ALL_ABOVE
      ? await client.getPrefix(routesPrefix)
      : new Map((await Promise.all(
        routespecs.map((spec) => client.getPrefix(recordPrefix(spec, layout))),
      )).flatMap((found) => [...found]));
    const groups = groupRecords(pairs, layout);
    for (const spec of routespecs) {
      const prefix = recordPrefix(spec, layout).slice(0, -1);
      const own = groups.get(prefix) ?? new Map<string, string>();
      records.set(spec, { route: routeFromRecord(own, prefix), keys: [...own.keys()] });
    }
    return records;
  }

  const changes = coalescer<RouteChange>({
    check(change) {
      for (const route of change.set ?? []) routeKeys(route, layout); // throws if invalid
    },
    commit: (batch) =>
      wrap("write routes", async () => {
        const final = new Map<string, Route | undefined>();
        for (const change of batch) {
          for (const route of change.set ?? []) final.set(route.routespec, route);
          for (const spec of change.delete ?? []) final.set(spec, undefined);
        }
        const before = await readRecords([...final.keys()]);
        const groups: KvDiff[] = [];
        for (const [spec, after] of final) {
          const old = before.get(spec)!;
          const change = routeChange(old.route, old.keys, after, layout);
          if (change.set.size > 0 || change.delete.length > 0) groups.push(change);
        }
        if (groups.length > 0) await client.commit(groups);
      }),
  });

  return {
    provider: client.provider,
    entryPoint: layout.entryPoint,
    async getAllRoutes() {
      const pairs = await wrap(
        "read routes",
        () => client.getRecordFields?.(routesPrefix) ?? client.getPrefix(routesPrefix),
      );
      return routesFromKv(pairs, layout).routes;
    },
    async getRoute(routespec: string) {
      const prefix = recordPrefix(routespec, layout);
      const pairs = await wrap("read a route", () => client.getPrefix(prefix));
      return routeFromRecord(pairs, prefix.slice(0, -1));
    },
    apply(change: RouteChange) {
      if (closed) return Promise.reject(new StoreError(`the ${client.provider} store is closed`));
      return changes.push(change);
    },
    async close() {
      closed = true;
      await changes.idle();
      await client.close();
    },
  };
}

function trim(prefix: string): string {
  return prefix.replace(/^\/+|\/+$/g, "");
}
