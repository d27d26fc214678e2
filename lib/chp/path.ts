/**
 * configurable-http-proxy's route paths: how the REST API names a routespec.
 *
 * JupyterHub turns `/user/alice/` into `/api/routes/user/alice` and, with host routing,
 * `host.example/user/alice/` into `/api/routes/host.example/user/alice`. In `GET /api/routes`
 * the keys come back percent-decoded, as CHP returns them (JupyterHub quotes them again).
 *
 * @module
 */

import { RoutespecError } from "../core/errors.ts";
import { normalizeRoutespec } from "../core/routespec.ts";

/**
 * Options of the CHP path conversions.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { type ChpPathOptions, routespecFromChpPath } from "./path.ts";
 * const options: ChpPathOptions = { hostRouting: true };
 * assert.equal(routespecFromChpPath("/h.example/", options), "h.example/");
 * ```
 */
export interface ChpPathOptions {
  /** With host routing, the first path segment is the host. */
  hostRouting?: boolean;
}

/**
 * The routespec of a CHP API path (the part after `/api/routes`, still percent-encoded).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { routespecFromChpPath } from "./path.ts";
 * assert.equal(routespecFromChpPath("/user/alice"), "/user/alice/");
 * assert.equal(routespecFromChpPath("/h.example/user/a", { hostRouting: true }), "h.example/user/a/");
 * assert.equal(routespecFromChpPath(""), "/");
 * ```
 * @throws {RoutespecError} when the path is not a valid routespec.
 */
export function routespecFromChpPath(path: string, options: ChpPathOptions = {}): string {
  let spec = path === "" ? "/" : path;
  if (!spec.startsWith("/")) throw new RoutespecError(path, "an API path starts with '/'");
  if (options.hostRouting && spec !== "/") spec = spec.slice(1);
  return normalizeRoutespec(spec);
}

/**
 * The CHP key of a routespec as `GET /api/routes` returns it: no trailing slash (except for
 * `/`), host routes with a leading `/`, percent-decoded.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { chpPathFromRoutespec } from "./path.ts";
 * assert.equal(chpPathFromRoutespec("/user/a%20b/"), "/user/a b");
 * assert.equal(chpPathFromRoutespec("h.example/user/a/"), "/h.example/user/a");
 * ```
 */
export function chpPathFromRoutespec(routespec: string): string {
  let path = routespec.startsWith("/") ? routespec : "/" + routespec;
  if (path.length > 1 && path.endsWith("/")) path = path.slice(0, -1);
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}
