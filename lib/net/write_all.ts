/**
 * Writing every byte to a connection, whose `write` may take only part of them.
 *
 * @module
 */

/**
 * Writes `bytes` whole to `to`.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { writeAll } from "./write_all.ts";
 * const got: number[] = [];
 * // A writer that takes one byte per call.
 * await writeAll({ write: (p) => Promise.resolve(got.push(p[0]) && 1) }, Uint8Array.of(1, 2, 3));
 * assert.deepEqual(got, [1, 2, 3]);
 * ```
 * @throws whatever `to.write` throws (a closed connection).
 */
export async function writeAll(
  to: { write(bytes: Uint8Array): Promise<number> },
  bytes: Uint8Array,
): Promise<void> {
  for (let done = 0; done < bytes.length;) done += await to.write(bytes.subarray(done));
}
