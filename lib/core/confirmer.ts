/**
 * The contract of what waits for traefik to reflect route changes (the shell's
 * `routeConfirmer` polls traefik's API); the route functions take one.
 *
 * @module
 */

import type { Route } from "./types.ts";

/** Waits for traefik to reflect route changes. */
export interface RouteConfirmer {
  /** Resolves once traefik serves every route with its target. */
  served(routes: Route[]): Promise<void>;
  /** Resolves once traefik no longer has a router for any of the routespecs. */
  removed(routespecs: string[]): Promise<void>;
}
