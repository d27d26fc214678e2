/**
 * The stamp of a traefik feed: a router, written with every write of a file this process feeds
 * traefik from, whose rule carries the write's number. traefik applies a file as a whole, so
 * once its API shows the stamp of write `n`, it serves every route as write `n` had it: one
 * small request tells whether any number of routes have been taken over.
 *
 * The router matches only the host `jupyterhub-feed-<n>.invalid` (a reserved name no client
 * sends), on the private entry point given, and goes to traefik's `noop@internal` service.
 *
 * @module
 */

import type { ConfigTree, Route } from "./types.ts";
import { reservedRouter } from "./_reserved_router.ts";

/** The stamp router's name (`jupyterhub-feed@file` in traefik's API). */
export const FEED_STAMP_NAME = "jupyterhub-feed";

const RULE = /^Host\("jupyterhub-feed-([0-9]{1,16})\.invalid"\)$/;

/**
 * The dynamic configuration of the stamp of write number `write`.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { FEED_STAMP_NAME, feedStampConfig } from "./feed_stamp.ts";
 * const config = feedStampConfig({ entryPoint: "http", write: 7 }) as {
 *   http: { routers: Record<string, { rule: string }> };
 * };
 * assert.equal(config.http.routers[FEED_STAMP_NAME].rule, 'Host("jupyterhub-feed-7.invalid")');
 * ```
 * @throws {RangeError} when `write` is not a non-negative safe integer.
 */
export function feedStampConfig(options: { entryPoint: string; write: number }): ConfigTree {
  const { write } = options;
  if (!Number.isSafeInteger(write) || write < 0) {
    throw new RangeError(`a feed stamp needs a non-negative integer, not ${write}`);
  }
  return {
    http: {
      routers: {
        [FEED_STAMP_NAME]: reservedRouter(`${FEED_STAMP_NAME}-${write}`, options.entryPoint),
      },
    },
  };
}

/**
 * The write number of a stamp router as traefik's API shows it (`GET
 * /api/http/routers/jupyterhub-feed@file`), or undefined when it is not a stamp.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { feedStampOf } from "./feed_stamp.ts";
 * assert.equal(feedStampOf({ rule: 'Host("jupyterhub-feed-12.invalid")', status: "enabled" }), 12);
 * assert.equal(feedStampOf({ rule: 'Host("example.org")' }), undefined);
 * assert.equal(feedStampOf(null), undefined);
 * ```
 */
export function feedStampOf(router: unknown): number | undefined {
  if (typeof router !== "object" || router === null) return undefined;
  const rule = (router as { rule?: unknown }).rule;
  if (typeof rule !== "string") return undefined;
  const found = RULE.exec(rule);
  return found ? Number(found[1]) : undefined;
}

/**
 * One write of a feed: its number and the routes it holds, by routespec. The map must not
 * change afterwards (a store hands a new one for every write).
 */
export interface FeedWrite {
  /** The write's number, as in its stamp. */
  readonly write: number;
  /** The routes the write holds. */
  readonly table: ReadonlyMap<string, Route>;
}

/**
 * Where a feed reports its writes (`OpenedStore.feedWrites`): a listener gets the newest write
 * at once, then every write after it.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import type { FeedWrite, FeedWrites } from "./feed_stamp.ts";
 * const listeners = new Set<(write: FeedWrite) => void>();
 * const writes: FeedWrites = {
 *   subscribe(listener) {
 *     listeners.add(listener);
 *     listener({ write: 1, table: new Map() });
 *     return () => listeners.delete(listener);
 *   },
 * };
 * const seen: number[] = [];
 * const stop = writes.subscribe((w) => seen.push(w.write));
 * stop();
 * assert.deepEqual(seen, [1]);
 * ```
 */
export interface FeedWrites {
  /** Calls `listener` with the newest write now and with each later one; returns its stop. */
  subscribe(listener: (write: FeedWrite) => void): () => void;
}
