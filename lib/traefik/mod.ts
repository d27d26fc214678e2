/**
 * The traefik layer: the static configuration of a traefik this proxy starts, the private API
 * router and its password, the supervised process, the API client and the confirmer that waits
 * for traefik to serve a change.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { API_ENTRYPOINT, staticConfig } from "./mod.ts";
 * const config = staticConfig({
 *   publicAddress: ":8000",
 *   apiAddress: "127.0.0.1:8099",
 *   providers: { file: { filename: "/srv/routes.toml", watch: true } },
 * }) as { entryPoints: Record<string, { address: string }> };
 * assert.equal(config.entryPoints[API_ENTRYPOINT].address, "127.0.0.1:8099");
 * ```
 *
 * @module
 */

export { API_ENTRYPOINT, staticConfig, type StaticConfigOptions } from "./static_config.ts";
export {
  API_AUTH_MIDDLEWARE,
  API_ROUTER,
  apiRouteConfig,
  type ApiRouteOptions,
} from "./api_router.ts";
export {
  apiPasswordHash,
  type ApiPasswordHashOptions,
  generateApiPassword,
} from "./api_password.ts";
export {
  findTraefik,
  type FindTraefikOptions,
  startTraefik,
  type StartTraefikOptions,
  type TraefikProcess,
} from "./process.ts";
export { type TraefikApi, traefikApi, type TraefikApiOptions } from "./api.ts";
export { routeConfirmer, type RouteConfirmerOptions } from "./confirm.ts";
export { type FeedConfirmer, feedConfirmer, type FeedConfirmerOptions } from "./feed_confirmer.ts";
export {
  checkFallbackRouter,
  type CheckFallbackRouterOptions,
  FALLBACK_ROUTER,
  fallbackConfig,
  type FallbackConfigOptions,
} from "./fallback_router.ts";
export type { RouteConfirmer } from "../core/confirmer.ts";
export { accessLogConfig, type AccessLogEntry, accessLogEntry } from "./access_log.ts";
export { type DriftRepair, driftRepair, type DriftRepairOptions } from "./drift_repair.ts";
