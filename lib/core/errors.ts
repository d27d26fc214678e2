/**
 * Typed errors. Each message says what went wrong and what to do about it.
 *
 * @module
 */

/** Base class of every error this package throws on purpose. */
export class ProxyError extends Error {
  /** Creates the error; `name` is the concrete class name. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * A routespec that cannot be routed safely (bad characters, dot segments, a bad host).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { RoutespecError } from "./errors.ts";
 * const error = new RoutespecError("/a b/", "it contains a space");
 * assert.equal(error.routespec, "/a b/");
 * ```
 */
export class RoutespecError extends ProxyError {
  /** The routespec as given. */
  readonly routespec: string;
  /** Creates the error for `routespec`, saying `why` it was rejected. */
  constructor(routespec: string, why: string) {
    super(
      `invalid routespec ${JSON.stringify(routespec)}: ${why}; ` +
        "use a percent-encoded path such as /user/alice/ or host.example/user/alice/",
    );
    this.routespec = routespec;
  }
}

/**
 * A route target that is not an absolute http(s) URL.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { TargetError } from "./errors.ts";
 * const error = new TargetError("ftp://x", "only http and https are proxied");
 * assert.equal(error.target, "ftp://x");
 * ```
 */
export class TargetError extends ProxyError {
  /** The target as given. */
  readonly target: unknown;
  /** Creates the error for `target`, saying `why` it was rejected. */
  constructor(target: unknown, why: string) {
    super(
      `invalid target ${JSON.stringify(target)}: ${why}; ` +
        "give an absolute URL such as http://127.0.0.1:8888",
    );
    this.target = target;
  }
}

/**
 * Route data that is not a JSON object, or that cannot be stored safely.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { RouteDataError } from "./errors.ts";
 * const error = new RouteDataError("data must be a JSON object");
 * assert.equal(error.name, "RouteDataError");
 * ```
 */
export class RouteDataError extends ProxyError {}

/**
 * traefik did not confirm a route change within the timeout.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { RouteTimeoutError } from "./errors.ts";
 * const error = new RouteTimeoutError("/user/a/", "served", 30_000);
 * assert.equal(error.timeoutMs, 30_000);
 * ```
 */
export class RouteTimeoutError extends ProxyError {
  /** The routespec that was not confirmed. */
  readonly routespec: string;
  /** How long traefik was given, in ms. */
  readonly timeoutMs: number;
  /** Creates the error for `routespec`, waiting for it to be `state` for `timeoutMs`. */
  constructor(routespec: string, state: "served" | "removed", timeoutMs: number) {
    super(
      `traefik did not report route ${JSON.stringify(routespec)} as ${state} within ` +
        `${timeoutMs} ms; check traefik's log for configuration errors and that traefik reads ` +
        "the same provider this proxy writes, or allow it more time",
    );
    this.routespec = routespec;
    this.timeoutMs = timeoutMs;
  }
}

/**
 * The traefik binary could not be found.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { TraefikNotFoundError } from "./errors.ts";
 * const error = new TraefikNotFoundError("/opt/traefik");
 * assert.equal(error.path, "/opt/traefik");
 * ```
 */
export class TraefikNotFoundError extends ProxyError {
  /** The explicit binary that is missing, if one was given. */
  readonly path?: string;
  /** Creates the error; `path` is the explicit binary that is missing, if one was given. */
  constructor(path?: string) {
    super(
      path
        ? `traefik was not found at ${path} (not an executable file); fix the path, or give ` +
          "none to search TRAEFIK_BIN, PATH and .tools/bin"
        : "traefik was not found in TRAEFIK_BIN, on PATH, in the install-traefik cache or in " +
          ".tools/bin; run `deno task install-traefik` (or ./setup.sh), or set TRAEFIK_BIN to a " +
          "traefik v3 binary",
    );
    this.path = path;
  }
}

/**
 * traefik exited, or never became ready.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { TraefikStartError } from "./errors.ts";
 * const error = new TraefikStartError("traefik exited with code 1 before it was ready");
 * assert.ok(error instanceof Error);
 * ```
 */
export class TraefikStartError extends ProxyError {}

/**
 * The route store (file, redis, etcd) failed or holds something unreadable.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { StoreError } from "./errors.ts";
 * const error = new StoreError("redis at redis://127.0.0.1:6379 is unreachable");
 * assert.equal(error.name, "StoreError");
 * ```
 */
export class StoreError extends ProxyError {}

/**
 * A configuration option or command-line flag that is invalid.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { ConfigError } from "./errors.ts";
 * const error = new ConfigError("the port must be a number between 0 and 65535");
 * assert.equal(error.name, "ConfigError");
 * ```
 */
export class ConfigError extends ProxyError {}

/**
 * The fallback cannot run with this store or traefik (a store that cannot be followed, an
 * external traefik without the catch-all router to it): turn it off, or fix what is named.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { ConfigError, FallbackError } from "./errors.ts";
 * const error = new FallbackError("the redis store cannot be followed");
 * assert.equal(error.name, "FallbackError");
 * assert.ok(error instanceof ConfigError);
 * ```
 */
export class FallbackError extends ConfigError {}
