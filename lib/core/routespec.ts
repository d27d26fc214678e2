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
  /** The canonical routespec (see `parseRoutespec`): the path always ends with `/`. */
  routespec: string;
  /** The host for host-based routes, as given (with its port, if any); undefined otherwise. */
  host?: string;
  /** The path part in canonical form, always ending with `/`. */
  path: string;
}

/** Longest routespec accepted, in characters. */
export const MAX_ROUTESPEC_LENGTH = 2048;

// RFC 3986 pchar without pct-encoded (handled separately), plus "/".
const PATH_CHAR = /[A-Za-z0-9\-._~!$&'()*+,;=:@/]/;
const HOST =
  /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?(?::[0-9]{1,5})?$/;
// Characters that traefik keeps as the client sent them in its routing path (plus "%" itself).
const RESERVED = new Set(":/?#[]@!$&'()*+,;=%");
// Characters the canonical form keeps as they are; JupyterHub's quote(name, safe="@~").
const CANONICAL_SAFE = /[A-Za-z0-9\-._~@]/;

/**
 * Whether `routespec` is a canonical path that needs no decoding: no host, segments of unreserved
 * characters and `@` (which the canonical form keeps as it is), none `.` or `..`, a trailing `/`,
 * at most `MAX_ROUTESPEC_LENGTH` characters. `parseRoutespec` gives such a routespec back as it is.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { isPlainRoutespec } from "./routespec.ts";
 * assert.equal(isPlainRoutespec("/user/alice@example.org/"), true);
 * assert.equal(isPlainRoutespec("/user/a%24b/"), false); // an escape to decode
 * assert.equal(isPlainRoutespec("/user/alice"), false); // no trailing slash yet
 * ```
 */
export function isPlainRoutespec(routespec: string): boolean {
  return routespec.length <= MAX_ROUTESPEC_LENGTH && PLAIN_PATH.test(routespec);
}

const PLAIN_PATH = /^(?:\/(?!\.\.?\/)[A-Za-z0-9._~@-]+)+\/$/;

/**
 * Parses a routespec into its canonical form, the one JupyterHub computes: a path without a
 * trailing slash gets one, and within each segment every character outside `A-Z a-z 0-9 - . _ ~
 * @` is percent-encoded with uppercase hex digits (UTF-8 for non-ASCII). So every spelling of
 * the same decoded path (`/user/a$b`, `/user/a%24b`, `/user/a%24b/`) is one routespec, as in
 * configurable-http-proxy, and router names match the Python proxy's for the hub's routes. An
 * encoded slash (`%2F`) stays inside its segment: it never becomes a segment boundary.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseRoutespec } from "./routespec.ts";
 * assert.deepEqual(parseRoutespec("/user/alice"), { routespec: "/user/alice/", path: "/user/alice/" });
 * assert.equal(parseRoutespec("/user/a$b!").routespec, "/user/a%24b%21/");
 * assert.equal(parseRoutespec("h.example/user/a/").host, "h.example");
 * ```
 * @throws {RoutespecError} when the routespec has characters that are not allowed in a URL
 *   path, invalid percent-encoding or UTF-8, a control character, empty or dot segments, or an
 *   invalid host.
 */
export function parseRoutespec(routespec: string): ParsedRoutespec {
  if (typeof routespec !== "string" || routespec.length === 0) {
    throw new RoutespecError(String(routespec), "it is empty");
  }
  // Most routespecs (`/user/alice/`) are canonical already: nothing to decode.
  if (isPlainRoutespec(routespec)) return { routespec, path: routespec };
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
  path = canonicalPath(routespec, path);
  return host === undefined ? { routespec: path, path } : { routespec: host + path, host, path };
}

/**
 * Returns the canonical form of a routespec (see `parseRoutespec`).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { normalizeRoutespec } from "./routespec.ts";
 * assert.equal(normalizeRoutespec("/user/alice"), "/user/alice/");
 * assert.equal(normalizeRoutespec("/user/a%7cb"), "/user/a%7Cb/");
 * ```
 * @throws {RoutespecError} as `parseRoutespec`.
 */
export function normalizeRoutespec(routespec: string): string {
  return parseRoutespec(routespec).routespec;
}

function canonicalPath(routespec: string, path: string): string {
  if (!path.isWellFormed()) throw new RoutespecError(routespec, "it is not valid Unicode");
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
  const segments = path.split("/");
  for (let i = 1; i < segments.length - 1; i++) {
    let segment: string;
    try {
      segment = decodeURIComponent(segments[i]);
    } catch {
      throw new RoutespecError(routespec, "its percent-encoded bytes are not valid UTF-8");
    }
    // deno-lint-ignore no-control-regex
    if (/[\x00-\x1f\x7f]/.test(segment)) {
      throw new RoutespecError(routespec, "it encodes a control character");
    }
    if (segment === "") throw new RoutespecError(routespec, "it has an empty segment (//)");
    if (segment === "." || segment === "..") {
      throw new RoutespecError(routespec, "it has a '.' or '..' segment, which never matches");
    }
    segments[i] = encodeSegment(segment);
  }
  return segments.join("/");
}

/**
 * The canonical form of one raw path segment as a client sent it (percent-encoding as
 * received), as `parseRoutespec` writes segments; undefined when the segment cannot be part of
 * a route (empty, `.` or `..`, invalid percent-encoding or UTF-8, a control character). Used to
 * match request paths against routespecs.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { canonicalSegment } from "./routespec.ts";
 * assert.equal(canonicalSegment("a$b"), "a%24b");
 * assert.equal(canonicalSegment("a%24b"), "a%24b");
 * assert.equal(canonicalSegment("%61lice"), "alice");
 * assert.equal(canonicalSegment("a%2Fb"), "a%2Fb");
 * assert.equal(canonicalSegment("%zz"), undefined);
 * ```
 */
export function canonicalSegment(raw: string): string | undefined {
  if (!raw.includes("%")) {
    if (SIMPLE_SEGMENT.test(raw)) return raw;
    if (raw === "" || !raw.isWellFormed()) return undefined;
  }
  let segment: string;
  try {
    segment = decodeURIComponent(raw);
  } catch {
    return undefined;
  }
  // deno-lint-ignore no-control-regex
  if (segment === "" || segment === "." || segment === ".." || /[\x00-\x1f\x7f]/.test(segment)) {
    return undefined;
  }
  return encodeSegment(segment);
}

// A segment already in canonical form with nothing to decode (the common case).
const SIMPLE_SEGMENT = /^(?!\.\.?$)[A-Za-z0-9\-._~@]+$/;

function encodeSegment(segment: string): string {
  let out = "";
  for (const ch of segment) {
    if (CANONICAL_SAFE.test(ch)) out += ch;
    else for (const byte of encoder.encode(ch)) out += percent(byte);
  }
  return out;
}

const encoder = new TextEncoder();

function percent(byte: number): string {
  return "%" + byte.toString(16).toUpperCase().padStart(2, "0");
}

/**
 * One piece of a path as traefik's router sees it: decoded text, or a reserved character
 * (`:/?#[]@!$&'()*+,;=` or `%`) that traefik keeps as the client sent it, literally or
 * percent-encoded.
 */
export type RoutingToken =
  | { text: string }
  | { reserved: string; encoded: boolean };

/**
 * Splits a percent-encoded path into the pieces of traefik's routing-path form (traefik >=
 * 3.4.1): `%XX` escapes of unreserved bytes are decoded, reserved characters keep their
 * spelling. The parts of `routingPath`, and of the rules that accept either spelling of a
 * reserved character.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { routingTokens } from "./routespec.ts";
 * assert.deepEqual(routingTokens("/a%20b%24"), [
 *   { reserved: "/", encoded: false },
 *   { text: "a b" },
 *   { reserved: "$", encoded: true },
 * ]);
 * ```
 * @throws {RoutespecError} when the decoded bytes are not valid UTF-8 or decode to a control
 *   character.
 */
export function routingTokens(path: string, routespec: string = path): RoutingToken[] {
  const out: RoutingToken[] = [];
  let text = "";
  let bytes: number[] = [];
  const flush = () => {
    if (bytes.length > 0) {
      try {
        text += new TextDecoder("utf-8", { fatal: true }).decode(new Uint8Array(bytes));
      } catch {
        throw new RoutespecError(routespec, "its percent-encoded bytes are not valid UTF-8");
      }
      bytes = [];
    }
  };
  const reserved = (ch: string, encoded: boolean) => {
    flush();
    if (text) out.push({ text });
    text = "";
    out.push({ reserved: ch, encoded });
  };
  for (let i = 0; i < path.length; i++) {
    const c = path[i];
    if (c !== "%") {
      if (RESERVED.has(c)) reserved(c, false);
      else {
        flush();
        text += c;
      }
      continue;
    }
    const byte = parseInt(path.slice(i + 1, i + 3), 16);
    i += 2;
    const ch = String.fromCharCode(byte);
    if (byte < 0x80 && RESERVED.has(ch)) reserved(ch, true);
    else if (byte < 0x20 || byte === 0x7f) {
      throw new RoutespecError(routespec, "it encodes a control character");
    } else bytes.push(byte);
  }
  flush();
  if (text) out.push({ text });
  return out;
}

/**
 * A reserved character as traefik spells it when the client percent-encoded it.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodedReserved } from "./routespec.ts";
 * assert.equal(encodedReserved("$"), "%24");
 * ```
 */
export function encodedReserved(ch: string): string {
  return percent(ch.charCodeAt(0));
}

/**
 * Converts a percent-encoded path into traefik's routing-path form (traefik >= 3.4.1): `%XX`
 * escapes are decoded, except those of reserved characters (`:/?#[]@!$&'()*+,;=` and `%`),
 * which stay encoded with uppercase hex digits. This is the form traefik matches `Path` and
 * `PathPrefix` rules against.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { routingPath } from "./routespec.ts";
 * assert.equal(routingPath("/user/a%20b/"), "/user/a b/");
 * assert.equal(routingPath("/user/a%2fb/"), "/user/a%2Fb/");
 * assert.equal(routingPath("/user/%C3%A9/"), "/user/é/");
 * ```
 * @throws {RoutespecError} when the decoded bytes are not valid UTF-8 or decode to a control
 *   character.
 */
export function routingPath(path: string, routespec: string = path): string {
  if (!path.includes("%")) return path;
  return routingTokens(path, routespec).map((token) =>
    "text" in token ? token.text : token.encoded ? encodedReserved(token.reserved) : token.reserved
  ).join("");
}
