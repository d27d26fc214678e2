/**
 * Drift: where the routers and services traefik serves differ from the routing table. traefik
 * can diverge silently from a store it reads itself (its redis provider misses deletions in some
 * versions, ignores the deletion of the last key, stays stale after a sentinel failover), and
 * anyone can edit a file behind the proxy's back. Compared here from traefik's `/api/rawdata`.
 *
 * @module
 */

import { routerName, routespecOfRouter, serviceName } from "./names.ts";
import type { Route } from "./types.ts";

/** The part of traefik's `/api/rawdata` that drift is computed from. */
export interface TraefikRawData {
  /** Routers by `name@provider`. */
  routers?: Record<string, { rule?: string; service?: string }>;
  /** Services by `name@provider`. */
  services?: Record<string, { loadBalancer?: { servers?: { url?: string }[] } }>;
}

/** What differs, by routespec. */
export interface Drift {
  /** Routes whose router or service traefik lacks, or whose service has another target. */
  missing: Route[];
  /** Routespecs of routers traefik serves that the table does not have. */
  stray: string[];
}

/** Options of `routeDrift`. */
export interface RouteDriftOptions {
  /** The provider traefik knows the routes by (`router@<provider>`). */
  provider: string;
  /** The URL traefik reaches a target at, when not the target itself. */
  targetUrl?: (target: string) => string;
}

/**
 * Compares the table with what traefik serves.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { routeDrift } from "./drift.ts";
 * const table = new Map([
 *   ["/user/a/", { routespec: "/user/a/", target: "http://127.0.0.1:9001", data: {} }],
 *   ["/user/b/", { routespec: "/user/b/", target: "http://127.0.0.1:9002", data: {} }],
 * ]);
 * const drift = routeDrift(table, {
 *   routers: {
 *     "router__2Fuser_2Fa_2F@redis": { service: "service__2Fuser_2Fa_2F" },
 *     "router__2Fuser_2Fgone_2F@redis": { service: "service__2Fuser_2Fgone_2F" },
 *     "jupyterhub-sentinel@redis": {},
 *   },
 *   services: {
 *     "service__2Fuser_2Fa_2F@redis": { loadBalancer: { servers: [{ url: "http://127.0.0.1:9001" }] } },
 *   },
 * }, { provider: "redis" });
 * assert.deepEqual(drift.missing.map((route) => route.routespec), ["/user/b/"]);
 * assert.deepEqual(drift.stray, ["/user/gone/"]);
 * ```
 */
export function routeDrift(
  table: Map<string, Route>,
  raw: TraefikRawData,
  options: RouteDriftOptions,
): Drift {
  const suffix = `@${options.provider}`;
  const routers = raw.routers ?? {};
  const services = raw.services ?? {};
  const missing: Route[] = [];
  for (const route of table.values()) {
    const router = routers[routerName(route.routespec) + suffix];
    const service = services[serviceName(route.routespec) + suffix];
    const url = options.targetUrl?.(route.target) ?? route.target;
    const servers = service?.loadBalancer?.servers ?? [];
    if (!router || servers.length !== 1 || servers[0].url !== url) missing.push(route);
  }
  const stray: string[] = [];
  for (const name of Object.keys(routers)) {
    if (!name.endsWith(suffix)) continue;
    const routespec = routespecOfRouter(name.slice(0, -suffix.length));
    if (routespec !== undefined && !table.has(routespec)) stray.push(routespec);
  }
  return { missing, stray };
}

/**
 * The drift found in both of two looks, `first` and `second` (taken a moment apart): what
 * traefik was only about to load is not drift. A route counts when it is missing in both with
 * the same target.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { lastingDrift } from "./drift.ts";
 * const a = { routespec: "/a/", target: "http://127.0.0.1:1", data: {} };
 * const b = { routespec: "/b/", target: "http://127.0.0.1:2", data: {} };
 * const lasting = lastingDrift({ missing: [a, b], stray: ["/x/"] }, { missing: [a], stray: ["/x/", "/y/"] });
 * assert.deepEqual(lasting, { missing: [a], stray: ["/x/"] });
 * ```
 */
export function lastingDrift(first: Drift, second: Drift): Drift {
  const earlier = new Map(first.missing.map((route) => [route.routespec, route.target]));
  const strays = new Set(first.stray);
  return {
    missing: second.missing.filter((route) => earlier.get(route.routespec) === route.target),
    stray: second.stray.filter((routespec) => strays.has(routespec)),
  };
}
