/**
 * traefik rules and priorities for routespecs.
 *
 * Values are written as double-quoted Go string literals (never backticks), so no character of
 * a routespec can end the literal and inject rule syntax.
 *
 * @module
 */

import {
  encodedReserved,
  isPlainRoutespec,
  type ParsedRoutespec,
  parseRoutespec,
  routingPath,
  type RoutingToken,
  routingTokens,
} from "./routespec.ts";

/** Priority of the lowest route (`/`); longer routespecs get a higher priority. */
export const ROUTE_PRIORITY_BASE = 100;

/**
 * Priority of the catch-all router that sends traefik's unmatched requests to this process's
 * fallback: above the root route `/` (`ROUTE_PRIORITY_BASE + 1`), so that the fallback serves
 * it, and below every other route (a path route has at least `ROUTE_PRIORITY_BASE + 3`, a host
 * route `ROUTE_PRIORITY_BASE + 2` for a one-letter host, which ties).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { FALLBACK_PRIORITY, routePriority } from "./rule.ts";
 * import { parseRoutespec } from "./routespec.ts";
 * assert.ok(FALLBACK_PRIORITY > routePriority(parseRoutespec("/")));
 * assert.ok(FALLBACK_PRIORITY < routePriority(parseRoutespec("/a/")));
 * ```
 */
export const FALLBACK_PRIORITY: number = ROUTE_PRIORITY_BASE + 2;

/**
 * Priority of the router that sends every websocket handshake on the public entry point to this
 * process's fallback, which relays the websocket to its route's target and sees its messages
 * (a route's activity): above every route's router, whatever its rule's length (traefik's
 * default priority) or `routePriority`, and below the priorities traefik keeps for its own
 * routers (from 2^31 - 1000).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { routePriority, WEBSOCKET_PRIORITY } from "./rule.ts";
 * import { parseRoutespec } from "./routespec.ts";
 * const longest = parseRoutespec("/" + "a".repeat(2000) + "/");
 * assert.ok(WEBSOCKET_PRIORITY > routePriority(longest));
 * ```
 */
export const WEBSOCKET_PRIORITY = 1_000_000;

/**
 * Quotes a value as a Go string literal for a traefik rule. `"` and `\` are escaped, control
 * characters and `{` are written as `\xHH` (so `{{` never reaches traefik's template engine).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { goString } from "./rule.ts";
 * assert.deepEqual(goString('/a"b/'), "\"/a\\\"b/\"");
 * ```
 */
export function goString(value: string): string {
  let out = '"';
  for (const ch of value) {
    const code = ch.codePointAt(0)!;
    if (ch === '"' || ch === "\\") out += "\\" + ch;
    else if (code < 0x20 || code === 0x7f || ch === "{") {
      out += "\\x" + code.toString(16).padStart(2, "0");
    } else out += ch;
  }
  return out + '"';
}

// Reserved characters that a client may send literally or percent-encoded, and that traefik
// keeps apart; configurable-http-proxy decodes both to the same path. ("/" and "%" have one
// meaning each: "%2F" is never a segment boundary.)
const TWO_SPELLINGS = new Set(":?#[]@!$&'()*+,;=");

/**
 * Options of `routeRule`.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseRoutespec } from "./routespec.ts";
 * import { routeRule, type RouteRuleOptions } from "./rule.ts";
 * const options: RouteRuleOptions = { short: true };
 * assert.equal(routeRule(parseRoutespec("/user/a/"), options), 'PathPrefix("/user/a/")');
 * ```
 */
export interface RouteRuleOptions {
  /**
   * Leave the bare path (`/user/a`, no trailing slash) out of the rule: `PathPrefix("/user/a/")`
   * alone, one matcher instead of two for every request traefik tests against the router. Only
   * for a traefik whose catch-all router sends what no router matches to this process's fallback
   * (which routes the bare path as configurable-http-proxy does), and only for a route that no
   * other route of the table encloses (`shortRuleAllowed`): an enclosing route's router would
   * take the bare path. Ignored for the root and for a `PathRegexp` rule.
   */
  short?: boolean;
}

/**
 * The traefik rule matching a routespec by whole path segments, as configurable-http-proxy
 * does: `/user/a/` matches `/user/a` and `/user/a/...`, never `/user/ab`. A path holding a
 * reserved character that clients may spell two ways (`$` or `%24`, `@` or `%40`, ...) gets a
 * `PathRegexp` that accepts both spellings; every other path keeps the cheaper `Path` and
 * `PathPrefix` pair (`PathPrefix` alone with `options.short`).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseRoutespec } from "./routespec.ts";
 * import { routeRule } from "./rule.ts";
 * assert.equal(routeRule(parseRoutespec("/user/a/")), 'Path("/user/a") || PathPrefix("/user/a/")');
 * assert.equal(routeRule(parseRoutespec("/user/a$/")), 'PathRegexp("^/user/a(?:\\\\$|%24)(?:/|$)")');
 * assert.equal(routeRule(parseRoutespec("h.example/")), 'Host("h.example")');
 * ```
 * @throws {RoutespecError} when the routespec's path does not decode (see `routingTokens`).
 */
export function routeRule(spec: ParsedRoutespec, options: RouteRuleOptions = {}): string {
  let pathRule = "";
  let alone = false; // one matcher: no parentheses needed after `Host(...) &&`
  if (spec.path !== "/") {
    const tokens = routingTokens(spec.path, spec.routespec);
    if (twoSpelled(tokens)) {
      // without the last "/"
      pathRule = `PathRegexp(${goString(`^${pathPattern(tokens.slice(0, -1))}(?:/|$)`)})`;
    } else {
      const prefix = routingPath(spec.path, spec.routespec).slice(0, -1);
      alone = options.short === true;
      pathRule = alone
        ? `PathPrefix(${goString(prefix + "/")})`
        : `Path(${goString(prefix)}) || PathPrefix(${goString(prefix + "/")})`;
    }
  }
  if (spec.host === undefined) return pathRule || 'PathPrefix("/")';
  const host = goString(routingHost(spec.host));
  if (!pathRule) return `Host(${host})`;
  return alone ? `Host(${host}) && ${pathRule}` : `Host(${host}) && (${pathRule})`;
}

function twoSpelled(tokens: RoutingToken[]): boolean {
  return tokens.some((token) => "reserved" in token && TWO_SPELLINGS.has(token.reserved));
}

/**
 * A host as traefik's `Host` matcher compares it: without port or trailing dot, lowercase (a
 * routespec's host, or a request's Host header).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { routingHost } from "./rule.ts";
 * assert.equal(routingHost("H.Example.:8000"), "h.example");
 * ```
 */
export function routingHost(host: string): string {
  return host.replace(/:[0-9]*$/, "").replace(/\.$/, "").toLowerCase();
}

// Stands for "the table has a host route": a path route's bare path may be taken by any of them.
const ANY_HOST = "";

/**
 * Where a route stands in a table, for `shortRuleAllowed`: the keys the route puts in the
 * table's key set, and the keys of the routes whose router would take its bare path (`/user/a`)
 * if its own rule left that out.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseRoutespec } from "./routespec.ts";
 * import { type RuleScope, ruleScope } from "./rule.ts";
 * const scope: RuleScope = ruleScope(parseRoutespec("h.example/user/a/"));
 * assert.deepEqual(scope.keys, ["h.example/user/a/", ""]);
 * assert.ok(scope.enclosing?.includes("h.example/"));
 * ```
 */
export interface RuleScope {
  /** Keys this route adds to a table's key set (`ruleKeys`). */
  readonly keys: readonly string[];
  /**
   * Keys of the routes that enclose this one: a proper prefix of its path (not the root `/`,
   * which only the fallback serves), for a host route also its host's routes above it and a
   * path route of its own path, for a path route any host route. Undefined for a route with no
   * short rule (the root, a `PathRegexp`).
   */
  readonly enclosing?: readonly string[];
}

/**
 * The scope of one route (see `RuleScope`).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseRoutespec } from "./routespec.ts";
 * import { ruleScope } from "./rule.ts";
 * assert.deepEqual(ruleScope(parseRoutespec("/user/a/b/")), {
 *   keys: ["/user/a/b/"],
 *   enclosing: ["/user/", "/user/a/", ""],
 * });
 * assert.equal(ruleScope(parseRoutespec("/")).enclosing, undefined);
 * ```
 * @throws {RoutespecError} when the routespec's path does not decode (see `routingTokens`).
 */
export function ruleScope(spec: ParsedRoutespec): RuleScope {
  const host = spec.host === undefined ? undefined : routingHost(spec.host);
  const keys = host === undefined ? [spec.path] : [host + spec.path, ANY_HOST];
  if (spec.path === "/" || twoSpelled(routingTokens(spec.path, spec.routespec))) return { keys };
  const above: string[] = [];
  someProperPrefix(spec.path, (prefix) => (above.push(prefix), false));
  if (host === undefined) return { keys, enclosing: [...above, ANY_HOST] };
  return {
    keys,
    enclosing: [...above, spec.path, host + "/", ...above.map((path) => host + path)],
  };
}

/**
 * The key set of a table for `shortRuleAllowed`: every key of every route's scope.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseRoutespec } from "./routespec.ts";
 * import { ruleKeys, ruleScope } from "./rule.ts";
 * const keys = ruleKeys(["/user/a/", "h.example/x/"].map((r) => ruleScope(parseRoutespec(r))));
 * assert.deepEqual([...keys], ["/user/a/", "h.example/x/", ""]);
 * ```
 */
export function ruleKeys(scopes: Iterable<RuleScope>): Set<string> {
  const keys = new Set<string>();
  for (const scope of scopes) for (const key of scope.keys) keys.add(key);
  return keys;
}

/**
 * Whether a route of a table may have the short rule (`RouteRuleOptions.short`): no other route
 * of the table (`keys`, from `ruleKeys`) encloses it, so that its bare path reaches traefik's
 * catch-all router, whose fallback routes it to this route.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseRoutespec } from "./routespec.ts";
 * import { ruleKeys, ruleScope, shortRuleAllowed } from "./rule.ts";
 * const scopes = ["/", "/user/a/", "/user/a/server2/"].map((r) => ruleScope(parseRoutespec(r)));
 * const keys = ruleKeys(scopes);
 * assert.deepEqual(scopes.map((scope) => shortRuleAllowed(scope, keys)), [false, true, false]);
 * ```
 */
export function shortRuleAllowed(scope: RuleScope, keys: ReadonlySet<string>): boolean {
  return scope.enclosing !== undefined && !scope.enclosing.some((key) => keys.has(key));
}

/**
 * Adds one route's keys (`RuleScope.keys`) to a table's key set, from its canonical routespec:
 * what `ruleKeys` does with the route's scope, without parsing a path of unreserved characters
 * (a table's key set is then built at each write rather than kept per route).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { addRuleKeys } from "./rule.ts";
 * const keys = new Set<string>();
 * for (const routespec of ["/user/a/", "h.example/x/"]) addRuleKeys(keys, routespec);
 * assert.deepEqual([...keys], ["/user/a/", "h.example/x/", ""]);
 * ```
 * @throws {RoutespecError} for an invalid routespec.
 */
export function addRuleKeys(keys: Set<string>, routespec: string): void {
  // A plain routespec (`isPlainRoutespec`) is its scope's only key.
  if (isPlainRoutespec(routespec)) keys.add(routespec);
  else for (const key of ruleScope(parseRoutespec(routespec)).keys) keys.add(key);
}

/**
 * `shortRuleAllowed` for a route given by its canonical routespec, with `keys` from
 * `addRuleKeys`: a path of unreserved characters is checked without parsing it or building its
 * scope.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { addRuleKeys, shortRuleAllowedFor } from "./rule.ts";
 * const keys = new Set<string>();
 * for (const routespec of ["/", "/user/a/", "/user/a/server2/"]) addRuleKeys(keys, routespec);
 * assert.equal(shortRuleAllowedFor("/user/a/", keys), true);
 * assert.equal(shortRuleAllowedFor("/user/a/server2/", keys), false);
 * ```
 * @throws {RoutespecError} for an invalid routespec.
 */
export function shortRuleAllowedFor(routespec: string, keys: ReadonlySet<string>): boolean {
  if (!isPlainRoutespec(routespec)) {
    return shortRuleAllowed(ruleScope(parseRoutespec(routespec)), keys);
  }
  if (routespec.includes("@")) return false; // two spellings: a PathRegexp
  // ruleScope's enclosing keys of a path route: its proper prefixes but "/", and any host route.
  return !keys.has(ANY_HOST) && !someProperPrefix(routespec, (prefix) => keys.has(prefix));
}

// Whether `test` holds for a proper prefix of `path` of whole segments other than "/"
// (`/user/` for `/user/a/`), tried from the shortest.
function someProperPrefix(path: string, test: (prefix: string) => boolean): boolean {
  for (let end = path.indexOf("/", 1); end < path.length - 1; end = path.indexOf("/", end + 1)) {
    if (test(path.slice(0, end + 1))) return true;
  }
  return false;
}

// A Go (RE2) regular expression matching the routing path of `tokens` in every spelling.
function pathPattern(tokens: RoutingToken[]): string {
  let pattern = "";
  for (const token of tokens) {
    if ("text" in token) pattern += quoteMeta(token.text);
    else if (TWO_SPELLINGS.has(token.reserved)) {
      pattern += `(?:${quoteMeta(token.reserved)}|${encodedReserved(token.reserved)})`;
    } else pattern += token.encoded ? encodedReserved(token.reserved) : token.reserved;
  }
  return pattern;
}

// Go's regexp.QuoteMeta: escapes every character with a meaning in a regular expression.
function quoteMeta(text: string): string {
  return text.replace(/[\\.+*?()|[\]{}^$]/g, "\\$&");
}

/**
 * The explicit priority of a routespec's router: longer (more specific) routespecs win.
 * traefik's default priority is the rule's length, which does not follow path specificity.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseRoutespec } from "./routespec.ts";
 * import { routePriority } from "./rule.ts";
 * assert.deepEqual(routePriority(parseRoutespec("/")) < routePriority(parseRoutespec("/user/")), true);
 * ```
 */
export function routePriority(spec: ParsedRoutespec): number {
  const hostLength = spec.host === undefined ? 0 : spec.host.length;
  return ROUTE_PRIORITY_BASE + hostLength + [...routingPath(spec.path, spec.routespec)].length;
}
