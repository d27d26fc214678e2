/**
 * traefik rules and priorities for routespecs.
 *
 * Values are written as double-quoted Go string literals (never backticks), so no character of
 * a routespec can end the literal and inject rule syntax.
 *
 * @module
 */

import { type ParsedRoutespec, routingPath } from "./routespec.ts";

/** Priority of the lowest route (`/`); longer routespecs get a higher priority. */
export const ROUTE_PRIORITY_BASE = 100;

/**
 * Quotes a value as a Go string literal for a traefik rule. `"` and `\` are escaped, control
 * characters and `{` are written as `\xHH` (so `{{` never reaches traefik's template engine).
 *
 * @example
 * ```ts
 * import { goString } from "./rule.ts";
 * goString('/a"b/'); // "\"/a\\\"b/\""
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

/**
 * The traefik rule matching a routespec by whole path segments, as configurable-http-proxy
 * does: `/user/a/` matches `/user/a` and `/user/a/...`, never `/user/ab`.
 *
 * @example
 * ```ts
 * import { parseRoutespec } from "./routespec.ts";
 * import { routeRule } from "./rule.ts";
 * routeRule(parseRoutespec("/user/a/")); // 'Path("/user/a") || PathPrefix("/user/a/")'
 * routeRule(parseRoutespec("h.example/")); // 'Host("h.example")'
 * ```
 */
export function routeRule(spec: ParsedRoutespec): string {
  let pathRule = "";
  if (spec.path !== "/") {
    const prefix = routingPath(spec.path, spec.routespec).slice(0, -1);
    pathRule = `Path(${goString(prefix)}) || PathPrefix(${goString(prefix + "/")})`;
  }
  if (spec.host === undefined) return pathRule || 'PathPrefix("/")';
  const host = goString(spec.host.replace(/:[0-9]+$/, "").replace(/\.$/, "").toLowerCase());
  return pathRule ? `Host(${host}) && (${pathRule})` : `Host(${host})`;
}

/**
 * The explicit priority of a routespec's router: longer (more specific) routespecs win.
 * traefik's default priority is the rule's length, which does not follow path specificity.
 *
 * @example
 * ```ts
 * import { parseRoutespec } from "./routespec.ts";
 * import { routePriority } from "./rule.ts";
 * routePriority(parseRoutespec("/")) < routePriority(parseRoutespec("/user/")); // true
 * ```
 */
export function routePriority(spec: ParsedRoutespec): number {
  const hostLength = spec.host === undefined ? 0 : spec.host.length;
  return ROUTE_PRIORITY_BASE + hostLength + [...routingPath(spec.path, spec.routespec)].length;
}
