/**
 * A JupyterHub proxy backed by traefik: the routing table lives in traefik's dynamic
 * configuration (a TOML/YAML file, redis or etcd), so several traefik replicas can serve it.
 *
 * ```ts
 * import { addRoute, deleteRoute, getAllRoutes, startProxy } from "./mod.ts";
 *
 * const proxy = await startProxy({ publicAddress: "127.0.0.1:8000" });
 * await addRoute(proxy, { routespec: "/user/alice/", target: "http://127.0.0.1:9000" });
 * console.log(await getAllRoutes(proxy));
 * await deleteRoute(proxy, "/user/alice/");
 * await proxy.stop();
 * ```
 *
 * @module
 */

export { addRoute, deleteRoute, getAllRoutes, getRoute } from "./lib/routes.ts";
export type { RouteOptions, RouteTable } from "./lib/routes.ts";
export { createRoute, validateData, validateTarget } from "./lib/route.ts";
export type { RouteInput } from "./lib/route.ts";
export { normalizeRoutespec, parseRoutespec, routingPath } from "./lib/routespec.ts";
export type { ParsedRoutespec } from "./lib/routespec.ts";
export { escapeName, routerName, serviceName } from "./lib/names.ts";
export { goString, routePriority, routeRule } from "./lib/rule.ts";
export {
  routeConfig,
  routeParts,
  routesFromConfig,
  SENTINEL_NAME,
  sentinelConfig,
  tableConfig,
} from "./lib/route_config.ts";
export { diff, flatten, unflatten } from "./lib/kv.ts";
export { deepMerge } from "./lib/merge.ts";
export { formatOf, parseConfig, stringifyConfig } from "./lib/config_format.ts";
export { apiRouteConfig, staticConfig } from "./lib/static_config.ts";
export { findTraefik, startTraefik } from "./lib/traefik.ts";
export type { TraefikProcess } from "./lib/traefik.ts";
export { routeConfirmer, traefikApi } from "./lib/traefik_api.ts";
export type { RouteConfirmer, TraefikApi } from "./lib/traefik_api.ts";
export { startProxy } from "./lib/proxy.ts";
export type { Proxy, StartProxyOptions } from "./lib/proxy.ts";
export { fileStore } from "./providers/file.ts";
export type { FileStore, FileStoreOptions } from "./providers/file.ts";
export type { Store } from "./lib/store.ts";
export type { ConfigTree, JsonValue, Route, RouteChange, RouteData } from "./lib/types.ts";
export * from "./lib/errors.ts";
