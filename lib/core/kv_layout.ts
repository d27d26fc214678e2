/**
 * The key-value layout of routes (redis, etcd), compatible with the Python
 * jupyterhub-traefik-proxy 2.x:
 *
 * ```text
 * traefik/http/routers/<router>/{rule,service,entryPoints/0,priority}
 * traefik/http/services/<service>/loadBalancer/{servers/0/url,passHostHeader}
 * jupyterhub/routes/<router>/{routespec,target,router,service,last_activity,rule}
 * jupyterhub/routes/<router>/data/<key>...   data as strings, as the Python proxy writes it
 * jupyterhub/routes/<router>/data_json       the same data as JSON, so types survive
 * ```
 *
 * `rule` is the rule this proxy wrote to traefik's keys: a change to the route rewrites all of
 * traefik's keys when it differs (the Python proxy's routes, an earlier version's rules).
 *
 * The Python proxy reads `routespec`, `target` and `data` and ignores the rest; routes it wrote
 * (without `data_json`) read back here with string values.
 *
 * @module
 */

import { diff, flatten, type KvDiff, unflatten } from "./kv.ts";
import { isPlainObject } from "./tree.ts";
import { routerName, serviceName } from "./names.ts";
import { routeParts, sentinelConfig } from "./route_config.ts";
import { parseRoutespec } from "./routespec.ts";
import type { ConfigTree, Route, RouteData } from "./types.ts";

/** Prefixes and entry point of a key-value layout. */
export interface KvLayoutOptions {
  /** Root key that traefik's provider reads (`rootKey`); default `traefik`. */
  traefikPrefix: string;
  /** Root key of the route records; default `jupyterhub`. */
  jupyterhubPrefix: string;
  /** Public entry point name. */
  entryPoint: string;
  /** The servers transport of every route's service (`RouteConfigOptions`); default none. */
  serversTransport?: string;
  /**
   * Write traefik's router and service keys beside each record, for a traefik (or the Python
   * proxy) that reads the store itself; default true. Without them a record has no `rule`
   * either, so that keys written again later are all written.
   */
  traefikKeys?: boolean;
}

/**
 * The key prefix under which one route's record lives (with a trailing `/`).
 *
 * @example
 * ```ts
 * import { recordPrefix } from "./kv_layout.ts";
 * recordPrefix("/a/", { traefikPrefix: "traefik", jupyterhubPrefix: "jupyterhub", entryPoint: "http" });
 * // "jupyterhub/routes/router__2Fa_2F/"
 * ```
 */
export function recordPrefix(routespec: string, options: KvLayoutOptions): string {
  return `${options.jupyterhubPrefix}/routes/${routerName(routespec)}/`;
}

/**
 * The key prefixes (each with a trailing `/`) of traefik's router and service of one route.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { traefikKeyPrefixes } from "./kv_layout.ts";
 * const layout = { traefikPrefix: "traefik", jupyterhubPrefix: "jupyterhub", entryPoint: "http" };
 * assert.deepEqual(traefikKeyPrefixes("/a/", layout), [
 *   "traefik/http/routers/router__2Fa_2F/",
 *   "traefik/http/services/service__2Fa_2F/",
 * ]);
 * ```
 */
export function traefikKeyPrefixes(routespec: string, options: KvLayoutOptions): [string, string] {
  return [
    `${options.traefikPrefix}/http/routers/${routerName(routespec)}/`,
    `${options.traefikPrefix}/http/services/${serviceName(routespec)}/`,
  ];
}

/**
 * Every key of one route.
 *
 * @example
 * ```ts
 * import { routeKeys } from "./kv_layout.ts";
 * const keys = routeKeys(
 *   { routespec: "/a/", target: "http://127.0.0.1:1", data: { hub: true } },
 *   { traefikPrefix: "traefik", jupyterhubPrefix: "jupyterhub", entryPoint: "http" },
 * );
 * keys.get("jupyterhub/routes/router__2Fa_2F/data/hub"); // "true"
 * ```
 * @throws {RoutespecError} when the routespec is invalid.
 */
export function routeKeys(route: Route, options: KvLayoutOptions): Map<string, string> {
  const parts = routeParts(route, options);
  const prefix = recordPrefix(route.routespec, options).slice(0, -1);
  if (options.traefikKeys === false) {
    const record: ConfigTree = { ...parts.record };
    if (Object.keys(route.data).length > 0) record.data_json = JSON.stringify(route.data);
    return flatten(record, prefix);
  }
  const traefik = flatten({
    http: {
      routers: { [parts.routerName]: parts.router },
      services: { [parts.serviceName]: parts.service },
    },
  }, options.traefikPrefix);
  // The rule beside the record tells a later change whether traefik's keys are this version's.
  const record: ConfigTree = { ...parts.record, rule: parts.router.rule };
  if (Object.keys(route.data).length > 0) record.data_json = JSON.stringify(route.data);
  const records = flatten(record, prefix);
  for (const [key, value] of records) traefik.set(key, value);
  return traefik;
}

/**
 * The sentinel router's keys (see `sentinelConfig`): a store that always has them never loses
 * its last key, a deletion traefik would not notice.
 *
 * @example
 * ```ts
 * import { sentinelKeys } from "./kv_layout.ts";
 * sentinelKeys({ traefikPrefix: "traefik", jupyterhubPrefix: "jupyterhub", entryPoint: "http" });
 * ```
 */
export function sentinelKeys(options: KvLayoutOptions): Map<string, string> {
  return flatten(sentinelConfig(options), options.traefikPrefix);
}

/**
 * Reads one route from the keys under its record prefix; undefined when there is no valid
 * record. JSON types come from `data_json`; without it (the Python proxy's records), data is the
 * string tree.
 *
 * @example
 * ```ts
 * import { routeFromRecord } from "./kv_layout.ts";
 * routeFromRecord(new Map([
 *   ["jupyterhub/routes/r/routespec", "/a/"],
 *   ["jupyterhub/routes/r/target", "http://h:1"],
 *   ["jupyterhub/routes/r/data/user", "a"],
 * ]), "jupyterhub/routes/r");
 * // { routespec: "/a/", target: "http://h:1", data: { user: "a" } }
 * ```
 */
export function routeFromRecord(pairs: Map<string, string>, prefix: string): Route | undefined {
  const json = pairs.get(`${prefix}/data_json`);
  if (json !== undefined) {
    // Our own records: four keys, no tree to rebuild.
    const route = routeFromFields(
      pairs.get(`${prefix}/routespec`),
      pairs.get(`${prefix}/target`),
      json,
      pairs.get(`${prefix}/last_activity`),
    );
    if (route) return route;
  }
  const tree = unflatten(pairs, prefix);
  if (typeof tree.routespec !== "string" || typeof tree.target !== "string") return undefined;
  let routespec: string;
  try {
    routespec = parseRoutespec(tree.routespec).routespec;
  } catch {
    return undefined;
  }
  let data: RouteData | undefined;
  if (typeof tree.data_json === "string") {
    try {
      const parsed = JSON.parse(tree.data_json);
      if (isPlainObject(parsed)) data = parsed as RouteData;
    } catch {
      // fall back to the string tree
    }
  }
  data ??= isPlainObject(tree.data) ? JSON.parse(JSON.stringify(tree.data)) as RouteData : {};
  const route: Route = { routespec, target: tree.target, data };
  if (typeof tree.last_activity === "string") route.lastActivity = tree.last_activity;
  return route;
}

function routeFromFields(
  routespec: string | undefined,
  target: string | undefined,
  json: string,
  lastActivity: string | undefined,
): Route | undefined {
  if (routespec === undefined || target === undefined) return undefined;
  let data: unknown;
  try {
    data = JSON.parse(json);
    routespec = parseRoutespec(routespec).routespec;
  } catch {
    return undefined;
  }
  if (!isPlainObject(data)) return undefined;
  const route: Route = { routespec, target, data: data as RouteData };
  if (lastActivity !== undefined) route.lastActivity = lastActivity;
  return route;
}

/**
 * The record keys `routeFromRecord` needs when a record has `data_json` (else it needs the
 * `data/...` keys too).
 */
export const RECORD_FIELDS = ["routespec", "target", "data_json", "last_activity"] as const;

/**
 * Every field a record holds besides its `data/...` keys, as this proxy and the Python proxy
 * write them: `RECORD_FIELDS` and `router`, `service`, `rule`. A store that cannot list a
 * record's keys cheaply (redis lists the whole keyspace) reads these by name.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { RECORD_FIELDS, RECORD_KEYS } from "./kv_layout.ts";
 * for (const field of RECORD_FIELDS) assert.ok(RECORD_KEYS.includes(field));
 * assert.ok(RECORD_KEYS.includes("rule"));
 * ```
 */
export const RECORD_KEYS = [...RECORD_FIELDS, "router", "service", "rule"] as const;

/**
 * A record read by name (`RECORD_KEYS`), completed with the `data/...` keys its `data_json`
 * implies: this proxy writes both in one transaction, so the record's keys are then known
 * without listing them. A record without `data_json` (the Python proxy's) is returned as it is:
 * its `data/...` keys must have been listed. Returns a new map.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { completeRecord } from "./kv_layout.ts";
 * const layout = { traefikPrefix: "traefik", jupyterhubPrefix: "jupyterhub", entryPoint: "http" };
 * const record = "jupyterhub/routes/router__2Fa_2F";
 * const pairs = completeRecord(new Map([
 *   [`${record}/routespec`, "/a/"],
 *   [`${record}/target`, "http://h:1"],
 *   [`${record}/data_json`, '{"user":"a"}'],
 * ]), { record, layout });
 * assert.equal(pairs.get(`${record}/data/user`), "a");
 * ```
 */
export function completeRecord(
  pairs: Map<string, string>,
  options: { record: string; layout: KvLayoutOptions },
): Map<string, string> {
  const { record, layout } = options;
  const out = new Map(pairs);
  if (!pairs.has(`${record}/data_json`)) return out;
  const route = routeFromRecord(pairs, record);
  if (!route) return out;
  const data = `${record}/data/`;
  for (const [key, value] of routeKeys(route, layout)) {
    if (key.startsWith(data) && !out.has(key)) out.set(key, value);
  }
  return out;
}

/** Routes read from key-value pairs, and the records that could not be read. */
export interface KvRoutes {
  /** Routes by normalised routespec. */
  routes: Map<string, Route>;
  /** Record prefixes that were skipped. */
  skipped: string[];
}

/**
 * Reads every route from the pairs under `<jupyterhubPrefix>/routes/`.
 *
 * @example
 * ```ts
 * import { routesFromKv } from "./kv_layout.ts";
 * routesFromKv(new Map(), { traefikPrefix: "traefik", jupyterhubPrefix: "jupyterhub", entryPoint: "http" });
 * ```
 */
export function routesFromKv(pairs: Map<string, string>, options: KvLayoutOptions): KvRoutes {
  const routes = new Map<string, Route>();
  const skipped: string[] = [];
  for (const [prefix, group] of groupRecords(pairs, options)) {
    const route = routeFromRecord(group, prefix);
    if (route) routes.set(route.routespec, route);
    else skipped.push(prefix);
  }
  return { routes, skipped };
}

/**
 * Splits pairs under `<jupyterhubPrefix>/routes/` by record, in one pass: record prefix (without
 * the trailing `/`) to that record's pairs.
 *
 * @example
 * ```ts
 * import { groupRecords } from "./kv_layout.ts";
 * groupRecords(new Map([["jupyterhub/routes/r/target", "http://h:1"]]), {
 *   traefikPrefix: "traefik",
 *   jupyterhubPrefix: "jupyterhub",
 *   entryPoint: "http",
 * }); // Map { "jupyterhub/routes/r" => Map { "jupyterhub/routes/r/target" => "http://h:1" } }
 * ```
 */
export function groupRecords(
  pairs: Map<string, string>,
  options: KvLayoutOptions,
): Map<string, Map<string, string>> {
  const groups = new Map<string, Map<string, string>>();
  for (const [key, value] of pairs) {
    const prefix = splitRecordKey(key, options)?.[0];
    if (prefix === undefined) continue;
    let group = groups.get(prefix);
    if (!group) groups.set(prefix, group = new Map());
    group.set(key, value);
  }
  return groups;
}

/**
 * Splits a key under `<jupyterhubPrefix>/routes/` into its record prefix (without the trailing
 * `/`) and its field; undefined for any other key.
 *
 * @example
 * ```ts
 * import { splitRecordKey } from "./kv_layout.ts";
 * splitRecordKey("jupyterhub/routes/r/data/user", {
 *   traefikPrefix: "traefik",
 *   jupyterhubPrefix: "jupyterhub",
 *   entryPoint: "http",
 * }); // ["jupyterhub/routes/r", "data/user"]
 * ```
 */
export function splitRecordKey(
  key: string,
  options: KvLayoutOptions,
): [record: string, field: string] | undefined {
  const base = `${options.jupyterhubPrefix}/routes/`;
  if (!key.startsWith(base)) return undefined;
  const slash = key.indexOf("/", base.length);
  if (slash < 0) return undefined;
  return [key.slice(0, slash), key.slice(slash + 1)];
}

/**
 * The key changes that replace a route's stored keys with its new ones. `before` is the stored
 * route (if any) and `stored` its record's pairs as found (a record written by another program
 * may hold keys ours would not); `after` is the new route, or undefined to delete it. traefik's
 * keys are not read: they are taken to be what this version writes for `before` when the
 * record's `rule` says so, and are all written again otherwise (a route written by the Python
 * proxy or by an earlier version with another rule).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { routeChange } from "./kv_layout.ts";
 * const options = { traefikPrefix: "traefik", jupyterhubPrefix: "jupyterhub", entryPoint: "http" };
 * const change = routeChange(undefined, new Map(), { routespec: "/a/", target: "http://h:1", data: {} }, options);
 * assert.equal(change.set.get("traefik/http/routers/router__2Fa_2F/service"), "service__2Fa_2F");
 * ```
 */
export function routeChange(
  before: Route | undefined,
  stored: Map<string, string>,
  after: Route | undefined,
  options: KvLayoutOptions,
): KvDiff {
  const old = new Map<string, string>();
  if (before) {
    const record = recordPrefix(before.routespec, options);
    // traefik's keys as this version writes them, whether or not they are written now.
    const rendered = routeKeys(before, { ...options, traefikKeys: true });
    const current = stored.get(`${record}rule`) === rendered.get(`${record}rule`);
    for (const [key, value] of rendered) {
      if (!key.startsWith(record)) old.set(key, current ? value : UNKNOWN);
    }
  }
  for (const [key, value] of stored) old.set(key, value);
  return diff(old, after ? routeKeys(after, options) : new Map());
}

const UNKNOWN = "\u0000unknown";

/**
 * The key changes that make a route's record exactly `after` when its stored keys are known
 * only by name (a watched copy whose values may lag the store): every key of `after` is written,
 * and every key in `known`, the record's `RECORD_KEYS` and the record keys of `before` (its
 * `data/...` keys) that `after` does not have is deleted. Unlike `routeChange`, nothing is taken
 * to be stored already, so the result is right whatever values the store holds under those
 * names.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { routeRewrite } from "./kv_layout.ts";
 * const options = { traefikPrefix: "traefik", jupyterhubPrefix: "jupyterhub", entryPoint: "http" };
 * const before = { routespec: "/a/", target: "http://h:1", data: { user: "a" } };
 * const after = { routespec: "/a/", target: "http://h:2", data: {} };
 * const known = ["jupyterhub/routes/router__2Fa_2F/data/user"];
 * const change = routeRewrite({ before, known, after }, options);
 * assert.equal(change.set.get("jupyterhub/routes/router__2Fa_2F/routespec"), "/a/");
 * // Deleted: the data key `after` lacks, and every field it does not write (no data, no activity).
 * assert.deepEqual(change.delete.sort(), [
 *   "jupyterhub/routes/router__2Fa_2F/data/user",
 *   "jupyterhub/routes/router__2Fa_2F/data_json",
 *   "jupyterhub/routes/router__2Fa_2F/last_activity",
 * ]);
 * ```
 */
export function routeRewrite(
  record: { before: Route | undefined; known: Iterable<string>; after: Route },
  options: KvLayoutOptions,
): KvDiff {
  const prefix = recordPrefix(record.after.routespec, options);
  const stored = new Map<string, string>();
  for (const field of RECORD_KEYS) stored.set(`${prefix}${field}`, UNKNOWN);
  // The record's keys as this version writes `before` (its data/... keys: a copy filled by a
  // listing of the routes' fields holds data_json, not the keys it implies).
  if (record.before) {
    for (const key of routeKeys(record.before, options).keys()) {
      if (key.startsWith(prefix)) stored.set(key, UNKNOWN);
    }
  }
  for (const key of record.known) stored.set(key, UNKNOWN);
  return routeChange(record.before, stored, record.after, options);
}

/** A record stored under another name than its canonical routespec's. */
export interface MisnamedRecord {
  /** Its record prefix (without the trailing `/`). */
  prefix: string;
  /** The routespec as stored (another spelling of the canonical one). */
  storedRoutespec: string;
  /** The route, with its canonical routespec. */
  route: Route;
}

/**
 * The records whose name is not that of their canonical routespec: routes written by an
 * earlier version of this proxy with a routespec in another spelling (`/user/a$b/` for the
 * canonical `/user/a%24b/`). Until they move (see `recordMove`), a change to the canonical
 * routespec would not find them.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { misnamedRecords } from "./kv_layout.ts";
 * const found = misnamedRecords(new Map([
 *   ["jupyterhub/routes/router__2Fa_24_2F/routespec", "/a$/"],
 *   ["jupyterhub/routes/router__2Fa_24_2F/target", "http://h:1"],
 * ]), { traefikPrefix: "traefik", jupyterhubPrefix: "jupyterhub", entryPoint: "http" });
 * assert.equal(found[0].route.routespec, "/a%24/");
 * ```
 */
export function misnamedRecords(
  pairs: Map<string, string>,
  options: KvLayoutOptions,
): MisnamedRecord[] {
  // The name is checked from the routespec key alone: at start every record passes here, and
  // its other keys are gathered only for the few that moved.
  const stored = new Map<string, string>();
  for (const key of pairs.keys()) { // keys alone: no [key, value] array for each of 100,000s
    if (!key.endsWith("/routespec")) continue;
    const [prefix, field] = splitRecordKey(key, options) ?? [];
    if (prefix === undefined || field !== "routespec") continue;
    const value = pairs.get(key)!;
    let canonical: string;
    try {
      canonical = parseRoutespec(value).routespec;
    } catch {
      continue; // not a record this proxy can read; reads skip it too
    }
    if (prefix !== recordPrefix(canonical, options).slice(0, -1)) stored.set(prefix, value);
  }
  if (stored.size === 0) return [];
  const theirs = new Map<string, string>();
  for (const key of pairs.keys()) {
    const prefix = splitRecordKey(key, options)?.[0];
    if (prefix !== undefined && stored.has(prefix)) theirs.set(key, pairs.get(key)!);
  }
  const found: MisnamedRecord[] = [];
  for (const [prefix, group] of groupRecords(theirs, options)) {
    const route = routeFromRecord(group, prefix);
    if (route) found.push({ prefix, storedRoutespec: stored.get(prefix)!, route });
  }
  return found;
}

/**
 * The key changes that move a misnamed record to its canonical name: its record keys
 * (`recordKeys`, all that were found) and its traefik router and service go, and the route is
 * written under the canonical names unless `keepCanonical` (a canonical record exists already
 * and wins).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { recordMove } from "./kv_layout.ts";
 * const options = { traefikPrefix: "traefik", jupyterhubPrefix: "jupyterhub", entryPoint: "http" };
 * const move = recordMove({
 *   prefix: "jupyterhub/routes/router__2Fa_24_2F",
 *   storedRoutespec: "/a$/",
 *   route: { routespec: "/a%24/", target: "http://h:1", data: {} },
 * }, ["jupyterhub/routes/router__2Fa_24_2F/target"], { keepCanonical: false }, options);
 * assert.ok(move.delete.includes("traefik/http/routers/router__2Fa_24_2F/rule"));
 * assert.equal(move.set.get("jupyterhub/routes/router__2Fa_2524_2F/routespec"), "/a%24/");
 * ```
 */
export function recordMove(
  record: MisnamedRecord,
  recordKeys: Iterable<string>,
  move: { keepCanonical: boolean },
  options: KvLayoutOptions,
): KvDiff {
  const keys = routeKeys(record.route, options);
  const renames: [string, string][] = [
    [
      `${options.traefikPrefix}/http/routers/${routerName(record.route.routespec)}/`,
      `${options.traefikPrefix}/http/routers/${
        record.prefix.slice(record.prefix.lastIndexOf("/") + 1)
      }/`,
    ],
    [
      `${options.traefikPrefix}/http/services/${serviceName(record.route.routespec)}/`,
      `${options.traefikPrefix}/http/services/${serviceName(record.storedRoutespec)}/`,
    ],
  ];
  const gone = new Set(recordKeys);
  for (const key of keys.keys()) {
    for (const [from, to] of renames) {
      if (key.startsWith(from)) gone.add(to + key.slice(from.length));
    }
  }
  return { set: move.keepCanonical ? new Map() : keys, delete: [...gone] };
}

/**
 * A key prefix as the layout uses it (traefik's `rootKey`, the records' root): without leading or
 * trailing slashes, whatever the operator wrote.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { trimKeyPrefix } from "./kv_layout.ts";
 * assert.equal(trimKeyPrefix("/traefik/"), "traefik");
 * assert.equal(trimKeyPrefix("hub//routes//"), "hub//routes");
 * ```
 */
export function trimKeyPrefix(prefix: string): string {
  return prefix.replace(/^\/+|\/+$/g, "");
}
