/**
 * An in-memory store for unit tests of pure request handling. It proves nothing about any
 * real provider.
 *
 * @module
 */

import type { Store } from "../lib/core/store.ts";
import type { Route, RouteChange } from "../lib/core/types.ts";

/** Creates an empty in-memory store. */
export function memoryStore(): Store & { routes: Map<string, Route> } {
  const routes = new Map<string, Route>();
  return {
    provider: "memory",
    entryPoint: "http",
    routes,
    getAllRoutes: () => Promise.resolve(new Map(routes)),
    getRoute: (routespec) => Promise.resolve(routes.get(routespec)),
    apply(change: RouteChange) {
      for (const route of change.set ?? []) routes.set(route.routespec, structuredClone(route));
      for (const routespec of change.delete ?? []) routes.delete(routespec);
      return Promise.resolve();
    },
    close: () => Promise.resolve(),
  };
}
