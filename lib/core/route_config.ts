/**
 * The traefik dynamic configuration of routes, and the way back from it.
 *
 * Layout (identical to the Python jupyterhub-traefik-proxy 2.x, plus an explicit priority):
 *
 * ```toml
 * [http.routers.router__2Fuser_2Fa_2F]
 * rule = 'Path("/user/a") || PathPrefix("/user/a/")'
 * service = "service__2Fuser_2Fa_2F"
 * entryPoints = ["http"]
 * priority = 108
 * [http.services.service__2Fuser_2Fa_2F.loadBalancer]
 * servers = [{ url = "http://127.0.0.1:9000" }]
 * passHostHeader = true
 * [jupyterhub.routes.router__2Fuser_2Fa_2F]
 * routespec = "/user/a/"
 * target = "http://127.0.0.1:9000"
 * router = "router__2Fuser_2Fa_2F"
 * service = "service__2Fuser_2Fa_2F"
 * data = { user = "a" }
 * ```
 *
 * @module
 */

import { routerName, serviceName } from "./names.ts";
import { routePriority, routeRule } from "./rule.ts";
import { parseRoutespec } from "./routespec.ts";
import { isPlainObject } from "./tree.ts";
import type { ConfigTree, Route, RouteData } from "./types.ts";
import { reservedRouter } from "./_reserved_router.ts";

/** Name of the permanent router that keeps a store from ever becoming empty. */
export const SENTINEL_NAME = "jupyterhub-sentinel";

/** Options of the route configuration builders. */
export interface RouteConfigOptions {
  /** Name of traefik's public entry point that routes attach to (e.g. `http`). */
  entryPoint: string;
  /**
   * traefik's servers transport (`name@provider`) every route's service uses to reach its
   * target, e.g. one with a client certificate; default traefik's default transport.
   */
  serversTransport?: string;
  /**
   * The URL traefik reaches a target at, when that is not the target itself (an `http+unix://`
   * target behind a loopback relay); the record keeps the target. Default: the target.
   */
  targetUrl?: (target: string) => string;
  /**
   * The router's rule without the route's bare path (`RouteRuleOptions.short`): only for a
   * route that no other route of its table encloses (`shortRuleAllowed`), in a traefik whose
   * catch-all router goes to this process's fallback. Default false.
   */
  shortRule?: boolean;
}

/** The traefik service of one route. */
export interface ServiceConfig {
  /** traefik's load balancer with the route's one server. */
  loadBalancer: {
    /** The target. */
    servers: { url: string }[];
    /** Always true: targets see the Host the client asked for, as with CHP. */
    passHostHeader: boolean;
    /** The servers transport, when `RouteConfigOptions.serversTransport` names one. */
    serversTransport?: string;
  };
}

/** The traefik router of one route. */
export interface RouterConfig {
  /** The rule, as built by `routeRule`. */
  rule: string;
  /** The service's name. */
  service: string;
  /** Entry points the router listens on. */
  entryPoints: string[];
  /** Explicit priority, as built by `routePriority`. */
  priority: number;
}

/** The `jupyterhub` metadata entry that records a route. */
export interface RouteRecord {
  /** Normalised routespec. */
  routespec: string;
  /** Target URL. */
  target: string;
  /** Router name. */
  router: string;
  /** Service name. */
  service: string;
  /** Route data. */
  data: RouteData;
  /** ISO 8601 time of last activity (not written by the Python proxy). */
  last_activity?: string;
}

/** The three pieces of configuration one route consists of, with their names. */
export interface RouteParts {
  /** Router name. */
  routerName: string;
  /** Router configuration. */
  router: RouterConfig;
  /** Service name. */
  serviceName: string;
  /** Service configuration. */
  service: ServiceConfig;
  /** Metadata entry, stored under `jupyterhub.routes.<routerName>`. */
  record: RouteRecord;
}

/**
 * Builds the router, service and metadata of one route.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { routeParts } from "./route_config.ts";
 * const parts = routeParts(
 *   { routespec: "/user/a/", target: "http://127.0.0.1:9000", data: {} },
 *   { entryPoint: "http" },
 * );
 * assert.deepEqual(parts.router.rule, 'Path("/user/a") || PathPrefix("/user/a/")');
 * ```
 * @throws {RoutespecError} when the routespec is invalid.
 */
export function routeParts(route: Route, options: RouteConfigOptions): RouteParts {
  const spec = parseRoutespec(route.routespec);
  const router = routerName(spec.routespec);
  const service = serviceName(spec.routespec);
  const record: RouteRecord = {
    routespec: spec.routespec,
    target: route.target,
    router,
    service,
    data: route.data,
  };
  if (route.lastActivity !== undefined) record.last_activity = route.lastActivity;
  return {
    routerName: router,
    router: {
      rule: routeRule(spec, { short: options.shortRule }),
      service,
      entryPoints: [options.entryPoint],
      priority: routePriority(spec),
    },
    serviceName: service,
    service: {
      loadBalancer: {
        servers: [{ url: options.targetUrl?.(route.target) ?? route.target }],
        passHostHeader: true,
        ...(options.serversTransport ? { serversTransport: options.serversTransport } : {}),
      },
    },
    record,
  };
}

/**
 * The dynamic configuration of one route.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { routeConfig } from "./route_config.ts";
 * const route = { routespec: "/", target: "http://127.0.0.1:8081", data: { hub: true } };
 * const config = routeConfig(route, { entryPoint: "http" }) as {
 *   http: { routers: Record<string, { rule: string }> };
 * };
 * assert.equal(config.http.routers["router__2F"].rule, 'PathPrefix("/")');
 * ```
 * @throws {RoutespecError} when the routespec is invalid.
 */
export function routeConfig(route: Route, options: RouteConfigOptions): ConfigTree {
  const parts = routeParts(route, options);
  return {
    http: {
      routers: { [parts.routerName]: parts.router },
      services: { [parts.serviceName]: parts.service },
    },
    jupyterhub: { routes: { [parts.routerName]: parts.record } },
  };
}

/**
 * The permanent sentinel router: it matches only the reserved host `jupyterhub-sentinel.invalid`
 * and answers with traefik's `noop@internal` service. It keeps a file from ever being empty
 * and a key-value store from ever losing its last key (traefik ignores that deletion), and its
 * presence in traefik's API shows that the provider has been loaded.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { SENTINEL_NAME, sentinelConfig } from "./route_config.ts";
 * const config = sentinelConfig({ entryPoint: "http" }) as {
 *   http: { routers: Record<string, { service: string }> };
 * };
 * assert.equal(config.http.routers[SENTINEL_NAME].service, "noop@internal");
 * ```
 */
export function sentinelConfig(options: RouteConfigOptions): ConfigTree {
  return {
    http: {
      routers: {
        [SENTINEL_NAME]: reservedRouter(SENTINEL_NAME, options.entryPoint),
      },
    },
  };
}

/**
 * The dynamic configuration of a whole routing table plus the sentinel, built in one pass.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { tableConfig } from "./route_config.ts";
 * import { sentinelConfig } from "./route_config.ts";
 * assert.deepEqual(tableConfig([], { entryPoint: "http" }), sentinelConfig({ entryPoint: "http" }));
 * ```
 * @throws {RoutespecError} when a routespec is invalid.
 */
export function tableConfig(routes: Iterable<Route>, options: RouteConfigOptions): ConfigTree {
  const sentinel = sentinelConfig(options) as { http: { routers: ConfigTree } };
  const routers: ConfigTree = { ...sentinel.http.routers };
  const services: ConfigTree = {};
  const records: ConfigTree = {};
  for (const route of routes) {
    const parts = routeParts(route, options);
    routers[parts.routerName] = parts.router;
    services[parts.serviceName] = parts.service;
    records[parts.routerName] = parts.record;
  }
  const http: ConfigTree = { routers };
  if (Object.keys(services).length > 0) http.services = services;
  const config: ConfigTree = { http };
  if (Object.keys(records).length > 0) config.jupyterhub = { routes: records };
  return config;
}

/** Routes read back from a configuration, and the entries that could not be read. */
export interface ReadRoutes {
  /** Valid routes by normalised routespec. */
  routes: Map<string, Route>;
  /** Descriptions of `jupyterhub.routes` entries that were skipped. */
  skipped: string[];
}

/**
 * Reads the routes recorded under `jupyterhub.routes` of a configuration (ours or the Python
 * proxy's). Entries without a string routespec and target are skipped and reported.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { routesFromConfig, tableConfig } from "./route_config.ts";
 * const route = { routespec: "/a/", target: "http://127.0.0.1:1", data: {} };
 * const read = routesFromConfig(tableConfig([route], { entryPoint: "http" }));
 * assert.deepEqual(read.routes.get("/a/"), route);
 * assert.deepEqual(read.skipped, []);
 * ```
 */
export function routesFromConfig(config: ConfigTree): ReadRoutes {
  const routes = new Map<string, Route>();
  const skipped: string[] = [];
  const jupyterhub = asTree(config.jupyterhub);
  const records = asTree(jupyterhub?.routes) ?? {};
  for (const [name, value] of Object.entries(records)) {
    const record = asTree(value);
    if (typeof record?.routespec !== "string" || typeof record.target !== "string") {
      skipped.push(`${name}: no routespec or target`);
      continue;
    }
    let routespec: string;
    try {
      routespec = parseRoutespec(record.routespec).routespec;
    } catch (error) {
      skipped.push(`${name}: ${(error as Error).message}`);
      continue;
    }
    const route: Route = {
      routespec,
      target: record.target,
      // A plain JSON copy: parsers may hand back objects without a prototype.
      data: JSON.parse(JSON.stringify(asTree(record.data) ?? {})) as RouteData,
    };
    if (typeof record.last_activity === "string") route.lastActivity = record.last_activity;
    routes.set(routespec, route);
  }
  return { routes, skipped };
}

function asTree(value: unknown): ConfigTree | undefined {
  return isPlainObject(value) ? value : undefined;
}
