/**
 * When a traefik fed from a file by this process gets its next write. traefik rebuilds every
 * router on each write (seconds at 10,000 routes, on a core or more), and while it does, the
 * requests it serves and this process wait for CPU. With a fallback serving the routes traefik
 * has not loaded yet, most writes are not urgent: a new route is served at once either way, and
 * traefik takes it over whenever it rebuilds. So writes go out at the pace traefik can take:
 *
 * - never while traefik is still applying the previous write (changes meanwhile go together in
 *   the next one, the latest of each route winning);
 * - a change somebody waits for traefik to show (a deletion, a new target, a route a longer
 *   existing prefix captures in traefik) goes as soon as that write is applied;
 * - other changes (new routes the fallback serves) wait a while, `idleFactor` times traefik's
 *   last rebuild (at most `maxDeferMs`), both after traefik applied the last write and after
 *   the oldest of them arrived: during a login storm traefik rebuilds a fraction of the time
 *   instead of all of it, and a burst of adds is not slowed by a rebuild it started itself.
 *
 * Pure: the clock and traefik's progress are arguments.
 *
 * @module
 */

import { routespecPrefixes } from "./route_index.ts";
import type { Route, RouteChange } from "./types.ts";

/** The root route: served by the fallback, never a traefik router of the feed. */
const ROOT = "/";

/**
 * Whether a change needs traefik to rebuild before the caller that made it can be answered:
 * it deletes or retargets a route traefik has (in `written`, the routes of the last write), or
 * adds one inside another route (a proper prefix of it other than `/`, in `written`, set by the
 * same change, or in `options.pending`, the routespecs set by changes not written yet): the
 * fallback then waits for traefik, which sends its requests to the outer route until it
 * rebuilds. New routes nothing captures are served by the fallback meanwhile.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { needsTraefik } from "./feed_pace.ts";
 * const route = (routespec: string, target = "http://127.0.0.1:9000") => ({ routespec, target, data: {} });
 * const written = new Map([["/user/a/", route("/user/a/")]]);
 * assert.equal(needsTraefik({ set: [route("/user/b/")] }, written), false);
 * assert.equal(needsTraefik({ set: [route("/user/a/", "http://127.0.0.1:9001")] }, written), true);
 * assert.equal(needsTraefik({ set: [route("/user/a/lab/")] }, written), true);
 * assert.equal(needsTraefik({ delete: ["/user/a/"] }, written), true);
 * assert.equal(needsTraefik({ delete: ["/user/never-written/"] }, written), false);
 * assert.equal(needsTraefik({ set: [route("/user/b/lab/")] }, written, { pending: new Set(["/user/b/"]) }), true);
 * ```
 * @throws {RoutespecError} for an invalid routespec in the change.
 */
export function needsTraefik(
  change: RouteChange,
  written: ReadonlyMap<string, Route>,
  options: { pending?: ReadonlySet<string> } = {},
): boolean {
  if ((change.delete ?? []).some((spec) => written.has(spec))) return true;
  const sets = change.set ?? [];
  if (sets.length === 0) return false;
  const setNow = new Set(sets.map((route) => route.routespec));
  for (const route of sets) {
    const before = written.get(route.routespec);
    if (before !== undefined) {
      if (before.target !== route.target) return true;
      continue;
    }
    if (route.routespec === ROOT) continue;
    const captured = routespecPrefixes(route.routespec).some((prefix) =>
      prefix !== ROOT &&
      (written.has(prefix) || setNow.has(prefix) || options.pending?.has(prefix) === true)
    );
    if (captured) return true;
  }
  return false;
}

/** What `feedWriteDelay` decides from. Times in ms on one clock. */
export interface FeedPaceState {
  /** Now. */
  now: number;
  /** The pending changes include one that `needsTraefik`. */
  urgent: boolean;
  /**
   * When traefik had applied the last write (undefined: not yet, or nothing written yet: see
   * `written`).
   */
  appliedAt?: number;
  /** Whether anything was written yet (the first write goes at once). */
  written: boolean;
  /** When the oldest pending change arrived. */
  pendingSince: number;
  /** How long traefik took to apply the last write that changed its file. */
  rebuildMs: number;
  /** traefik idles this many times its last rebuild before a deferrable write; default 2. */
  idleFactor?: number;
  /** The longest a deferrable write waits after traefik applied the last one; default 5,000. */
  maxDeferMs?: number;
}

/**
 * How long to wait before writing the pending changes: 0 for the first write and for urgent
 * changes once traefik has applied the last write; for the others, the idle time after that
 * and after the oldest of them arrived; `Infinity` while traefik is still applying the last
 * write (ask again once it has).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { feedWriteDelay } from "./feed_pace.ts";
 * const state = { now: 1_000, written: true, appliedAt: 900, rebuildMs: 300, pendingSince: 950 };
 * assert.equal(feedWriteDelay({ ...state, urgent: true }), 0);
 * assert.equal(feedWriteDelay({ ...state, urgent: false }), 550); // 950 + 2 x 300 - 1,000
 * assert.equal(feedWriteDelay({ ...state, urgent: true, appliedAt: undefined }), Infinity);
 * assert.equal(feedWriteDelay({ ...state, written: false, urgent: false }), 0);
 * ```
 */
export function feedWriteDelay(state: FeedPaceState): number {
  if (!state.written) return 0;
  if (state.appliedAt === undefined) return Infinity;
  if (state.urgent) return 0;
  const idle = Math.min(
    (state.idleFactor ?? 2) * state.rebuildMs,
    state.maxDeferMs ?? 5_000,
  );
  return Math.max(0, Math.max(state.appliedAt, state.pendingSince) + idle - state.now);
}
