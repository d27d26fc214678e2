/**
 * The path of a request as its client sent it, for routing and for proxying unchanged.
 *
 * @module
 */

/**
 * The path and query of a request URL exactly as the client sent them (percent-encoding
 * intact, no normalisation), as the `Request.url` an HTTP server hands its handler carries them.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { rawRequestPath } from "./request_path.ts";
 * assert.equal(rawRequestPath("http://h:8000/user/a%24b/x?y=1"), "/user/a%24b/x?y=1");
 * assert.equal(rawRequestPath("http://h:8000"), "/");
 * ```
 */
export function rawRequestPath(url: string): string {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  return start < 0 ? "/" : url.slice(start);
}
