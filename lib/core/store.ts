/**
 * The interface every route store (provider) implements. A store only delivers configuration
 * to traefik; it never decides how routes are matched.
 *
 * @module
 */

import type { Route, RouteChange } from "./types.ts";

/**
 * Where the routing table lives: a dynamic-configuration file, redis or etcd (the stores in
 * `providers/`), or anything else that delivers traefik's dynamic configuration.
 */
export interface Store {
  /** traefik's name of the provider that reads this store (`file`, `redis`, `etcd`, ...). */
  readonly provider: string;
  /** Name of traefik's public entry point that routes attach to. */
  readonly entryPoint: string;
  /** Every route, by canonical routespec. */
  getAllRoutes(): Promise<Map<string, Route>>;
  /** One route by canonical routespec, or undefined. */
  getRoute(routespec: string): Promise<Route | undefined>;
  /**
   * Applies a batch of changes; resolves once the store holds them, rejects when it could not
   * store them. Concurrent calls may be coalesced into one write. Each route's change is stored
   * whole or not at all; a batch may be committed in several steps (etcd's transactions hold
   * at most 128 operations), so after a rejection some of its routes may have changed.
   */
  apply(change: RouteChange): Promise<void>;
  /**
   * Keeps `target` equal to the table: applies the whole table once and resolves then; from
   * then on applies every change, from this process or (for a shared store) any other, in
   * batches (changes that arrive while one is applied go together in the next). Several
   * targets may follow one store. Optional: a store without it cannot feed a private traefik
   * file or this process's fallback router.
   *
   * @throws {StoreError} when the store cannot be followed (a store without a watch).
   */
  mirror?(target: MirrorTarget): Promise<Mirror>;
  /** Waits for pending writes, then releases the store's resources. */
  close(): Promise<void>;
}

/** What follows a store through `Store.mirror`: anything that applies changes. */
export interface MirrorTarget extends Pick<Store, "apply"> {
  /**
   * Which routes the target keeps (default all). A hint: a store may then hand on only these,
   * and a route that stops being wanted as a deletion, so that it keeps no record of the others
   * for this target; the target still copes with any route it is given.
   */
  wants?(route: Route): boolean;
}

/** A running `Store.mirror`. */
export interface Mirror {
  /** Stops following the store. */
  close(): Promise<void>;
}
