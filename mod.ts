/**
 * A JupyterHub proxy backed by traefik: the routing table lives in traefik's dynamic
 * configuration (a TOML/YAML file, redis or etcd), so several traefik replicas can serve it.
 *
 * The four route functions work on any `Store` (a file, the in-memory store, or redis and etcd
 * from the `./redis` and `./etcd` entry points, which load their clients only when imported)
 * and, given a started proxy, resolve once traefik serves the change. The pure building blocks
 * are in `./core`, the traefik process and API in `./traefik`, the command in `./cli`.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { addRoute, deleteRoute, getAllRoutes, memoryStore } from "./mod.ts";
 * const store = memoryStore();
 * await addRoute(store, { routespec: "/user/alice/", target: "http://127.0.0.1:9000" });
 * assert.deepEqual([...(await getAllRoutes(store)).keys()], ["/user/alice/"]);
 * assert.equal(await deleteRoute(store, "/user/alice/"), true);
 * ```
 *
 * @module
 */

export { addRoute, deleteRoute, getAllRoutes, getRoute } from "./lib/routes.ts";
export type { RouteOptions, RouteTable } from "./lib/routes.ts";
export type { RouteInput } from "./lib/core/route.ts";
export { startProxy, upstreamPool } from "./lib/proxy.ts";
export type {
  ActivityOptions,
  ActivityTracker,
  ConsulProviderOptions,
  DriftRepair,
  EtcdProviderOptions,
  ExternalTraefikOptions,
  FallbackHandlerOptions,
  FallbackOptions,
  FileProviderOptions,
  ProviderOptions,
  ProxyEvents,
  PublicTls,
  RedisProviderOptions,
  RunningProxy,
  SharedValues,
  StartProxyOptions,
  TargetTls,
  UpstreamPool,
  UpstreamPoolOptions,
  UpstreamRequest,
  UpstreamResponse,
} from "./lib/proxy.ts";
export { fileStore } from "./providers/file.ts";
export type { FileStore, FileStoreOptions } from "./providers/file.ts";
export type { EntryTree } from "./lib/core/entry_tree.ts";
export { type MemoryStore, memoryStore } from "./providers/memory.ts";
export type { Mirror, MirrorTarget, Store } from "./lib/core/store.ts";
export type { FallbackRouter } from "./lib/fallback/router.ts";
export type { RequestTarget } from "./lib/core/route_index.ts";
export type { RouteConfirmer } from "./lib/core/confirmer.ts";
export type { TraefikApi } from "./lib/traefik/api.ts";
export type { TraefikProcess } from "./lib/traefik/process.ts";
export type { ConfigTree, JsonValue, Route, RouteChange, RouteData } from "./lib/core/types.ts";
export * from "./lib/core/errors.ts";
