/**
 * traefik router and service names, identical to those of the Python
 * jupyterhub-traefik-proxy 2.x so that a store can be shared with it.
 *
 * @module
 */

const SAFE = /[A-Za-z0-9-]/;
const encoder = new TextEncoder();

/**
 * Escapes a string for use in a traefik name: every character outside `[A-Za-z0-9-]` becomes
 * `_` followed by the uppercase hex of each of its UTF-8 bytes.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { escapeName } from "./names.ts";
 * assert.deepEqual(escapeName("/user/alice/"), "_2Fuser_2Falice_2F");
 * ```
 */
export function escapeName(value: string): string {
  let out = "";
  for (const ch of value) {
    if (SAFE.test(ch)) {
      out += ch;
      continue;
    }
    for (const byte of encoder.encode(ch)) {
      out += "_" + byte.toString(16).toUpperCase().padStart(2, "0");
    }
  }
  return out;
}

/**
 * The router name of a normalised routespec.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { routerName } from "./names.ts";
 * assert.deepEqual(routerName("/user/alice/"), "router__2Fuser_2Falice_2F");
 * ```
 */
export function routerName(routespec: string): string {
  return "router_" + escapeName(routespec);
}

/**
 * The service name of a normalised routespec.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { serviceName } from "./names.ts";
 * assert.deepEqual(serviceName("/user/alice/"), "service__2Fuser_2Falice_2F");
 * ```
 */
export function serviceName(routespec: string): string {
  return "service_" + escapeName(routespec);
}
