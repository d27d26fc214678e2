/**
 * Activity of routes in a shared store (redis, etcd, consul), so that the traffic every
 * replica's traefik serves moves one `last_activity`: one key per route,
 * `<jupyterhub prefix>/shared/activity/<router name>`, holding an ISO 8601 time that only moves
 * forward (compare-and-set: a replica that saw older traffic never overwrites newer). The keys
 * are outside traefik's prefix and outside the route records, so writing them makes neither
 * traefik nor any replica rebuild a route.
 *
 * @module
 */

import { routerName, routespecOfRouter } from "../core/names.ts";
import type { ActivitySink } from "./tracker.ts";

/**
 * The part of a shared store this needs (`SharedValues` of `providers/kv_store.ts`): values
 * with versions, compare-and-set, and a listing by prefix.
 */
export interface ActivityValues {
  /** The value of `key` and its opaque version, or undefined. */
  get(key: string): Promise<{ value: string; version: string } | undefined>;
  /** Every key that starts with `prefix` (given without it), with its value. */
  list(prefix: string): Promise<Map<string, string>>;
  /** Sets (null: deletes) `key` only if its version is still `version` (undefined: absent). */
  compareAndSet(key: string, version: string | undefined, value: string | null): Promise<boolean>;
}

const PREFIX = "activity/";

/** How many routes' keys are written at once. */
const CONCURRENCY = 16;

/**
 * The activity sink over a store's shared values (`KvStore.values`).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { type ActivityValues, sharedActivity } from "./shared_activity.ts";
 * const map = new Map<string, string>();
 * const values: ActivityValues = {
 *   get: (key) => Promise.resolve(map.has(key) ? { value: map.get(key)!, version: map.get(key)! } : undefined),
 *   list: (prefix) =>
 *     Promise.resolve(new Map([...map].filter(([key]) => key.startsWith(prefix)).map(([key, value]) => [key.slice(prefix.length), value]))),
 *   compareAndSet(key, version, value) {
 *     if (map.get(key) !== version) return Promise.resolve(false);
 *     if (value === null) map.delete(key);
 *     else map.set(key, value);
 *     return Promise.resolve(true);
 *   },
 * };
 * const sink = sharedActivity(values);
 * await sink.raise(new Map([["/user/a/", "2026-01-01T00:01:00.000Z"]]));
 * await sink.raise(new Map([["/user/a/", "2026-01-01T00:00:00.000Z"]])); // earlier: not written
 * assert.equal(map.get("activity/router__2Fuser_2Fa_2F"), "2026-01-01T00:01:00.000Z");
 * assert.deepEqual(await sink.read(), new Map([["/user/a/", "2026-01-01T00:01:00.000Z"]]));
 * assert.equal(await sink.readOne("/user/a/"), "2026-01-01T00:01:00.000Z");
 * ```
 */
export function sharedActivity(values: ActivityValues): ActivitySink {
  async function raiseOne(routespec: string, time: string): Promise<void> {
    const key = PREFIX + routerName(routespec);
    const ms = Date.parse(time);
    // Another replica may write between the read and the write: read again and retry.
    for (let attempt = 0; attempt < 5; attempt++) {
      const current = await values.get(key);
      if (current !== undefined && !(Date.parse(current.value) < ms)) return;
      if (await values.compareAndSet(key, current?.version, time)) return;
    }
  }

  return {
    async read() {
      const found = await values.list(PREFIX);
      const times = new Map<string, string>();
      for (const [router, time] of found) {
        const routespec = routespecOfRouter(router);
        if (routespec !== undefined && !Number.isNaN(Date.parse(time))) times.set(routespec, time);
      }
      return times;
    },
    async readOne(routespec) {
      const time = (await values.get(PREFIX + routerName(routespec)))?.value;
      return time !== undefined && !Number.isNaN(Date.parse(time)) ? time : undefined;
    },
    async raise(updates) {
      const queue = [...updates];
      const workers = Array.from({ length: Math.min(CONCURRENCY, queue.length) }, async () => {
        for (let next = queue.pop(); next !== undefined; next = queue.pop()) {
          await raiseOne(next[0], next[1]);
        }
      });
      await Promise.all(workers);
    },
    async forget(routespec) {
      const key = PREFIX + routerName(routespec);
      for (let attempt = 0; attempt < 5; attempt++) {
        const current = await values.get(key);
        if (current === undefined) return;
        if (await values.compareAndSet(key, current.version, null)) return;
      }
    },
  };
}
