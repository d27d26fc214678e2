/**
 * The functional routing-table API: add, delete and read routes in a store, optionally waiting
 * until traefik reflects each change.
 *
 * @module
 */

import { createRoute, type RouteInput } from "./core/route.ts";
import { normalizeRoutespec } from "./core/routespec.ts";
import type { Store } from "./core/store.ts";
import type { RouteConfirmer } from "./core/confirmer.ts";
import type { Route } from "./core/types.ts";

/** A store, or a store with a confirmer (such as a started proxy). */
export type RouteTable = Store | { store: Store; confirm?: RouteConfirmer };

/** Options of `addRoute` and `deleteRoute`. */
export interface RouteOptions {
  /** Waits until traefik reflects the change; overrides the table's own confirmer. */
  confirm?: RouteConfirmer | false;
}

function parts(table: RouteTable, options: RouteOptions) {
  const store = "store" in table ? table.store : table;
  const own = "store" in table ? table.confirm : undefined;
  const confirm = options.confirm === false ? undefined : options.confirm ?? own;
  return { store, confirm };
}

/**
 * Adds a route, or replaces the route with the same routespec, and (with a confirmer) resolves
 * only once traefik serves the new target.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { addRoute } from "./routes.ts";
 * import { memoryStore } from "../providers/memory.ts";
 * const store = memoryStore();
 * const route = await addRoute(store, { routespec: "/user/a$b", target: "http://127.0.0.1:9000" });
 * assert.equal(route.routespec, "/user/a%24b/");
 * assert.equal((await store.getRoute("/user/a%24b/"))?.target, "http://127.0.0.1:9000");
 * ```
 * @throws {RoutespecError | TargetError | RouteDataError} for invalid input (nothing changes).
 * @throws {StoreError} when the store fails; {RouteTimeoutError} when traefik does not confirm.
 */
export async function addRoute(
  table: RouteTable,
  route: RouteInput,
  options: RouteOptions = {},
): Promise<Route> {
  const { store, confirm } = parts(table, options);
  const valid = createRoute(route, { now: new Date() });
  await store.apply({ set: [valid] });
  await confirm?.served([valid]);
  return valid;
}

/**
 * Deletes the route with a routespec; resolves to false when there was none. With a
 * confirmer, resolves only once traefik no longer has the route's router.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { addRoute, deleteRoute } from "./routes.ts";
 * import { memoryStore } from "../providers/memory.ts";
 * const store = memoryStore();
 * await addRoute(store, { routespec: "/user/alice/", target: "http://127.0.0.1:9000" });
 * assert.equal(await deleteRoute(store, "/user/alice"), true);
 * assert.equal(await deleteRoute(store, "/user/alice/"), false);
 * ```
 * @throws {RoutespecError} for an invalid routespec.
 * @throws {StoreError} when the store fails; {RouteTimeoutError} when traefik does not confirm.
 */
export async function deleteRoute(
  table: RouteTable,
  routespec: string,
  options: RouteOptions = {},
): Promise<boolean> {
  const { store, confirm } = parts(table, options);
  const spec = normalizeRoutespec(routespec);
  if (!await store.getRoute(spec)) return false;
  await store.apply({ delete: [spec] });
  await confirm?.removed([spec]);
  return true;
}

/**
 * Every route of the table, by normalised routespec.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { addRoute, getAllRoutes } from "./routes.ts";
 * import { memoryStore } from "../providers/memory.ts";
 * const store = memoryStore();
 * await addRoute(store, { routespec: "/user/alice/", target: "http://127.0.0.1:9000" });
 * assert.deepEqual([...(await getAllRoutes(store)).keys()], ["/user/alice/"]);
 * ```
 * @throws {StoreError} when the store fails.
 */
export function getAllRoutes(table: RouteTable): Promise<Map<string, Route>> {
  return parts(table, {}).store.getAllRoutes();
}

/**
 * One route by routespec (normalised first), or undefined.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { addRoute, getRoute } from "./routes.ts";
 * import { memoryStore } from "../providers/memory.ts";
 * const store = memoryStore();
 * await addRoute(store, { routespec: "/user/a%40b/", target: "http://127.0.0.1:9000" });
 * assert.equal((await getRoute(store, "/user/a@b"))?.routespec, "/user/a@b/");
 * ```
 * @throws {RoutespecError} for an invalid routespec; {StoreError} when the store fails.
 */
export async function getRoute(
  table: RouteTable,
  routespec: string,
): Promise<Route | undefined> {
  return await parts(table, {}).store.getRoute(normalizeRoutespec(routespec));
}
