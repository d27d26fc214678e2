/**
 * A router no client request ever matches: it matches only a host under `.invalid` (reserved,
 * RFC 2606), and goes to traefik's `noop@internal`. The sentinel and the feed stamp are such
 * routers: they exist to be seen in traefik's API.
 *
 * @module
 */

/**
 * The router for the reserved host `<name>.invalid` on `entryPoint`.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { reservedRouter } from "./_reserved_router.ts";
 * assert.equal(reservedRouter("x", "http").rule, 'Host("x.invalid")');
 * ```
 */
export function reservedRouter(name: string, entryPoint: string) {
  return {
    rule: `Host("${name}.invalid")`,
    service: "noop@internal",
    entryPoints: [entryPoint],
    priority: 1,
  };
}
