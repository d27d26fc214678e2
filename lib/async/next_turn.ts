/**
 * Letting the event loop run between slices of a long computation.
 *
 * @module
 */

/**
 * Resolves on a later turn of the event loop, after the I/O callbacks and timers that were
 * ready, not merely after the pending microtasks (as `await` alone does). Unlike
 * `setTimeout(0)`, which runs 1–4 ms later once timers nest, it costs tens of microseconds: a
 * loop that renders thousands of routes can yield every few milliseconds and hold up requests
 * no longer than one slice.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { nextTurn } from "./next_turn.ts";
 * let timerRan = false;
 * setTimeout(() => timerRan = true, 0);
 * // Busy for 5 ms: the timer is due, but cannot run.
 * const until = performance.now() + 5;
 * let spins = 0;
 * while (performance.now() < until) spins++;
 * await Promise.resolve();
 * assert.equal(timerRan, false); // a microtask is no turn of the event loop
 * for (let i = 0; i < 10 && !timerRan; i++) await nextTurn();
 * assert.equal(timerRan, true);
 * ```
 */
export function nextTurn(): Promise<void> {
  const { port1, port2 } = new MessageChannel();
  return new Promise((resolve) => {
    port1.onmessage = () => {
      port1.close();
      resolve();
    };
    port2.postMessage(undefined);
    port2.close();
  });
}
