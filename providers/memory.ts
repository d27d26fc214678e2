/**
 * An in-memory route store, for tests and examples of code that takes any `Store` (request
 * handling, `addRoute`). No traefik reads it, and it proves nothing about a real provider: test
 * those against real servers.
 *
 * @module
 */

import type { MirrorTarget, Store } from "../lib/core/store.ts";
import type { Route, RouteChange } from "../lib/core/types.ts";

export type { Store } from "../lib/core/store.ts";
export type { JsonValue, Route, RouteChange, RouteData } from "../lib/core/types.ts";

/**
 * A store that holds its routes in a map, which a test may read directly.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { type MemoryStore, memoryStore } from "./memory.ts";
 * const store: MemoryStore = memoryStore();
 * await store.apply({ set: [{ routespec: "/a/", target: "http://127.0.0.1:9000", data: {} }] });
 * assert.deepEqual([...store.routes.keys()], ["/a/"]);
 * ```
 */
export interface MemoryStore extends Store {
  /** The stored routes by routespec; changing it changes the store. */
  readonly routes: Map<string, Route>;
}

/**
 * Creates an empty in-memory store (provider `memory`, entry point `http`). It stores copies of
 * the routes it is given, and never rejects a change.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { memoryStore } from "./memory.ts";
 * const store = memoryStore();
 * await store.apply({ set: [{ routespec: "/a/", target: "http://127.0.0.1:9000", data: {} }] });
 * assert.equal((await store.getRoute("/a/"))?.target, "http://127.0.0.1:9000");
 * await store.apply({ delete: ["/a/"] });
 * assert.equal((await store.getAllRoutes()).size, 0);
 * await store.close();
 * ```
 */
export function memoryStore(): MemoryStore {
  const routes = new Map<string, Route>();
  const mirrors = new Set<MirrorTarget>();
  return {
    provider: "memory",
    entryPoint: "http",
    routes,
    getAllRoutes: () => Promise.resolve(new Map(routes)),
    getRoute: (routespec) => Promise.resolve(routes.get(routespec)),
    async apply(change: RouteChange) {
      const set = (change.set ?? []).map((route) => structuredClone(route));
      for (const route of set) routes.set(route.routespec, route);
      for (const routespec of change.delete ?? []) routes.delete(routespec);
      await Promise.all([...mirrors].map((target) => target.apply({ set, delete: change.delete })));
    },
    async mirror(target) {
      const table = [...routes.values()];
      mirrors.add(target);
      await target.apply({ set: table });
      return {
        close() {
          mirrors.delete(target);
          return Promise.resolve();
        },
      };
    },
    close: () => Promise.resolve(),
  };
}
