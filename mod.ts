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
export { createRoute, validateData, validateTarget } from "./lib/core/route.ts";
export type { RouteInput } from "./lib/core/route.ts";
export { normalizeRoutespec, parseRoutespec, routingPath } from "./lib/core/routespec.ts";
export type { ParsedRoutespec } from "./lib/core/routespec.ts";
export { escapeName, routerName, serviceName } from "./lib/core/names.ts";
export { goString, routePriority, routeRule } from "./lib/core/rule.ts";
export {
  routeConfig,
  routeParts,
  routesFromConfig,
  SENTINEL_NAME,
  sentinelConfig,
  tableConfig,
} from "./lib/core/route_config.ts";
export { diff, flatten, unflatten } from "./lib/core/kv.ts";
export { deepMerge } from "./lib/core/tree.ts";
export { formatOf, parseConfig, stringifyConfig } from "./lib/core/config_format.ts";
export { staticConfig } from "./lib/traefik/static_config.ts";
export { apiRouteConfig } from "./lib/traefik/api_router.ts";
export { findTraefik, startTraefik } from "./lib/traefik/process.ts";
export type { TraefikProcess } from "./lib/traefik/process.ts";
export { traefikApi } from "./lib/traefik/api.ts";
export type { TraefikApi } from "./lib/traefik/api.ts";
export { routeConfirmer } from "./lib/traefik/confirm.ts";
export type { RouteConfirmer } from "./lib/core/confirmer.ts";
export { startProxy } from "./lib/proxy.ts";
export type { Proxy, StartProxyOptions } from "./lib/proxy.ts";
export { fileStore } from "./providers/file.ts";
export type { FileStore, FileStoreOptions } from "./providers/file.ts";
export type { Store } from "./lib/core/store.ts";
export type { ConfigTree, JsonValue, Route, RouteChange, RouteData } from "./lib/core/types.ts";
export * from "./lib/core/errors.ts";
