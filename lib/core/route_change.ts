/**
 * Batches of route changes.
 *
 * @module
 */

import type { Route, RouteChange } from "./types.ts";

/**
 * One change with the effect of `changes` applied in order (each first its `set`, then its
 * `delete`): every routespec appears once, as its last state.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { mergeChanges } from "./route_change.ts";
 * const a = { routespec: "/a/", target: "http://127.0.0.1:9000", data: {} };
 * const b = { routespec: "/b/", target: "http://127.0.0.1:9001", data: {} };
 * assert.deepEqual(
 *   mergeChanges([{ set: [a, b] }, { delete: ["/a/"] }, { set: [{ ...b, target: "http://x" }] }]),
 *   { set: [{ ...b, target: "http://x" }], delete: ["/a/"] },
 * );
 * ```
 */
export function mergeChanges(changes: RouteChange[]): RouteChange {
  if (changes.length === 1) return changes[0];
  const last = new Map<string, Route | undefined>();
  for (const change of changes) {
    for (const route of change.set ?? []) {
      last.delete(route.routespec);
      last.set(route.routespec, route);
    }
    for (const spec of change.delete ?? []) {
      last.delete(spec);
      last.set(spec, undefined);
    }
  }
  const set: Route[] = [];
  const gone: string[] = [];
  for (const [spec, route] of last) {
    if (route) set.push(route);
    else gone.push(spec);
  }
  return { set, delete: gone };
}
