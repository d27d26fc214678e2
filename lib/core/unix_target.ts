/**
 * `http+unix://` targets, as JupyterHub writes them for servers bound to a unix socket: the
 * socket's path, percent-encoded, is the URL's host (`http+unix://%2Frun%2Fuser%2Fa.sock`).
 *
 * @module
 */

/**
 * The scheme of a target on a unix socket.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { UNIX_SCHEME } from "./unix_target.ts";
 * assert.equal(UNIX_SCHEME, "http+unix:");
 * ```
 */
export const UNIX_SCHEME = "http+unix:";

/**
 * A target on a unix socket, taken apart.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { type UnixTarget, unixTarget } from "./unix_target.ts";
 * const parts: UnixTarget | undefined = unixTarget("http+unix://%2Frun%2Fa.sock/user/a/");
 * assert.deepEqual(parts, { socket: "/run/a.sock", path: "/user/a/" });
 * ```
 */
export interface UnixTarget {
  /** Absolute path of the socket. */
  socket: string;
  /** The URL's path after the host (`""` when none). */
  path: string;
}

/**
 * Takes an `http+unix://` target apart; undefined for any other scheme, and for a host that is
 * not an absolute socket path (percent-encoded), or a URL with a port, credentials, query or
 * fragment.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { unixTarget } from "./unix_target.ts";
 * assert.deepEqual(unixTarget("http+unix://%2Frun%2Fa.sock"), { socket: "/run/a.sock", path: "" });
 * assert.equal(unixTarget("http://127.0.0.1:8888"), undefined);
 * assert.equal(unixTarget("http+unix://relative.sock"), undefined);
 * ```
 */
export function unixTarget(target: string): UnixTarget | undefined {
  if (!target.startsWith(`${UNIX_SCHEME}//`)) return undefined;
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    return undefined;
  }
  if (url.port || url.username || url.password || url.search || url.hash) return undefined;
  let socket: string;
  try {
    socket = decodeURIComponent(url.host);
  } catch {
    return undefined;
  }
  // deno-lint-ignore no-control-regex
  if (!socket.startsWith("/") || /[\x00-\x1f\x7f]/.test(socket)) return undefined;
  return { socket, path: url.pathname };
}
