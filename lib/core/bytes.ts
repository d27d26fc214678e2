/**
 * Byte arrays: joining parts read or encoded piece by piece.
 *
 * @module
 */

/**
 * The parts as one array.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { joinBytes } from "./bytes.ts";
 * assert.deepEqual(joinBytes([Uint8Array.of(1), Uint8Array.of(2, 3)]), Uint8Array.of(1, 2, 3));
 * ```
 */
export function joinBytes(parts: readonly Uint8Array[]): Uint8Array {
  const whole = new Uint8Array(parts.reduce((size, part) => size + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    whole.set(part, offset);
    offset += part.length;
  }
  return whole;
}

/**
 * The bytes as a string of one character per byte (U+0000 to U+00FF): what `btoa` takes, and
 * HTTP's field values as octets.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { binaryString } from "./bytes.ts";
 * assert.equal(binaryString(Uint8Array.of(0x61, 0xe9)), "a\u00e9");
 * ```
 */
export function binaryString(bytes: Uint8Array): string {
  let text = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return text;
}
