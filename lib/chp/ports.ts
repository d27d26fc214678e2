/**
 * Ports at start-up: fail early, with the flag to change, when an address is taken, and pick a
 * free loopback port for traefik's private API.
 *
 * @module
 */

import { ConfigError } from "../core/errors.ts";
import type { Bind } from "./settings.ts";

/**
 * Checks that `bind` can be listened on now, by listening and closing at once. Port 0 (any
 * free port) is not checked.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkFree } from "./ports.ts";
 * assert.equal(checkFree({ hostname: "127.0.0.1", port: 0, what: "--port" }), undefined);
 * ```
 * @throws {ConfigError} naming `bind.what` when the address is in use or cannot be listened on.
 */
export function checkFree(bind: Bind): void {
  const { hostname, port, what } = bind;
  if (port === 0) return;
  let listener: Deno.Listener | undefined;
  try {
    listener = Deno.listen({ hostname: hostname.replace(/^\[|\]$/g, ""), port });
  } catch (error) {
    if (error instanceof Deno.errors.AddrInUse) {
      throw new ConfigError(
        `${what}: ${hostname}:${port} is already in use; stop what listens there or choose ` +
          "another port",
      );
    }
    throw new ConfigError(
      `${what}: cannot listen on ${hostname}:${port}: ${(error as Error).message}`,
    );
  } finally {
    listener?.close();
  }
}

/**
 * A TCP port on 127.0.0.1 that is free now (the system picks it).
 *
 * @example Usage
 * ```ts ignore
 * import assert from "node:assert/strict";
 * import { freeLoopbackPort } from "./ports.ts";
 * const port = freeLoopbackPort(); // needs --allow-net
 * assert.ok(port > 0 && port < 65536);
 * ```
 */
export function freeLoopbackPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  return port;
}
