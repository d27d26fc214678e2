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
