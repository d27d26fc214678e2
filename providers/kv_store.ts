/**
 * A route store over any key-value client (redis, etcd). Writes are coalesced: the changes that
 * arrive while a commit is under way are committed together in the next one, each route's keys
 * in one transaction.
 *
 * Reads are served from an in-process copy of the records (`routeCache`) when the client can
 * watch the store: before each answer the watch is synced (every change committed before the
 * read began has then been reported), and the records reported changed without their values
 * are read again. So a table written by another process is never served stale, and reading
 * 10,000 routes costs one round trip instead of a transfer of every key. Without a watch (or
 * while it is broken) every read goes to the store.
 *
 * Writes read the records they change first, except where the client can make a write
 * conditional on the store still holding the records as the copy does (etcd: nothing under
 * them changed after the copy's revision; redis: their fields hold the copy's values): new and
 * changed routes are then written from the copy in one round trip, and read only when the
 * condition fails. A mirror's pass over changes that came with their values needs no round
 * trip either.
 *
 * @module
 */

import { mergeChanges } from "../lib/core/route_change.ts";
import { routeParts } from "../lib/core/route_config.ts";
import type { KvDiff } from "../lib/core/kv.ts";
import { coalescer } from "../lib/async/coalesce.ts";
import {
  completeRecord,
  groupRecords,
  type KvLayoutOptions,
  misnamedRecords,
  recordMove,
  recordPrefix,
  routeChange,
  routeFromRecord,
  routeKeys,
  routeRewrite,
  routesFromKv,
  sentinelKeys,
  traefikKeyPrefixes,
  trimKeyPrefix,
} from "../lib/core/kv_layout.ts";
import { StoreError } from "../lib/core/errors.ts";
import { type ChangedValue, type ReadTicket, routeCache } from "../lib/core/route_cache.ts";
import type { Mirror, MirrorTarget, Store } from "../lib/core/store.ts";
import type { Route, RouteChange } from "../lib/core/types.ts";

export type { Mirror, MirrorTarget, Store } from "../lib/core/store.ts";
export type { JsonValue, Route, RouteChange, RouteData } from "../lib/core/types.ts";
export type { KvDiff } from "../lib/core/kv.ts";
export type { KvLayoutOptions } from "../lib/core/kv_layout.ts";
export type { ChangedValue } from "../lib/core/route_cache.ts";

/**
 * What a key-value backend must offer.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import type { KvClient } from "./kv_store.ts";
 * // A backend over a Map: enough for kvStore, with reads always going to the map.
 * const pairs = new Map<string, string>();
 * const client: KvClient = {
 *   provider: "memory",
 *   getPrefix: (prefix) =>
 *     Promise.resolve(new Map([...pairs].filter(([key]) => key.startsWith(prefix)))),
 *   commit(groups) {
 *     for (const group of groups) {
 *       for (const key of group.delete) pairs.delete(key);
 *       for (const [key, value] of group.set) pairs.set(key, value);
 *     }
 *     return Promise.resolve();
 *   },
 *   close: () => Promise.resolve(),
 * };
 * await client.commit([{ set: new Map([["a/b", "1"]]), delete: [] }]);
 * assert.deepEqual(await client.getPrefix("a/"), new Map([["a/b", "1"]]));
 * ```
 */
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
   * Optional, for a store where listing a record's keys costs a scan of every key (redis): the
   * keys of the given records (prefixes without the trailing `/`) read by name, `RECORD_KEYS`,
   * and the `data/...` keys of the records that have no `data_json` (see `completeRecord`).
   * Without it, each record is read with `getPrefix`.
   */
  getRecords?(records: string[]): Promise<Map<string, string>>;
  /**
   * Applies the changes: every group wholly or not at all, all groups in one transaction where
   * the backend allows it.
   */
  commit(groups: KvDiff[]): Promise<void>;
  /**
   * Optional, for writes that need not read the store first: commits each record's `diff`
   * only if the store still holds the record as the watched copy does, each record's keys in
   * one transaction. `known` is what the copy holds under the record's prefix `guarded`
   * (ending in `/`), as of `revision` (the watch's `KvWatch.revision`, where it has one): a
   * store with revisions checks that nothing under the prefix changed after it, one without
   * compares the record's fields with `known`. Resolves with whether each was written; one
   * that was not is left as it was.
   */
  commitUnchanged?(records: GuardedWrite[], revision: number | undefined): Promise<boolean[]>;
  /** Releases the connection. */
  close(): Promise<void>;
  /**
   * Optional: starts reporting every change to keys under `prefix` to `sink`. Rejects when the
   * store does not allow it (reads then always go to the store).
   */
  watch?(prefix: string, sink: KvWatchSink): Promise<KvWatch>;
  /** Optional, for `KvStore.values`: one key's value and its version. */
  getValue?(key: string): Promise<VersionedValue | undefined>;
  /**
   * Optional, for `KvStore.values`: sets `key` to `value` (deletes it for null) only if its
   * version is still `version` (undefined: only if it is absent); true when it did.
   */
  compareAndSet?(key: string, version: string | undefined, value: string | null): Promise<boolean>;
}

/**
 * One record's write from the watched copy (`KvClient.commitUnchanged`).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import type { GuardedWrite } from "./kv_store.ts";
 * const write: GuardedWrite = {
 *   diff: { set: new Map([["jupyterhub/routes/r/target", "http://h:2"]]), delete: [] },
 *   guarded: "jupyterhub/routes/r/",
 *   known: new Map([["jupyterhub/routes/r/target", "http://h:1"]]),
 * };
 * assert.ok(write.diff.set.has(`${write.guarded}target`));
 * ```
 */
export interface GuardedWrite {
  /** The keys to write and delete. */
  diff: KvDiff;
  /** The record's prefix, ending in `/`. */
  guarded: string;
  /** What the copy holds under it. */
  known: Map<string, string>;
}

/**
 * A value and the version a compare-and-set names.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import type { VersionedValue } from "./kv_store.ts";
 * const value: VersionedValue = { value: "{}", version: "17" };
 * assert.equal(value.version, "17");
 * ```
 */
export interface VersionedValue {
  /** The value. */
  value: string;
  /** Opaque: what `compareAndSet` compares. */
  version: string;
}

/**
 * Single values kept in a shared store beside the routes (under `<jupyterhub prefix>/shared/`),
 * for what replicas coordinate through it: ACME's lease, certificate and challenges, routes'
 * activity.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import type { SharedValues } from "./kv_store.ts";
 * const map = new Map<string, string>();
 * const values: SharedValues = {
 *   get: (key) => Promise.resolve(map.has(key) ? { value: map.get(key)!, version: map.get(key)! } : undefined),
 *   list: (prefix) =>
 *     Promise.resolve(new Map([...map].filter(([key]) => key.startsWith(prefix)).map(([key, value]) => [key.slice(prefix.length), value]))),
 *   compareAndSet(key, version, value) {
 *     if ((map.get(key) ?? undefined) !== version) return Promise.resolve(false);
 *     if (value === null) map.delete(key);
 *     else map.set(key, value);
 *     return Promise.resolve(true);
 *   },
 * };
 * assert.equal(await values.compareAndSet("lease", undefined, "a"), true);
 * assert.equal(await values.compareAndSet("lease", undefined, "b"), false);
 * assert.deepEqual(await values.list("le"), new Map([["ase", "a"]]));
 * ```
 */
export interface SharedValues {
  /** The value of `key` and its version, or undefined. */
  get(key: string): Promise<VersionedValue | undefined>;
  /** Every key that starts with `prefix` (given without it), with its value. */
  list(prefix: string): Promise<Map<string, string>>;
  /** Sets (null: deletes) `key` only if its version is still `version` (undefined: absent). */
  compareAndSet(key: string, version: string | undefined, value: string | null): Promise<boolean>;
}

/**
 * Receives the changes a `KvWatch` reports.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import type { KvWatchSink } from "./kv_store.ts";
 * const seen: string[] = [];
 * const sink: KvWatchSink = {
 *   changed: (key, value) => void seen.push(`${key}=${value}`),
 *   reset: () => void seen.push("reset"),
 * };
 * sink.changed("jupyterhub/routes/r/target", "http://h:1");
 * sink.changed("jupyterhub/routes/r/rule", null); // deleted
 * sink.reset();
 * assert.deepEqual(seen, [
 *   "jupyterhub/routes/r/target=http://h:1",
 *   "jupyterhub/routes/r/rule=null",
 *   "reset",
 * ]);
 * ```
 */
export interface KvWatchSink {
  /** A key changed; see `ChangedValue`. */
  changed(key: string, value: ChangedValue): void;
  /** Changes may have been lost (a reconnect): everything must be read again. */
  reset(): void;
}

/**
 * A running watch of a key-value store.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import type { KvWatch } from "./kv_store.ts";
 * // A watch that cannot tell whether it has seen everything: reads then go to the backend.
 * const watch: KvWatch = {
 *   sync: () => Promise.reject(new Error("the watch is down")),
 *   close: () => Promise.resolve(),
 * };
 * await assert.rejects(watch.sync());
 * ```
 */
export interface KvWatch {
  /**
   * Resolves once every change committed to the store before the call has been reported to the
   * sink. Rejects when it cannot tell (the watch is down).
   */
  sync(): Promise<void>;
  /** Stops watching. */
  close(): Promise<void>;
  /**
   * Optional, for `KvClient.commitUnchanged`: while the watch is up, the store revision up to
   * which every change has been reported to the sink.
   */
  readonly revision?: number;
}

/**
 * Options of `kvStore`.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { kvLayout, type KvStoreOptions } from "./kv_store.ts";
 * const options: KvStoreOptions = { traefikPrefix: "/tk/", cache: false };
 * assert.equal(kvLayout(options).traefikPrefix, "tk");
 * ```
 */
export interface KvStoreOptions {
  /** Public entry point name; default `http`. */
  entryPoint?: string;
  /** The servers transport of every route's service (`name@provider`); default none. */
  serversTransport?: string;
  /** traefik's root key; default `traefik`. */
  traefikPrefix?: string;
  /** Root key of the route records; default `jupyterhub`. */
  jupyterhubPrefix?: string;
  /** Serve reads from a watched in-process copy when the client can watch; default true. */
  cache?: boolean;
  /**
   * Write traefik's router and service keys beside each record, for a traefik (or the Python
   * proxy) that reads the store itself; default true. Turn off only when every traefik is fed
   * by this proxy (`KvStore.mirror`).
   */
  traefikKeys?: boolean;
  /** Receives notices (a watch that could not start). */
  log?: (message: string) => void;
}

/** Above this many routes in one batch, all records are read at once instead of one by one. */
const READ_ALL_ABOVE = 16;

/** Above this many records reported changed without values, the cache reads everything again. */
const REREAD_ALL_ABOVE = 256;

/**
 * The key layout the options describe: their prefixes without leading or trailing slashes, and
 * the defaults (`traefik`, `jupyterhub`, entry point `http`) for those not given.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { kvLayout } from "./kv_store.ts";
 * assert.deepEqual(kvLayout({ jupyterhubPrefix: "/hub/" }), {
 *   entryPoint: "http",
 *   traefikPrefix: "traefik",
 *   jupyterhubPrefix: "hub",
 * });
 * ```
 */
export function kvLayout(options: KvStoreOptions): KvLayoutOptions {
  return {
    entryPoint: options.entryPoint ?? "http",
    traefikPrefix: trimKeyPrefix(options.traefikPrefix ?? "traefik"),
    jupyterhubPrefix: trimKeyPrefix(options.jupyterhubPrefix ?? "jupyterhub"),
    ...(options.traefikKeys === false ? { traefikKeys: false } : {}),
    ...(options.serversTransport ? { serversTransport: options.serversTransport } : {}),
  };
}

/** A store over a key-value client. */
export interface KvStore extends Store {
  /**
   * Keeps `target` (the private file a traefik started by this process reads, the fallback
   * router) equal to the table in the store: applies the whole table once, and resolves then;
   * from then on applies every change the watch reports, from this process or any other, in
   * batches (the changes that arrive while one is applied go together in the next).
   *
   * @throws {StoreError} when the store cannot be watched (no watched copy).
   */
  mirror(target: MirrorTarget): Promise<Mirror>;
  /** Single values beside the routes, when the client offers compare-and-set. */
  readonly values?: SharedValues;
  /**
   * Writes traefik's keys of the `set` routes again, even where the store holds them already,
   * and deletes traefik's keys of the `delete` routespecs, even without a record: a traefik
   * that reads the store itself and lost or kept routes behind its back (drift) reloads them.
   * Nothing without traefik's keys (`KvLayoutOptions.traefikKeys` false).
   */
  rewriteTraefikKeys(change: { set: Route[]; delete: string[] }): Promise<void>;
  /** How often the watch was lost (a reconnect) and the table read again, in total. */
  readonly watchResets: number;
}

/**
 * Opens a store over a key-value client and writes the sentinel.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { type KvClient, kvStore } from "./kv_store.ts";
 * const pairs = new Map<string, string>();
 * const client: KvClient = {
 *   provider: "memory",
 *   getPrefix: (prefix) =>
 *     Promise.resolve(new Map([...pairs].filter(([key]) => key.startsWith(prefix)))),
 *   commit(groups) {
 *     for (const group of groups) {
 *       for (const key of group.delete) pairs.delete(key);
 *       for (const [key, value] of group.set) pairs.set(key, value);
 *     }
 *     return Promise.resolve();
 *   },
 *   close: () => Promise.resolve(),
 * };
 * const store = await kvStore(client, { entryPoint: "http" });
 * await store.apply({ set: [{ routespec: "/a/", target: "http://127.0.0.1:9000", data: {} }] });
 * assert.equal(pairs.get("jupyterhub/routes/router__2Fa_2F/target"), "http://127.0.0.1:9000");
 * assert.equal((await store.getRoute("/a/"))?.target, "http://127.0.0.1:9000");
 * await store.close();
 * ```
 * @throws {StoreError} when the sentinel cannot be written.
 */
export async function kvStore(client: KvClient, options: KvStoreOptions = {}): Promise<KvStore> {
  const layout = kvLayout(options);
  const routesPrefix = `${layout.jupyterhubPrefix}/routes/`;
  const log = options.log ?? (() => {});
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

  // The keys under each record prefix (without its trailing "/"): read by name where the client
  // can (see `KvClient.getRecords`), else listed record by record.
  async function readRecordKeys(records: string[]): Promise<Map<string, string>> {
    if (client.getRecords) {
      const pairs = await client.getRecords(records);
      const groups = groupRecords(pairs, layout);
      const out = new Map<string, string>();
      for (const record of records) {
        const own = groups.get(record);
        if (own) { for (const pair of completeRecord(own, { record, layout })) out.set(...pair); }
      }
      return out;
    }
    const found = await Promise.all(records.map((record) => client.getPrefix(`${record}/`)));
    return new Map(found.flatMap((pairs) => [...pairs]));
  }

  async function readRecords(routespecs: string[]) {
    const records = new Map<string, { route?: Route; pairs: Map<string, string> }>();
    const prefixes = routespecs.map((spec) => recordPrefix(spec, layout).slice(0, -1));
    // A large batch without reads by name: one read of every record.
    const pairs = routespecs.length > READ_ALL_ABOVE && !client.getRecords
      ? await client.getPrefix(routesPrefix)
      : await readRecordKeys(prefixes);
    const groups = groupRecords(pairs, layout);
    routespecs.forEach((spec, i) => {
      const own = groups.get(prefixes[i]) ?? new Map<string, string>();
      records.set(spec, { route: routeFromRecord(own, prefixes[i]), pairs: own });
    });
    return records;
  }

  const changes = coalescer<RouteChange>({
    check(change) {
      // Throws for a route that cannot be written (its keys are built when it is).
      for (const route of change.set ?? []) routeParts(route, layout);
    },
    commit: (batch) =>
      wrap("write routes", async () => {
        await ready;
        const merged = mergeChanges(batch);
        const final = new Map<string, Route | undefined>();
        for (const route of merged.set ?? []) final.set(route.routespec, route);
        for (const spec of merged.delete ?? []) final.set(spec, undefined);
        const rest = await commitFromCopy(final);
        if (rest.size === 0) return;
        const before = await readRecords([...rest.keys()]);
        const groups: KvDiff[] = [];
        for (const [spec, after] of rest) {
          const old = before.get(spec)!;
          const change = routeChange(old.route, old.pairs, after, layout);
          if (change.set.size > 0 || change.delete.length > 0) groups.push(change);
        }
        if (groups.length > 0) await client.commit(groups);
      }),
  });

  // New and changed routes written without reading their records first: what the watched copy
  // knows of each is rewritten whole, on condition that the store has not changed the record
  // since the copy's revision. Returns the changes left to write after a read: deletions (every
  // key of the record must go, known to the copy or not), records the copy does not know for
  // sure, and those whose condition did not hold.
  async function commitFromCopy(
    final: Map<string, Route | undefined>,
  ): Promise<Map<string, Route | undefined>> {
    const revision = watch?.revision;
    if (!client.commitUnchanged || !cache.loaded) return final;
    const rest = new Map<string, Route | undefined>();
    const specs: string[] = [];
    const records: GuardedWrite[] = [];
    for (const [spec, after] of final) {
      const record = recordPrefix(spec, layout).slice(0, -1);
      if (!after || cache.dirty.has(record)) {
        rest.set(spec, after);
        continue;
      }
      const before = cache.record(record);
      const known = cache.pairs(record);
      specs.push(spec);
      records.push({
        diff: routeRewrite({ before, known: known.keys(), after }, layout),
        guarded: `${record}/`,
        known,
      });
    }
    if (records.length === 0) return rest;
    const done = await client.commitUnchanged(records, revision);
    done.forEach((written, i) => {
      if (!written) rest.set(specs[i], final.get(specs[i]));
    });
    return rest;
  }

  function readAllFields(): Promise<Map<string, string>> {
    return client.getRecordFields?.(routesPrefix) ?? client.getPrefix(routesPrefix);
  }

  const cache = routeCache(layout);
  // The watch reports to the copy, and wakes the mirror for every record that changed.
  // Each follower is told which record changed (undefined: any of them may have).
  const followers = new Set<(record?: string) => void>();
  const sink: KvWatchSink = {
    changed(key, value) {
      const record = cache.changed(key, value);
      if (record !== undefined) { for (const follow of followers) follow(record); }
    },
    reset() {
      watchResets++;
      cache.reset();
      for (const follow of followers) follow();
    },
  };
  let watchResets = 0;
  let watch: KvWatch | undefined;
  if (options.cache !== false && client.watch) {
    try {
      watch = await client.watch(routesPrefix, sink);
    } catch (error) {
      log(
        `${client.provider}: cannot watch the routes (${(error as Error).message}); every read ` +
          "goes to the store",
      );
    }
  }

  // Brings the cache up to date with every change committed before the call; false when it
  // cannot be trusted (no watch, or the watch is down), and the read must go to the store.
  async function refreshOnce(): Promise<boolean> {
    if (!watch) return false;
    try {
      await watch.sync();
    } catch {
      cache.reset();
      return false;
    }
    // A record changed while a read is under way is left dirty (the read may predate the
    // change): read again, a few rounds at most while writes keep coming.
    for (let round = 0;; round++) {
      if (!cache.loaded || cache.dirty.size > REREAD_ALL_ABOVE) {
        const ticket = cache.beginRead();
        if (!cache.load(await wrap("read routes", readAllFields), ticket)) return false;
      } else if (cache.dirty.size > 0) {
        const records = [...cache.dirty];
        const ticket = cache.beginRead();
        const found = await wrap("read routes", () => readRecordKeys(records));
        if (!cache.loadRecords(records, found, ticket)) return false;
      }
      if (cache.dirty.size === 0 || round === 2) return true;
    }
  }

  // One refresh at a time; callers that arrive during one share the next (their read must
  // begin after they did). Each caller reads the outcome of its own refresh: the next one
  // cannot finish before the callers of this one have resumed.
  let trusted = false;
  const refreshes = coalescer<void>({
    commit: async () => {
      trusted = await refreshOnce();
    },
  });
  function refresh(): Promise<boolean> {
    if (!watch) return Promise.resolve(false);
    return refreshes.push().then(() => trusted);
  }

  // The first read, at once in the background: it fills the copy (so that the hub's first
  // listing does not wait for it) and moves the records an earlier version stored under another
  // spelling of their routespec to their canonical names. Every read and write waits for it.
  const ready = firstRead().catch((error) =>
    log(
      `${client.provider}: cannot check the stored routes at start (${
        (error as Error).message
      }); ` +
        "records stored under a non-canonical routespec move at the next start",
    )
  );

  async function firstRead(): Promise<void> {
    let ticket: ReadTicket | undefined;
    if (watch) {
      try {
        await watch.sync();
        ticket = cache.beginRead();
      } catch {
        // the watch is down: read without filling the copy
      }
    }
    const pairs = await wrap("read routes", readAllFields);
    if (ticket) cache.load(pairs, ticket);
    const misnamed = misnamedRecords(pairs, layout);
    if (misnamed.length === 0) return;
    const existing = groupRecords(pairs, layout);
    const moves = await wrap(
      "move route records",
      () =>
        Promise.all(misnamed.map(async (record) => {
          const keys = await client.getPrefix(`${record.prefix}/`);
          const canonical = recordPrefix(record.route.routespec, layout).slice(0, -1);
          return recordMove(
            record,
            keys.keys(),
            { keepCanonical: existing.has(canonical) },
            layout,
          );
        })),
    );
    await wrap("move route records", () => client.commit(moves));
    log(
      `${client.provider}: moved ${moves.length} route record(s) stored under a non-canonical ` +
        `routespec to their canonical names (${misnamed.map((r) => r.storedRoutespec).join(", ")})`,
    );
  }

  const sharedPrefix = `${layout.jupyterhubPrefix}/shared/`;
  const values: SharedValues | undefined = client.getValue && client.compareAndSet
    ? {
      get: (key) => wrap("read a shared value", () => client.getValue!(sharedPrefix + key)),
      list: (prefix) =>
        wrap("read shared values", async () => {
          const start = sharedPrefix.length + prefix.length;
          const found = await client.getPrefix(sharedPrefix + prefix);
          return new Map([...found].map(([key, value]) => [key.slice(start), value]));
        }),
      compareAndSet: (key, version, value) =>
        wrap(
          "write a shared value",
          () => client.compareAndSet!(sharedPrefix + key, version, value),
        ),
    }
    : undefined;

  return {
    provider: client.provider,
    entryPoint: layout.entryPoint,
    ...(values ? { values } : {}),
    async getAllRoutes() {
      await ready;
      if (await refresh()) return cache.routes();
      return routesFromKv(await wrap("read routes", readAllFields), layout).routes;
    },
    async getRoute(routespec: string) {
      await ready;
      const record = recordPrefix(routespec, layout).slice(0, -1);
      // A whole-table load is not worth it for one route: use the cache only once it is loaded.
      if (cache.loaded && await refresh()) return cache.record(record);
      const pairs = await wrap("read a route", () => readRecordKeys([record]));
      return routeFromRecord(pairs, record);
    },
    apply(change: RouteChange) {
      if (closed) return Promise.reject(new StoreError(`the ${client.provider} store is closed`));
      return changes.push(change);
    },
    get watchResets() {
      return watchResets;
    },
    rewriteTraefikKeys(change) {
      if (layout.traefikKeys === false) return Promise.resolve();
      return wrap("rewrite traefik's keys", async () => {
        const own = `${layout.traefikPrefix}/`;
        const groups: KvDiff[] = change.set.map((route) => ({
          set: new Map([...routeKeys(route, layout)].filter(([key]) => key.startsWith(own))),
          delete: [],
        }));
        for (const routespec of change.delete) {
          const prefixes = traefikKeyPrefixes(routespec, layout);
          const found = await Promise.all(prefixes.map((prefix) => client.getPrefix(prefix)));
          const keys = found.flatMap((pairs) => [...pairs.keys()]);
          if (keys.length > 0) groups.push({ set: new Map(), delete: keys });
        }
        if (groups.length > 0) await client.commit(groups);
      });
    },
    async mirror(target) {
      if (!watch) {
        throw new StoreError(
          `${client.provider}: the routes cannot be followed without a watch of the store`,
        );
      }
      // What the target was given, by record; the records changed since (all after a reset).
      // A route the target does not want counts as absent (`MirrorTarget.wants`).
      const wanted = (route: Route) => target.wants?.(route) ?? true;
      let fed = new Map<string, Route>();
      let changed = new Set<string>();
      let everything = true; // the first pass hands the whole table, even an empty one
      let stopped = false;
      // One pass: bring the copy up to date, then hand the target what differs from what it
      // was given last, looking only at the records reported changed: a pass costs the same at
      // any table size. The copy's routes are the same objects while their records are unchanged.
      const passes = coalescer<void>({
        async commit() {
          queued = false; // what is reported from now on needs a pass of its own
          await ready;
          if (stopped) return;
          // The copy holds every change the watch reported, in order: a pass over records that
          // came with their values (this process's own writes) needs no round trip to the
          // store. Otherwise (values missing, a reset, the whole table) it is brought up to date;
          // the watch is down when it cannot be, and its return wakes us.
          const current = !everything && cache.loaded && cache.dirty.size === 0;
          if (!current && !await refresh()) return;
          const whole = everything;
          const records = whole ? undefined : changed;
          everything = false;
          changed = new Set();
          // Records still dirty (changed again during the last read) are not known yet: they
          // keep what the target was given and go in the next pass.
          const unknown = new Set(cache.dirty);
          const set: Route[] = [];
          const gone: string[] = [];
          let next = fed;
          if (records === undefined) {
            next = new Map();
            for (const [record, route] of cache.entries()) {
              if (unknown.has(record) || !wanted(route)) continue;
              next.set(record, route);
              if (fed.get(record) !== route) set.push(route);
            }
            for (const [record, route] of fed) {
              if (unknown.has(record)) next.set(record, route);
              else if (!next.has(record)) gone.push(route.routespec);
            }
          }
          const updates: [string, Route | undefined][] = [];
          for (const record of unknown) changed.add(record);
          if (unknown.size > 0) wake();
          for (const record of records ?? []) {
            if (unknown.has(record)) continue;
            const found = cache.record(record);
            const now = found !== undefined && wanted(found) ? found : undefined;
            const before = fed.get(record);
            if (now === before) continue;
            if (before && before.routespec !== now?.routespec) gone.push(before.routespec);
            if (now) set.push(now);
            updates.push([record, now]);
          }
          if (whole || set.length > 0 || gone.length > 0) {
            try {
              await target.apply({ set, delete: gone });
            } catch (error) {
              // Not handed on: the next pass hands everything again.
              everything = true;
              throw error;
            }
          }
          // Only what the target took counts as fed.
          for (const [record, route] of updates) {
            if (route) next.set(record, route);
            else next.delete(record);
          }
          fed = next;
        },
      });
      // One pass queued at a time: the watch reports a route's keys one by one, and a pass
      // that has not started yet covers every record reported before it does.
      let queued = false;
      function wake(): void {
        if (queued) return;
        queued = true;
        passes.push().catch((error) =>
          log(`${client.provider}: cannot pass route changes on: ${(error as Error).message}`)
        );
      }
      const follow = (record?: string) => {
        if (record === undefined) everything = true;
        else changed.add(record);
        wake();
      };
      followers.add(follow);
      try {
        await passes.push();
      } catch (error) {
        // Not mirrored after all: nothing may feed the target.
        stopped = true;
        followers.delete(follow);
        throw error;
      }
      return {
        async close() {
          stopped = true;
          followers.delete(follow);
          await passes.idle();
          // What was handed on: nothing reads it any more (10,000 routes: a 0.5 MB table).
          fed = new Map();
          changed = new Set();
        },
      };
    },
    async close() {
      closed = true;
      followers.clear();
      await changes.idle();
      await watch?.close().catch(() => {});
      await client.close();
    },
  };
}
