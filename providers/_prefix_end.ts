/**
 * The end of an etcd key range.
 *
 * @module
 */

import { Buffer } from "node:buffer";

/**
 * The end of the key range holding every key that starts with `prefix` (etcd's `range_end`):
 * the prefix with its last byte below 0xff incremented.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { Buffer } from "node:buffer";
 * import { prefixEnd } from "./etcd.ts";
 * assert.equal(prefixEnd(Buffer.from("ab")).toString(), "ac");
 * ```
 */
export function prefixEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i] < 0xff) {
      end[i]++;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]); // every key
}
