/**
 * Runs clean-up steps in order, each whatever the previous ones did.
 *
 * @module
 */

/**
 * Runs every step in order; a step that throws or rejects does not stop the next.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { runAll } from "./run_all.ts";
 * const done: number[] = [];
 * await runAll([() => void done.push(1), () => { throw new Error("x"); }, () => void done.push(3)]);
 * assert.deepEqual(done, [1, 3]);
 * ```
 */
export async function runAll(steps: Iterable<() => Promise<unknown> | unknown>): Promise<void> {
  for (const step of steps) {
    try {
      await step();
    } catch {
      // keep going: every step gets its turn
    }
  }
}
