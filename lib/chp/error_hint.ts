/**
 * Error messages as the command line reports them: the core's errors say what to do without
 * naming a flag; here the flag that does it is added.
 *
 * @module
 */

import { FallbackError, RouteTimeoutError, TraefikNotFoundError } from "../core/errors.ts";

/**
 * The message of `error`, with the CLI flag that fixes it when there is one:
 * `--traefik-bin` for a missing traefik, `--check-route-timeout` for a route traefik did not
 * confirm in time.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { RouteTimeoutError } from "../core/errors.ts";
 * import { withFlagHint } from "./error_hint.ts";
 * const message = withFlagHint(new RouteTimeoutError("/user/a/", "served", 30_000));
 * assert.match(message, /raise --check-route-timeout \(now 30 s\)$/);
 * assert.equal(withFlagHint(new Error("other")), "other");
 * ```
 */
export function withFlagHint(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof TraefikNotFoundError) {
    return `${message} (the binary is set by --traefik-bin or TRAEFIK_BIN)`;
  }
  if (error instanceof FallbackError) {
    return `${message}; the fallback needs it: fix it, or turn the fallback off (--no-fallback)`;
  }
  if (error instanceof RouteTimeoutError) {
    return `${message}: raise --check-route-timeout (now ${error.timeoutMs / 1000} s)`;
  }
  return message;
}
