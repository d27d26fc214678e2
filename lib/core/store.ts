/**
 * The interface every route store (provider) implements. A store only delivers configuration
 * to traefik; it never decides how routes are matched.
 *
 * @module
 */

import type { Route, RouteChange } from "./types.ts";

/** Where the routing table lives: a dynamic-configuration file, redis, etcd or consul. */
export interface Store {
  /** traefik's name of the provider that reads this store (`file`, `redis`, `etcd`, ...). */
  readonly provider: string;
  /** Name of traefik's public entry point that routes attach to. */
  readonly entryPoint: string;
  /** Every route, by normalised routespec. */
  getAllRoutes(): Promise<Map<string, Route>>;
  /** One route by normalised routespec, or undefined. */
  getRoute(routespec: string): Promise<Route | undefined>;
  /**
   * Applies a batch of changes; resolves once the store holds them. Concurrent calls may be
   * coalesced into one write. Either all of a batch is stored or none of it (it rejects).
   */
  apply(change: RouteChange): Promise<void>;
  /** Waits for pending writes, then releases the store's resources. */
  close(): Promise<void>;
}
