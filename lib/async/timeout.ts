/**
 * Waiting for a promise with a time limit.
 *
 * @module
 */

/** What `withTimeout` resolves to when the time runs out first. */
export const TIMED_OUT: unique symbol = Symbol("timed out");

/**
 * Resolves to the promise's value, or to `TIMED_OUT` after `ms`; a rejection passes through.
 * The timer is always cleared.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { TIMED_OUT, withTimeout } from "./timeout.ts";
 * assert.equal(await withTimeout(new Promise(() => {}), 10), TIMED_OUT);
 * assert.equal(await withTimeout(Promise.resolve(7), 1_000), 7);
 * ```
 */
export async function withTimeout<T>(
  promise: Promise<T>,
  ms: number,
): Promise<T | typeof TIMED_OUT> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<typeof TIMED_OUT>((resolve) => {
    timer = setTimeout(() => resolve(TIMED_OUT), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
