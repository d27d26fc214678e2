/**
 * Validation of one route as a caller gives it: routespec, target and data.
 *
 * @module
 */

import { UNIX_SCHEME, unixTarget } from "./unix_target.ts";
import { RouteDataError, TargetError } from "./errors.ts";
import { normalizeRoutespec } from "./routespec.ts";
import type { JsonValue, Route, RouteData } from "./types.ts";

/** A route as a caller gives it, before validation. */
export interface RouteInput {
  /** Routespec; normalised (a trailing slash added) on the way in. */
  routespec: string;
  /** Absolute http(s) URL. */
  target: string;
  /** JSON object stored with the route; `{}` when omitted. */
  data?: RouteData;
  /** ISO 8601 time of the route's last activity; `now` when omitted. */
  lastActivity?: string;
}

/** Options of `createRoute`. */
export interface CreateRouteOptions {
  /** The current time, for a route given without `lastActivity`. */
  now: Date;
}

/** Largest accepted target URL, in characters. */
export const MAX_TARGET_LENGTH = 2048;
/** Largest accepted route data, in characters of JSON. */
export const MAX_DATA_LENGTH = 64 * 1024;

/**
 * Validates a target URL: absolute, http or https with a host, or http+unix with a socket
 * path (see `unixTarget`), no credentials, no whitespace or control characters. Returns it
 * unchanged.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { validateTarget } from "./route.ts";
 * assert.deepEqual(validateTarget("http://127.0.0.1:8888"), "http://127.0.0.1:8888");
 * ```
 * @throws {TargetError} when the target is not such a URL.
 */
export function validateTarget(target: unknown): string {
  if (typeof target !== "string") throw new TargetError(target, "it must be a string");
  if (target.length > MAX_TARGET_LENGTH) {
    throw new TargetError(target.slice(0, 40) + "...", "it is too long");
  }
  // deno-lint-ignore no-control-regex
  if (/[\x00-\x20\x7f"'`<>\\{}|^]/.test(target)) {
    throw new TargetError(
      target,
      "it contains whitespace, quotes or characters not allowed in URLs",
    );
  }
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    throw new TargetError(target, "it is not an absolute URL");
  }
  if (url.protocol === UNIX_SCHEME) {
    if (unixTarget(target)) return target;
    throw new TargetError(
      target,
      "an http+unix target names an absolute socket path, percent-encoded, as its host " +
        "(http+unix://%2Frun%2Fuser.sock), with no port, credentials, query or fragment",
    );
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new TargetError(
      target,
      `scheme ${url.protocol} is not proxied (use http, https or http+unix)`,
    );
  }
  if (!url.hostname) throw new TargetError(target, "it has no host");
  if (url.username || url.password) {
    throw new TargetError(target, "credentials in the URL are not supported");
  }
  if (url.search || url.hash) throw new TargetError(target, "it has a query or fragment");
  return target;
}

/**
 * Validates route data: a JSON object (not an array), at most `MAX_DATA_LENGTH` characters as
 * JSON. Returns a deep copy.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { RouteDataError } from "./errors.ts";
 * import { validateData } from "./route.ts";
 * assert.deepEqual(validateData({ user: "alice", server_name: "" }), { user: "alice", server_name: "" });
 * assert.throws(() => validateData(["alice"]), RouteDataError);
 * ```
 * @throws {RouteDataError} when the data is not a JSON object or is too large.
 */
export function validateData(data: unknown): RouteData {
  if (data === undefined || data === null) return {};
  if (typeof data !== "object" || Array.isArray(data)) {
    throw new RouteDataError('route data must be a JSON object, such as {"user": "alice"}');
  }
  let text: string;
  try {
    text = JSON.stringify(data);
  } catch (error) {
    throw new RouteDataError("route data cannot be encoded as JSON", { cause: error });
  }
  if (text.length > MAX_DATA_LENGTH) {
    throw new RouteDataError(`route data is larger than ${MAX_DATA_LENGTH} characters of JSON`);
  }
  return JSON.parse(text) as { [key: string]: JsonValue };
}

/**
 * Validates a route and returns it with its routespec in canonical form, its data copied and
 * `lastActivity` set (to `now` when not given).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { createRoute } from "./route.ts";
 * const now = new Date("2026-01-01T00:00:00Z");
 * assert.deepEqual(createRoute({ routespec: "/user/a", target: "http://127.0.0.1:9000" }, { now }), {
 *   routespec: "/user/a/",
 *   target: "http://127.0.0.1:9000",
 *   data: {},
 *   lastActivity: "2026-01-01T00:00:00.000Z",
 * });
 * ```
 * @throws {RoutespecError | TargetError | RouteDataError} naming what is invalid.
 */
export function createRoute(input: RouteInput, options: CreateRouteOptions): Route {
  const lastActivity = input.lastActivity ?? options.now.toISOString();
  if (Number.isNaN(Date.parse(lastActivity))) {
    throw new RouteDataError(`lastActivity ${JSON.stringify(lastActivity)} is not a date`);
  }
  return {
    routespec: normalizeRoutespec(input.routespec),
    target: validateTarget(input.target),
    data: validateData(input.data),
    lastActivity,
  };
}
