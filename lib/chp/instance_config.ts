/**
 * The dynamic configuration that belongs to one proxy process rather than to the shared
 * routing table: `/_chp_healthz`, the catch-all for unmatched requests (the default target,
 * or a 404 page), error pages for unreachable targets, and custom request headers.
 *
 * @module
 */

import { ConfigError } from "../core/errors.ts";
import { goString } from "../core/rule.ts";
import type { ConfigTree } from "../core/types.ts";

/**
 * Path of the internal server's error pages, used by traefik's errors middleware.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { ERROR_PAGE_PATH } from "./instance_config.ts";
 * assert.equal(ERROR_PAGE_PATH, "/_jupyterhub_traefik_error");
 * ```
 */
export const ERROR_PAGE_PATH = "/_jupyterhub_traefik_error";
/**
 * Path answered with `{"status": "OK"}` on the public port, as CHP does.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { HEALTHZ_PATH } from "./instance_config.ts";
 * assert.equal(HEALTHZ_PATH, "/_chp_healthz");
 * ```
 */
export const HEALTHZ_PATH = "/_chp_healthz";
/**
 * Path prefix of ACME HTTP-01 challenges, answered by this process's internal server.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { ACME_CHALLENGE_PATH } from "./instance_config.ts";
 * assert.equal(ACME_CHALLENGE_PATH, "/.well-known/acme-challenge/");
 * ```
 */
export const ACME_CHALLENGE_PATH = "/.well-known/acme-challenge/";

/**
 * Options of `instanceConfig`.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { instanceConfig, type InstanceConfigOptions } from "./instance_config.ts";
 * const options: InstanceConfigOptions = {
 *   entryPoint: "http",
 *   internalUrl: "http://127.0.0.1:40000",
 *   defaultTarget: "http://127.0.0.1:8081",
 * };
 * const http = instanceConfig(options).config.http as { services: Record<string, unknown> };
 * assert.ok("jupyterhub-default-target" in http.services);
 * ```
 */
export interface InstanceConfigOptions {
  /** Public entry point name. */
  entryPoint: string;
  /** URL of this process's internal server (healthz, error pages). */
  internalUrl: string;
  /** Where unmatched requests go (CHP's `--default-target`); default: a 404 page. */
  defaultTarget?: string;
  /**
   * This process's fallback takes traefik's unmatched requests (and the default target): no
   * catch-all router here.
   */
  fallback?: boolean;
  /** Headers added to every proxied request (`Name: value`). */
  customHeaders?: string[];
  /**
   * Entry points on which ACME HTTP-01 challenges reach this process (above every route);
   * none: no challenge router.
   */
  acmeEntryPoints?: string[];
}

/**
 * The per-instance configuration and the entry-point middlewares it defines.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { type InstanceConfig, instanceConfig } from "./instance_config.ts";
 * const instance: InstanceConfig = instanceConfig({
 *   entryPoint: "http",
 *   internalUrl: "http://127.0.0.1:40000",
 * });
 * assert.deepEqual(instance.middlewares, ["jupyterhub-errors"]);
 * ```
 */
export interface InstanceConfig {
  /** Dynamic configuration to write beside (or apart from) the routes. */
  config: ConfigTree;
  /** Middleware names to attach to the public entry point (provider-local). */
  middlewares: string[];
}

/**
 * Builds the per-instance dynamic configuration.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { instanceConfig } from "./instance_config.ts";
 * const { middlewares } = instanceConfig({
 *   entryPoint: "http",
 *   internalUrl: "http://127.0.0.1:40000",
 *   customHeaders: ["X-Proxy: traefik"],
 * });
 * assert.deepEqual(middlewares, ["jupyterhub-errors", "jupyterhub-headers"]);
 * ```
 * @throws {ConfigError} for an invalid custom header.
 */
export function instanceConfig(options: InstanceConfigOptions): InstanceConfig {
  const entryPoints = [options.entryPoint];
  const routers: ConfigTree = {
    "jupyterhub-healthz": {
      rule: `Path(${goString(HEALTHZ_PATH)})`,
      service: "jupyterhub-internal",
      entryPoints,
      priority: 1 << 30,
    },
  };
  if (options.acmeEntryPoints?.length) {
    routers["jupyterhub-acme-challenge"] = {
      rule: `PathPrefix(${goString(ACME_CHALLENGE_PATH)})`,
      service: "jupyterhub-internal",
      entryPoints: options.acmeEntryPoints,
      priority: 1 << 30,
    };
  }
  if (!options.fallback) {
    routers["jupyterhub-default"] = {
      rule: 'PathPrefix("/")',
      service: options.defaultTarget ? "jupyterhub-default-target" : "jupyterhub-internal",
      entryPoints,
      priority: 2,
    };
  }
  const services: ConfigTree = {
    "jupyterhub-internal": {
      loadBalancer: { servers: [{ url: options.internalUrl }], passHostHeader: true },
    },
  };
  if (options.defaultTarget && !options.fallback) {
    services["jupyterhub-default-target"] = {
      loadBalancer: { servers: [{ url: options.defaultTarget }], passHostHeader: true },
    };
  }
  const middlewares: ConfigTree = {
    "jupyterhub-errors": {
      errors: {
        status: ["502"],
        service: "jupyterhub-internal",
        query: `${ERROR_PAGE_PATH}/{status}?url={url}`,
        // configurable-http-proxy answers 503 when a target is down; traefik says 502.
        statusRewrites: { "502": 503 },
      },
    },
  };
  const names = ["jupyterhub-errors"];
  const headers = parseHeaders(options.customHeaders ?? []);
  if (Object.keys(headers).length > 0) {
    middlewares["jupyterhub-headers"] = { headers: { customRequestHeaders: headers } };
    names.push("jupyterhub-headers");
  }
  return { config: { http: { routers, services, middlewares } }, middlewares: names };
}

/**
 * Parses `Name: value` header lines (CHP's `--custom-header`).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { ConfigError } from "../core/errors.ts";
 * import { parseHeaders } from "./instance_config.ts";
 * assert.deepEqual(parseHeaders(["X-Proxy: traefik"]), { "X-Proxy": "traefik" });
 * assert.throws(() => parseHeaders(["no colon"]), ConfigError);
 * ```
 * @throws {ConfigError} for a line without a colon or with an invalid header name.
 */
export function parseHeaders(lines: string[]): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(":");
    const name = line.slice(0, colon).trim();
    if (colon < 0 || !/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(name)) {
      throw new ConfigError(`--custom-header ${JSON.stringify(line)} is not 'Name: value'`);
    }
    headers[name] = line.slice(colon + 1).trim();
  }
  return headers;
}
