/**
 * Waiting that a stop cuts short.
 *
 * @module
 */

/**
 * Resolves after `ms`, or at once when `signal` aborts (or has aborted, or `ms` is not
 * positive); the timer and the listener are always removed.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { sleep } from "./sleep.ts";
 * const stop = new AbortController();
 * const started = performance.now();
 * const sleeping = sleep(60_000, stop.signal);
 * stop.abort();
 * await sleeping;
 * assert.ok(performance.now() - started < 1_000);
 * ```
 */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted || ms <= 0) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}
