/**
 * An in-process copy of the route records of a key-value store, kept current by the store's
 * change events (redis keyspace notifications, an etcd watch). Pure bookkeeping, no I/O: the
 * store feeds it the pairs it reads and the changes it is told about, and asks it which records
 * must be read again.
 *
 * A change reported with its value (etcd events, this process's own writes) is applied at
 * once; a change reported without one (another process's redis write) marks the record dirty,
 * to be read again before the next answer. A change that arrives while a read is under way
 * marks its record dirty too, since the read may predate it.
 *
 * @module
 */

import {
  type KvLayoutOptions,
  RECORD_FIELDS,
  routeFromRecord,
  splitRecordKey,
} from "./kv_layout.ts";
import type { Route } from "./types.ts";

/** The value a change event carries: a string, `null` for a deletion, `undefined` if unknown. */
export type ChangedValue = string | null | undefined;

/** Marks the start of a read, for `RouteCache.load` and `RouteCache.loadRecords`. */
export interface ReadTicket {
  /** The cache's epoch when the read started; a reset in between voids the read. */
  readonly epoch: number;
}

/** See `routeCache`. */
export interface RouteCache {
  /** Whether the cache holds the whole table (a full load since the last reset). */
  readonly loaded: boolean;
  /** Records (prefix without trailing `/`) to read again before answering. */
  readonly dirty: ReadonlySet<string>;
  /** Call before reading from the store; hand the ticket to `load` or `loadRecords`. */
  beginRead(): ReadTicket;
  /** Replaces the whole table with pairs read under `<jupyterhubPrefix>/routes/`. */
  load(pairs: Map<string, string>, ticket: ReadTicket): boolean;
  /** Replaces the given records with pairs read under their prefixes. */
  loadRecords(records: Iterable<string>, pairs: Map<string, string>, ticket: ReadTicket): boolean;
  /**
   * A key changed in the store (see `ChangedValue`); returns its record's prefix. Keys outside
   * the routes are ignored (undefined).
   */
  changed(key: string, value: ChangedValue): string | undefined;
  /** Events may have been lost: forget everything until the next full load. */
  reset(): void;
  /** Every route, by routespec (valid only when `loaded` and nothing is dirty). */
  routes(): Map<string, Route>;
  /** The route of one record prefix (valid only when `loaded` and it is not dirty). */
  record(prefix: string): Route | undefined;
  /** Every record prefix with its route, skipping invalid records (valid as `routes()`). */
  entries(): IterableIterator<[string, Route]>;
  /** The pairs the copy holds of one record (valid as `record`): its fields and `data/...`. */
  pairs(prefix: string): Map<string, string>;
}

interface Entry {
  // Field (`target`, `data/user`...), value, field, value...: a record has about six, and a
  // flat array costs a fifth of a Map's table (5.7 MB less at 10,000 routes).
  fields: string[];
  route: Route | undefined | null; // null: to derive again from the fields
}

function fieldIndex(fields: string[], field: string): number {
  for (let i = 0; i < fields.length; i += 2) if (fields[i] === field) return i;
  return -1;
}

/**
 * Creates an empty route cache for a key-value layout.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { routeCache } from "./route_cache.ts";
 * const cache = routeCache({ traefikPrefix: "traefik", jupyterhubPrefix: "jupyterhub", entryPoint: "http" });
 * const ticket = cache.beginRead();
 * cache.load(new Map([
 *   ["jupyterhub/routes/r/routespec", "/a/"],
 *   ["jupyterhub/routes/r/target", "http://h:1"],
 * ]), ticket);
 * cache.changed("jupyterhub/routes/r/target", "http://h:2");
 * assert.deepEqual(cache.routes().get("/a/")?.target, "http://h:2");
 * assert.deepEqual(cache.pairs("jupyterhub/routes/r"), new Map([
 *   ["jupyterhub/routes/r/routespec", "/a/"],
 *   ["jupyterhub/routes/r/target", "http://h:2"],
 * ]));
 * ```
 */
export function routeCache(layout: KvLayoutOptions): RouteCache {
  // The common field names as one shared string each (a name cut from a key would keep the key).
  const fields = new Map<string, string>(RECORD_FIELDS.map((field) => [field, field]));
  let entries = new Map<string, Entry>();
  const dirty = new Set<string>();
  let loaded = false;
  let epoch = 0;
  // Records changed since the current read began (null: no read under way).
  let touched: Set<string> | null = null;

  function split(key: string): [record: string, field: string] | undefined {
    const parts = splitRecordKey(key, layout);
    if (parts) parts[1] = fields.get(parts[1]) ?? parts[1];
    return parts;
  }

  function kept(field: string): boolean {
    return fields.has(field) || field.startsWith("data/");
  }

  function put(record: string, field: string, value: string): void {
    let entry = entries.get(record);
    if (!entry) entries.set(record, entry = { fields: [], route: null });
    const at = fieldIndex(entry.fields, field);
    // A copy of exactly the new length: a push would grow the array's store to 19 slots.
    if (at < 0) entry.fields = [...entry.fields, field, value];
    else entry.fields[at + 1] = value;
    entry.route = null;
  }

  function derive(record: string, entry: Entry): Route | undefined {
    if (entry.route === null) {
      entry.route = routeFromRecord(pairsOf(record, entry), record);
    }
    return entry.route;
  }

  function pairsOf(record: string, entry: Entry | undefined): Map<string, string> {
    const pairs = new Map<string, string>();
    const fields = entry?.fields ?? [];
    for (let i = 0; i < fields.length; i += 2) pairs.set(`${record}/${fields[i]}`, fields[i + 1]);
    return pairs;
  }

  function* routeEntries(): IterableIterator<[string, Route]> {
    for (const [record, entry] of entries) {
      const route = derive(record, entry);
      if (route) yield [record, route];
    }
  }

  function finish(ticket: ReadTicket): boolean {
    const valid = ticket.epoch === epoch;
    if (valid && touched) { for (const record of touched) dirty.add(record); }
    touched = null;
    return valid;
  }

  return {
    get loaded() {
      return loaded;
    },
    dirty,
    beginRead() {
      touched = new Set();
      return { epoch };
    },
    load(pairs, ticket) {
      if (ticket.epoch !== epoch) return finish(ticket);
      entries = new Map();
      dirty.clear();
      for (const [key, value] of pairs) {
        const parts = split(key);
        if (parts && kept(parts[1])) put(parts[0], parts[1], value);
      }
      loaded = true;
      return finish(ticket);
    },
    loadRecords(records, pairs, ticket) {
      if (ticket.epoch !== epoch) return finish(ticket);
      for (const record of records) {
        entries.delete(record);
        dirty.delete(record);
      }
      for (const [key, value] of pairs) {
        const parts = split(key);
        if (parts && kept(parts[1])) put(parts[0], parts[1], value);
      }
      return finish(ticket);
    },
    changed(key, value) {
      const parts = split(key);
      if (!parts) return undefined;
      const [record, field] = parts;
      touched?.add(record);
      if (value === undefined) dirty.add(record);
      else if (!kept(field)) return record;
      else if (value !== null) put(record, field, value);
      else {
        const entry = entries.get(record);
        const at = entry ? fieldIndex(entry.fields, field) : -1;
        if (!entry || at < 0) return record;
        entry.fields.splice(at, 2);
        entry.route = null;
        if (entry.fields.length === 0) entries.delete(record);
      }
      return record;
    },
    reset() {
      epoch++;
      loaded = false;
      entries = new Map();
      dirty.clear();
    },
    routes() {
      const out = new Map<string, Route>();
      for (const [, route] of routeEntries()) out.set(route.routespec, route);
      return out;
    },
    entries: routeEntries,
    record(prefix) {
      const entry = entries.get(prefix);
      return entry ? derive(prefix, entry) : undefined;
    },
    pairs(prefix) {
      return pairsOf(prefix, entries.get(prefix));
    },
  };
}
