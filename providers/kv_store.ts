/**
 * A route store over any key-value client (redis, etcd). Reads go to the store every time, so
 * a table written by another process is never served stale. Writes are coalesced: the changes
 * that arrive while a commit is under way are committed together in the next one, each route's
 * keys in one transaction.
 *
 * @module
 */

import type { KvDiff } from "../lib/kv.ts";
import {
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

interface Pending {
  change: RouteChange;
  resolve: () => void;
  reject: (error: unknown) => void;
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
  let queue: Pending[] = [];
  let running = false;
  let idle: Promise<void> = Promise.resolve();
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
    const collect = (pairs: Map<string, string>, routespec: string, prefix: string) => {
      const own = new Map([...pairs].filter(([key]) => key.startsWith(prefix)));
      records.set(routespec, {
        route: routeFromRecord(own, prefix.slice(0, -1)),
        keys: [...own.keys()],
      });
    };
    if (routespecs.length > READ_ALL_ABOVE) {
      const all = await client.getPrefix(routesPrefix);
      for (const spec of routespecs) collect(all, spec, recordPrefix(spec, layout));
    } else {
      await Promise.all(routespecs.map(async (spec) => {
        const prefix = recordPrefix(spec, layout);
        collect(await client.getPrefix(prefix), spec, prefix);
      }));
    }
    return records;
  }

  async function drain(): Promise<void> {
    while (queue.length > 0) {
      const batch = queue;
      queue = [];
      const accepted: Pending[] = [];
      for (const pending of batch) {
        try {
          for (const route of pending.change.set ?? []) routeKeys(route, layout); // validates
          accepted.push(pending);
        } catch (error) {
          pending.reject(error);
        }
      }
      if (accepted.length === 0) continue;
      try {
        await wrap("write routes", async () => {
          const final = new Map<string, Route | undefined>();
          for (const { change } of accepted) {
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
        });
        for (const pending of accepted) pending.resolve();
      } catch (error) {
        for (const pending of accepted) pending.reject(error);
      }
    }
    running = false;
  }

  return {
    provider: client.provider,
    entryPoint: layout.entryPoint,
    async getAllRoutes() {
      const pairs = await wrap("read routes", () => client.getPrefix(routesPrefix));
      return routesFromKv(pairs, layout).routes;
    },
    async getRoute(routespec: string) {
      const prefix = recordPrefix(routespec, layout);
      const pairs = await wrap("read a route", () => client.getPrefix(prefix));
      return routeFromRecord(pairs, prefix.slice(0, -1));
    },
    apply(change: RouteChange) {
      if (closed) return Promise.reject(new StoreError(`the ${client.provider} store is closed`));
      return new Promise<void>((resolve, reject) => {
        queue.push({ change, resolve, reject });
        if (!running) {
          running = true;
          idle = new Promise<void>((r) => setTimeout(r, 0)).then(drain);
        }
      });
    },
    async close() {
      closed = true;
      while (running) await idle;
      await client.close();
    },
  };
}

function trim(prefix: string): string {
  return prefix.replace(/^\/+|\/+$/g, "");
}
