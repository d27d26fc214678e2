/**
 * Routespecs: parsing, normalisation, validation and traefik's routing-path form.
 *
 * A routespec is a path (`/user/alice/`) or a host followed by a path
 * (`alice.example.org/user/alice/`). Paths arrive percent-encoded, as JupyterHub sends them.
 *
 * @module
 */

import { RoutespecError } from "./errors.ts";

/** A routespec split into its parts. */
export interface ParsedRoutespec {
  /** The normalised routespec: the path always ends with `/`. */
  routespec: string;
  /** The host for host-based routes, as given (with its port, if any); undefined otherwise. */
  host?: string;
  /** The path part, percent-encoded as given, always ending with `/`. */
  path: string;
}

/** Longest routespec accepted, in characters. */
export const MAX_ROUTESPEC_LENGTH = 2048;

// RFC 3986 pchar without pct-encoded (handled separately), plus "/".
const PATH_CHAR = /[A-Za-z0-9\-._~!$&'()*+,;=:@/]/;
const HOST =
  /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?(?::[0-9]{1,5})?$/;
// Characters that traefik keeps percent-encoded in its routing path (plus "%" itself).
const RESERVED = new Set(":/?#[]@!$&'()*+,;=%");

/**
 * Parses and normalises a routespec; a path without a trailing slash gets one.
 *
 * @example
 * ```ts
 * import { parseRoutespec } from "./routespec.ts";
 * parseRoutespec("/user/alice"); // { routespec: "/user/alice/", path: "/user/alice/" }
 * parseRoutespec("h.example/user/a/"); // host "h.example", path "/user/a/"
 * ```
 * @throws {RoutespecError} when the routespec has characters that are not allowed in a URL
 *   path, invalid percent-encoding, empty or dot segments, or an invalid host.
 */
export function parseRoutespec(routespec: string): ParsedRoutespec {
  if (typeof routespec !== "string" || routespec.length === 0) {
    throw new RoutespecError(String(routespec), "it is empty");
  }
  if (routespec.length > MAX_ROUTESPEC_LENGTH) {
    throw new RoutespecError(
      routespec.slice(0, 40) + "...",
      `it is longer than ${MAX_ROUTESPEC_LENGTH} characters`,
    );
  }
  let host: string | undefined;
  let path = routespec;
  if (!routespec.startsWith("/")) {
    const slash = routespec.indexOf("/");
    host = slash < 0 ? routespec : routespec.slice(0, slash);
    path = slash < 0 ? "/" : routespec.slice(slash);
    if (!HOST.test(host)) {
      throw new RoutespecError(
        routespec,
        `host ${
          JSON.stringify(host)
        } is not a DNS name (letters, digits, '-', '.', optional :port)`,
      );
    }
  }
  if (!path.endsWith("/")) path += "/";
  checkPath(routespec, path);
  // One spelling per path: percent-escapes in uppercase, as JupyterHub writes them.
  path = path.replace(/%[0-9a-f]{2}/gi, (escape) => escape.toUpperCase());
  return host === undefined ? { routespec: path, path } : { routespec: host + path, host, path };
}

/**
 * Returns the normalised form of a routespec.
 *
 * @example
 * ```ts
 * import { normalizeRoutespec } from "./routespec.ts";
 * normalizeRoutespec("/user/alice"); // "/user/alice/"
 * ```
 * @throws {RoutespecError} as `parseRoutespec`.
 */
export function normalizeRoutespec(routespec: string): string {
  return parseRoutespec(routespec).routespec;
}

function checkPath(routespec: string, path: string): void {
  for (let i = 0; i < path.length; i++) {
    const c = path[i];
    if (c === "%") {
      if (!/^[0-9A-Fa-f]{2}$/.test(path.slice(i + 1, i + 3))) {
        throw new RoutespecError(routespec, `'%' at offset ${i} is not followed by two hex digits`);
      }
      i += 2;
    } else if (c.charCodeAt(0) < 0x80 && !PATH_CHAR.test(c)) {
      throw new RoutespecError(
        routespec,
        `character ${JSON.stringify(c)} is not allowed in a URL path; percent-encode it`,
      );
    }
  }
  const routing = routingPath(path, routespec);
  if (routing.includes("//")) throw new RoutespecError(routespec, "it has an empty segment (//)");
  if (/\/\.\.?(?:\/|$)/.test(routing)) {
    throw new RoutespecError(routespec, "it has a '.' or '..' segment, which never matches");
  }
}

/**
 * Converts a percent-encoded path into traefik's routing-path form (traefik >= 3.4.1): `%XX`
 * escapes are decoded, except those of reserved characters (`:/?#[]@!$&'()*+,;=` and `%`),
 * which stay encoded with uppercase hex digits. This is the form traefik matches `Path` and
 * `PathPrefix` rules against.
 *
 * @example
 * ```ts
 * import { routingPath } from "./routespec.ts";
 * routingPath("/user/a%20b/"); // "/user/a b/"
 * routingPath("/user/a%2fb/"); // "/user/a%2Fb/"
 * routingPath("/user/%C3%A9/"); // "/user/é/"
 * ```
 * @throws {RoutespecError} when the decoded bytes are not valid UTF-8 or decode to a control
 *   character.
 */
export function routingPath(path: string, routespec: string = path): string {
  if (!path.includes("%")) return path;
  const out: string[] = [];
  let bytes: number[] = [];
  const flush = () => {
    if (bytes.length === 0) return;
    try {
      out.push(new TextDecoder("utf-8", { fatal: true }).decode(new Uint8Array(bytes)));
    } catch {
      throw new RoutespecError(routespec, "its percent-encoded bytes are not valid UTF-8");
    }
    bytes = [];
  };
  for (let i = 0; i < path.length; i++) {
    if (path[i] !== "%") {
      flush();
      out.push(path[i]);
      continue;
    }
    const byte = parseInt(path.slice(i + 1, i + 3), 16);
    i += 2;
    const ch = String.fromCharCode(byte);
    if (byte < 0x80 && RESERVED.has(ch)) {
      flush();
      out.push("%" + byte.toString(16).toUpperCase().padStart(2, "0"));
    } else if (byte < 0x20 || byte === 0x7f) {
      throw new RoutespecError(routespec, "it encodes a control character");
    } else {
      bytes.push(byte);
    }
  }
  flush();
  return out.join("");
}
