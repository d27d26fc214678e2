/**
 * Pacing the changes handed to a slow follower of the store.
 *
 * @module
 */

import type { MirrorTarget } from "../core/store.ts";

/** Options of `paced`. */
export interface PacedOptions {
  /**
   * The least time between two changes handed on, in ms; a function is asked before each
   * change (the interval may follow the target's size).
   */
  intervalMs: number | (() => number);
}

/**
 * A follower that hands `target` at most one change per `intervalMs`: a call made sooner waits
 * for the rest of the interval. Meant for a `Store.mirror` target, whose caller applies one
 * change at a time and merges what arrives meanwhile into the next one, so a paced follower
 * gets fewer, larger changes. traefik's file a fallback stands in for is one: each write costs
 * traefik a rebuild of every router, and the fallback serves new routes in the meantime.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { paced } from "./paced.ts";
 * const times: number[] = [];
 * const target = paced({ apply: () => (times.push(Date.now()), Promise.resolve()) }, {
 *   intervalMs: 50,
 * });
 * await target.apply({ set: [] });
 * await target.apply({ set: [] });
 * assert.ok(times[1] - times[0] >= 45);
 * ```
 */
export function paced(target: MirrorTarget, options: PacedOptions): MirrorTarget {
  let last = -Infinity;
  return {
    async apply(change) {
      const interval = typeof options.intervalMs === "function"
        ? options.intervalMs()
        : options.intervalMs;
      const wait = last + interval - Date.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      last = Date.now();
      await target.apply(change);
    },
  };
}
