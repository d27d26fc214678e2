/**
 * The routing table as a data plane reads it: which route a request goes to, by the rules
 * traefik applies to the routers this proxy writes. A request matches a route when the route's
 * path is a whole-segment prefix of the request's path (both in canonical form, so every
 * spelling of a reserved character is the same path) and, for a host route, the request's host
 * is the route's host (case-insensitive, without port); among the matches the route with the
 * highest priority (`routePriority`: the longest) wins, as in traefik.
 *
 * @module
 */

import { routePriority, routingHost } from "./rule.ts";
import { canonicalSegment, parseRoutespec } from "./routespec.ts";
import type { Route, RouteChange } from "./types.ts";

/** A request as the index matches it. */
export interface RequestTarget {
  /** The path as the client sent it (percent-encoding as received), without the query. */
  path: string;
  /** The Host header (a port and a trailing dot are ignored); none matches only path routes. */
  host?: string | null;
}

/** See `routeIndex`. */
export interface RouteIndex {
  /** Number of routes. */
  readonly size: number;
  /** The route with this canonical routespec, or undefined. */
  get(routespec: string): Route | undefined;
  /** Applies a batch of changes (first `set`, then `delete`), as a store does. */
  apply(change: RouteChange): void;
  /** The route a request goes to, or undefined when none matches. */
  match(request: RequestTarget): Route | undefined;
}

interface Entry {
  route: Route;
  priority: number;
  key: string;
}

// "host/path" with the host lowercased, without port or trailing dot; the path alone otherwise.
function indexKey(host: string | undefined, path: string): string {
  return host === undefined ? path : routingHost(host) + path;
}

/**
 * Creates an empty index.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { routeIndex } from "./route_index.ts";
 * const index = routeIndex();
 * const target = "http://127.0.0.1:9000";
 * index.apply({
 *   set: [
 *     { routespec: "/", target: "http://127.0.0.1:8081", data: {} },
 *     { routespec: "/user/a%24b/", target, data: {} },
 *   ],
 * });
 * assert.equal(index.match({ path: "/user/a$b/lab" })?.target, target);
 * assert.equal(index.match({ path: "/user/a%24b" })?.target, target);
 * assert.equal(index.match({ path: "/user/a$bc" })?.routespec, "/");
 * index.apply({ delete: ["/"] });
 * assert.equal(index.match({ path: "/hub/" }), undefined);
 * assert.equal(index.size, 1);
 * ```
 */
export function routeIndex(): RouteIndex {
  // Several routespecs share a key only when their hosts differ in case or port: the last set
  // is the one matched, as the index cannot tell them apart either.
  // A key's entries: one entry (nearly always), or several in the order set.
  const byKey = new Map<string, Entry | Entry[]>();
  const bySpec = new Map<string, Entry>();

  function remove(routespec: string): void {
    const found = bySpec.get(routespec);
    if (!found) return;
    bySpec.delete(routespec);
    const at = byKey.get(found.key)!;
    const entries = Array.isArray(at) ? at.filter((entry) => entry !== found) : [];
    if (entries.length === 0) byKey.delete(found.key);
    else byKey.set(found.key, entries.length === 1 ? entries[0] : entries);
  }

  function set(route: Route): void {
    const spec = parseRoutespec(route.routespec);
    remove(spec.routespec);
    // The route's own routespec string as the key when it is one (most are): one string less.
    const built = indexKey(spec.host, spec.path);
    const key = built === route.routespec ? route.routespec : built;
    const entry = { route, priority: routePriority(spec), key };
    bySpec.set(spec.routespec, entry);
    const at = byKey.get(key);
    byKey.set(key, at === undefined ? entry : [...Array.isArray(at) ? at : [at], entry]);
  }

  return {
    get size() {
      return bySpec.size;
    },
    get(routespec) {
      return bySpec.get(routespec)?.route;
    },
    apply(change) {
      for (const route of change.set ?? []) set(route);
      for (const routespec of change.delete ?? []) remove(routespec);
    },
    match(request) {
      const host = request.host ? routingHost(request.host) : undefined;
      let best: Entry | undefined;
      const consider = (key: string) => {
        const at = byKey.get(key);
        const entry = Array.isArray(at) ? at[at.length - 1] : at;
        if (entry && (!best || entry.priority > best.priority)) best = entry;
      };
      const raw = request.path.split("/");
      let prefix = "/";
      // raw[0] is the empty string before the leading "/"; an empty last segment is the
      // trailing slash.
      for (let i = 1;; i++) {
        consider(prefix);
        if (host !== undefined) consider(host + prefix);
        if (i >= raw.length || raw[i] === "") break;
        const segment = canonicalSegment(raw[i]);
        if (segment === undefined) break;
        prefix += segment + "/";
      }
      return best?.route;
    },
  };
}

/**
 * The routespecs whose requests include every request of `routespec` (its proper prefixes,
 * whole segments; for a host route also the path routes that are prefixes of its path): while
 * traefik has a router for one of them and none yet for `routespec`, traefik sends the new
 * route's requests there.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { routespecPrefixes } from "./route_index.ts";
 * assert.deepEqual(routespecPrefixes("/user/a/b/"), ["/", "/user/", "/user/a/"]);
 * assert.deepEqual(routespecPrefixes("h.example/user/"), ["h.example/", "/", "/user/"]);
 * ```
 * @throws {RoutespecError} for an invalid routespec.
 */
export function routespecPrefixes(routespec: string): string[] {
  const spec = parseRoutespec(routespec);
  const segments = spec.path.split("/").slice(1, -1);
  const paths: string[] = [];
  let path = "/";
  for (const segment of segments) {
    paths.push(path);
    path += segment + "/";
  }
  if (spec.host === undefined) return paths;
  return [...paths.map((p) => spec.host + p), ...paths, path];
}
