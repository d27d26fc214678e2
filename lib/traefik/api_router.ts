/**
 * The dynamic configuration that exposes traefik's API on the private entry point behind
 * basicAuth (the names the Python proxy uses).
 *
 * @module
 */

import type { ConfigTree } from "../core/types.ts";
import { API_ENTRYPOINT } from "./static_config.ts";

/** Name of the router that serves traefik's API. */
export const API_ROUTER = "route_api";
/** Name of the API router's basicAuth middleware. */
export const API_AUTH_MIDDLEWARE = "auth_api";

/** Options of `apiRouteConfig`. */
export interface ApiRouteOptions {
  /** basicAuth user name. */
  username: string;
  /** Hash of the password as traefik's basicAuth takes it (bcrypt, `{SHA}`, apr1). */
  passwordHash: string;
  /** Serve traefik's dashboard (`/dashboard/`) beside the API, behind the same basicAuth. */
  dashboard?: boolean;
  /**
   * Serve traefik's Prometheus metrics (`/metrics`, with `metrics.prometheus.manualRouting` in
   * the static configuration) beside the API, behind the same basicAuth.
   */
  metrics?: boolean;
}

/** Name of the router of traefik's own metrics (`ApiRouteOptions.metrics`). */
export const METRICS_ROUTER = "route_metrics";

/**
 * The dynamic configuration that exposes traefik's API on the private entry point behind
 * basicAuth: router `API_ROUTER` to `api@internal` with middleware `API_AUTH_MIDDLEWARE`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { API_ROUTER, apiRouteConfig } from "./api_router.ts";
 * const config = apiRouteConfig({ username: "jupyterhub", passwordHash: "{SHA}x" }) as {
 *   http: { routers: Record<string, { service: string }> };
 * };
 * assert.equal(config.http.routers[API_ROUTER].service, "api@internal");
 * ```
 */
export function apiRouteConfig(options: ApiRouteOptions): ConfigTree {
  const routers: ConfigTree = {
    [API_ROUTER]: {
      rule: options.dashboard
        ? 'PathPrefix("/api") || PathPrefix("/dashboard")'
        : 'PathPrefix("/api")',
      entryPoints: [API_ENTRYPOINT],
      service: "api@internal",
      middlewares: [API_AUTH_MIDDLEWARE],
      priority: 1000,
    },
  };
  if (options.metrics) {
    routers[METRICS_ROUTER] = {
      rule: 'Path("/metrics")',
      entryPoints: [API_ENTRYPOINT],
      service: "prometheus@internal",
      middlewares: [API_AUTH_MIDDLEWARE],
      priority: 1000,
    };
  }
  return {
    http: {
      routers,
      middlewares: {
        [API_AUTH_MIDDLEWARE]: {
          basicAuth: { users: [`${options.username}:${options.passwordHash}`] },
        },
      },
    },
  };
}
