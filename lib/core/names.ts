/**
 * traefik router and service names, identical to those of the Python
 * jupyterhub-traefik-proxy 2.x so that a store can be shared with it.
 *
 * @module
 */

const SAFE = /[A-Za-z0-9-]/;
// Every character but those, one code point at a time (a surrogate pair is one character).
const UNSAFE = /[^A-Za-z0-9-]/gu;
const encoder = new TextEncoder();
const hexByte = (byte: number) => "_" + byte.toString(16).toUpperCase().padStart(2, "0");
const ASCII_ESCAPES = Array.from({ length: 0x80 }, (_, code) => hexByte(code));

/**
 * Escapes a string for use in a traefik name: every character outside `[A-Za-z0-9-]` becomes
 * `_` followed by the uppercase hex of each of its UTF-8 bytes.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { escapeName } from "./names.ts";
 * assert.deepEqual(escapeName("/user/alice/"), "_2Fuser_2Falice_2F");
 * ```
 */
export function escapeName(value: string): string {
  return value.replace(UNSAFE, escapeCharacter);
}

// One character (a code point) as `_XX` per UTF-8 byte.
function escapeCharacter(character: string): string {
  const code = character.charCodeAt(0);
  if (code < 0x80) return ASCII_ESCAPES[code];
  let out = "";
  for (const byte of encoder.encode(character)) out += hexByte(byte);
  return out;
}

/**
 * The router name of a normalised routespec.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { routerName } from "./names.ts";
 * assert.deepEqual(routerName("/user/alice/"), "router__2Fuser_2Falice_2F");
 * ```
 */
export function routerName(routespec: string): string {
  return "router_" + escapeName(routespec);
}

/**
 * The service name of a normalised routespec.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { serviceName } from "./names.ts";
 * assert.deepEqual(serviceName("/user/alice/"), "service__2Fuser_2Falice_2F");
 * ```
 */
export function serviceName(routespec: string): string {
  return "service_" + escapeName(routespec);
}

const HEX_BYTE = /^[0-9A-F]{2}$/;

/**
 * The routespec a router name was made from (`routerName`'s inverse), with or without traefik's
 * `@provider` suffix; undefined for a name `routerName` cannot have produced (traefik's own
 * routers, this proxy's fixed ones).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { routerName, routespecOfRouter } from "./names.ts";
 * assert.equal(routespecOfRouter("router__2Fuser_2Fal_C3_AFce_2F@file"), "/user/alïce/");
 * assert.equal(routespecOfRouter(routerName("hub.example/")), "hub.example/");
 * assert.equal(routespecOfRouter("jupyterhub-api@file"), undefined);
 * ```
 */
export function routespecOfRouter(name: string): string | undefined {
  const at = name.indexOf("@");
  const bare = at === -1 ? name : name.slice(0, at);
  if (!bare.startsWith("router_")) return undefined;
  const escaped = bare.slice("router_".length);
  const bytes: number[] = [];
  for (let i = 0; i < escaped.length; i++) {
    const ch = escaped[i];
    if (ch !== "_") {
      if (!SAFE.test(ch)) return undefined;
      bytes.push(ch.charCodeAt(0));
      continue;
    }
    const hex = escaped.slice(i + 1, i + 3);
    if (!HEX_BYTE.test(hex)) return undefined;
    bytes.push(parseInt(hex, 16));
    i += 2;
  }
  let routespec: string;
  try {
    routespec = new TextDecoder("utf-8", { fatal: true }).decode(new Uint8Array(bytes));
  } catch {
    return undefined;
  }
  // Only the canonical escape round-trips (`_2D` for a `-` is not one routerName writes).
  return routespec !== "" && routerName(routespec) === bare ? routespec : undefined;
}
