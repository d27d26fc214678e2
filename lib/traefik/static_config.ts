/**
 * traefik's static configuration for a traefik that this proxy starts itself: the public entry
 * point, the private API entry point, the providers.
 *
 * @module
 */

import { deepMerge } from "../core/tree.ts";
import type { ConfigTree } from "../core/types.ts";
import { accessLogConfig } from "./access_log.ts";

/** Name of the private entry point that serves traefik's API and ping. */
export const API_ENTRYPOINT = "auth_api";

// JupyterHub quotes user names, so paths carry %2F and friends; CHP accepts them all. Set
// explicitly on every entry point, so that routing does not depend on traefik's defaults (3.6.4 to
// 3.6.6 rejected these by default, 3.6.7 and later allow them all); only %00 is refused. Setting
// them does not silence traefik's "Traefik can reject some encoded characters" warning: traefik
// 3.6 logs it at every start whatever the configuration (cmd/traefik/traefik.go), so the process
// that reads traefik's output drops that line (process.ts).
const ENCODED_CHARACTERS = {
  allowEncodedSlash: true,
  allowEncodedBackSlash: true,
  allowEncodedNullCharacter: false,
  allowEncodedSemicolon: true,
  allowEncodedPercent: true,
  allowEncodedQuestionMark: true,
  allowEncodedHash: true,
};

/** Options of `staticConfig`. */
export interface StaticConfigOptions {
  /** Name of the public entry point; default `http`. */
  entryPoint?: string;
  /** Public address, `host:port` as traefik takes it (`:8000`, `127.0.0.1:8000`, `[::1]:8000`). */
  publicAddress: string;
  /** Private API address, `127.0.0.1:port`. */
  apiAddress: string;
  /** traefik's log level: TRACE, DEBUG, INFO, WARN, ERROR, FATAL, PANIC; default WARN. */
  logLevel?: string;
  /** The `providers` section (without `providersThrottleDuration`), e.g. `{ file: {...} }`. */
  providers: ConfigTree;
  /** Serve TLS on the public entry point (certificates go into the dynamic configuration). */
  tls?: boolean;
  /** Entry-point timeouts, as traefik durations (`"60s"`). */
  respondingTimeouts?: { readTimeout?: string; writeTimeout?: string; idleTimeout?: string };
  /** Middlewares applied to every request on the public entry point (`name@provider`). */
  middlewares?: string[];
  /** traefik's dashboard on the API entry point (its router: `apiRouteConfig`). */
  dashboard?: boolean;
  /**
   * traefik's access log on its standard output, one JSON line per request that counts as a
   * route's activity (`accessLogConfig`).
   */
  accessLog?: boolean;
  /**
   * traefik's Prometheus metrics, served on the API entry point by the router that
   * `apiRouteConfig` adds with `metrics` (behind the API's basicAuth).
   */
  metrics?: boolean;
  /**
   * The loopback entry points of a tree of entry points (`lib/core/entry_tree.ts`), by name and
   * `127.0.0.1:port` address: the public entry point's middlewares and timeouts, no TLS, and
   * the `X-Forwarded-*` headers of the public entry point's hop kept (it is the only client).
   */
  treeEntryPoints?: { name: string; address: string }[];
  /** Operator-supplied static configuration, deep-merged last. */
  extra?: ConfigTree;
}

/**
 * The static configuration of a traefik started by this proxy.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { API_ENTRYPOINT, staticConfig } from "./static_config.ts";
 * const config = staticConfig({
 *   publicAddress: "127.0.0.1:8000",
 *   apiAddress: "127.0.0.1:8099",
 *   providers: { file: { filename: "/tmp/rules.toml", watch: true } },
 * }) as { entryPoints: Record<string, { address: string }> };
 * assert.equal(config.entryPoints.http.address, "127.0.0.1:8000");
 * assert.equal(config.entryPoints[API_ENTRYPOINT].address, "127.0.0.1:8099");
 * ```
 */
export function staticConfig(options: StaticConfigOptions): ConfigTree {
  const entryPoint = options.entryPoint ?? "http";
  const publicEntry: ConfigTree = { address: options.publicAddress };
  const http: ConfigTree = { encodedCharacters: { ...ENCODED_CHARACTERS } };
  if (options.tls) http.tls = {};
  if (options.middlewares?.length) http.middlewares = options.middlewares;
  publicEntry.http = http;
  if (options.respondingTimeouts && Object.keys(options.respondingTimeouts).length > 0) {
    publicEntry.transport = { respondingTimeouts: { ...options.respondingTimeouts } };
  }
  const config: ConfigTree = {
    global: { checkNewVersion: false, sendAnonymousUsage: false },
    log: { level: options.logLevel ?? "WARN" },
    api: { dashboard: options.dashboard === true },
    ping: { entryPoint: API_ENTRYPOINT },
    entryPoints: {
      [entryPoint]: publicEntry,
      [API_ENTRYPOINT]: {
        address: options.apiAddress,
        http: { encodedCharacters: { ...ENCODED_CHARACTERS } },
      },
    },
    providers: { providersThrottleDuration: "0s", ...options.providers },
  };
  if (options.accessLog) config.accessLog = accessLogConfig();
  if (options.metrics) {
    config.metrics = { prometheus: { entryPoint: API_ENTRYPOINT, manualRouting: true } };
  }
  const merged = options.extra ? deepMerge(config, options.extra) : config;
  // The branches of a tree: the public entry point's middlewares and transport as merged with
  // the operator's (timeouts, a grace period), nothing of its TLS.
  const entryPoints = merged.entryPoints as ConfigTree;
  const finalPublic = entryPoints[entryPoint] as ConfigTree;
  const publicHttp = (finalPublic.http ?? {}) as ConfigTree;
  for (const { name, address } of options.treeEntryPoints ?? []) {
    const branchHttp: ConfigTree = { encodedCharacters: { ...ENCODED_CHARACTERS } };
    if (Array.isArray(publicHttp.middlewares)) branchHttp.middlewares = [...publicHttp.middlewares];
    const branch: ConfigTree = {
      address,
      http: branchHttp,
      forwardedHeaders: { trustedIPs: ["127.0.0.1/32"] },
    };
    if (finalPublic.transport) branch.transport = structuredClone(finalPublic.transport);
    entryPoints[name] = branch;
  }
  return merged;
}
