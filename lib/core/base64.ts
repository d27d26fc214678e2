/**
 * Base64 of bytes, and of text as its UTF-8 bytes: consul's KV API and the WebSocket handshake.
 *
 * @module
 */

import { binaryString } from "./bytes.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * The base64 form of a string (its UTF-8 bytes) or of bytes.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { fromBase64, toBase64 } from "./base64.ts";
 * assert.equal(fromBase64(toBase64("café/π")), "café/π");
 * assert.equal(toBase64(new Uint8Array([0xff, 0])), "/wA=");
 * ```
 */
export function toBase64(value: string | Uint8Array): string {
  // ASCII text is its own UTF-8 (nearly every key and value): no bytes in between.
  if (typeof value === "string" && ASCII.test(value)) return btoa(value);
  const bytes = typeof value === "string" ? encoder.encode(value) : value;
  return btoa(binaryString(bytes));
}

/**
 * The bytes of a base64 value.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { bytesFromBase64 } from "./base64.ts";
 * assert.deepEqual([...bytesFromBase64("/wA=")], [0xff, 0]);
 * ```
 */
export function bytesFromBase64(value: string): Uint8Array {
  const binary = atob(value);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/**
 * The string a base64 value holds (UTF-8); `""` for null, undefined or empty (etcd and consul
 * leave an empty value out).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { fromBase64 } from "./base64.ts";
 * assert.equal(fromBase64(btoa("x")), "x");
 * assert.equal(fromBase64(null), "");
 * ```
 */
export function fromBase64(value: string | null | undefined): string {
  if (!value) return "";
  const binary = atob(value);
  return ASCII.test(binary) ? binary : decoder.decode(bytesFromBase64(value));
}

// deno-lint-ignore no-control-regex
const ASCII = /^[\x00-\x7f]*$/;
