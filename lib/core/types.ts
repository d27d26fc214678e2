/**
 * The data types shared by the pure core, the providers and the servers.
 *
 * @module
 */

/** A JSON value as the hub sends it. */
export type JsonValue =
  | string
  | number
  | boolean
  | null
  | JsonValue[]
  | { [key: string]: JsonValue };

/** A route's data: the JSON object the hub stores beside the target, returned unchanged. */
export type RouteData = { [key: string]: JsonValue };

/**
 * One route of the table: requests whose host and path start with `routespec` go to `target`.
 * `routespec` is always normalised (see `parseRoutespec`).
 */
export interface Route {
  /** Normalised routespec, e.g. `/user/alice/` or `host.example/user/alice/`. */
  routespec: string;
  /** Absolute http(s) URL that requests are forwarded to, stored verbatim. */
  target: string;
  /** JSON object stored with the route. */
  data: RouteData;
  /** ISO 8601 time of the last activity seen on the route (set when it is added). */
  lastActivity?: string;
}

/** A traefik dynamic (or static) configuration tree, as it is written to TOML, YAML or a store. */
export type ConfigTree = { [key: string]: unknown };

/** A batch of changes to the routing table, applied in order: first `set`, then `delete`. */
export interface RouteChange {
  /** Routes to add or replace. */
  set?: Route[];
  /** Normalised routespecs to remove. */
  delete?: string[];
}
