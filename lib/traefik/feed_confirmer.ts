/**
 * Confirms route changes on a traefik fed from a file this process writes with a stamp
 * (`feedStampConfig`): a change is taken over once a write that holds it is the one traefik has
 * applied. One small request per poll (the stamp router) serves every waiting route, whatever
 * their number and the table's size, where per-route checks or `/api/rawdata` grow with both.
 *
 * @module
 */

import { FEED_STAMP_NAME, feedStampOf, type FeedWrite } from "../core/feed_stamp.ts";
import type { RouteConfirmer } from "../core/confirmer.ts";
import type { Route } from "../core/types.ts";
import type { TraefikApi } from "./api.ts";
import { type Wait, waitPoller } from "./_poll.ts";

/** Options of `feedConfirmer`. */
export interface FeedConfirmerOptions {
  /** How long to wait for each change, in ms; default 30,000. */
  timeoutMs?: number;
  /** Pause between polls, in ms; default 250. */
  intervalMs?: number;
  /** Ends the confirmer: pending changes reject with the signal's reason, no more polls. */
  signal?: AbortSignal;
  /** Reads traefik's applied stamp; default a `feedStampReader` of its own. */
  applied?: () => Promise<number | undefined>;
}

/** A `RouteConfirmer` told of the feed's writes. */
export interface FeedConfirmer extends RouteConfirmer {
  /** Hand it every write of the feed (`FeedWrites.subscribe`). */
  written(write: FeedWrite): void;
}

interface Expectation extends Wait {
  /** Target to see, or undefined when the route must be gone. */
  target?: string;
  /** The first write that holds the change, once written. */
  write?: number;
}

/**
 * A confirmer over a stamped feed: `served` and `removed` resolve once traefik has applied a
 * write of the feed that holds the change; they reject with `RouteTimeoutError` after
 * `timeoutMs`. The stamp is read from `GET /api/http/routers/jupyterhub-feed@file`.
 *
 * A change is matched on the table a write holds, not on its place in the store's history: a
 * write made before an earlier change to the same route reached the file can look like it
 * (add, delete and add again within one paced write). The fallback router orders the changes to
 * one routespec to narrow this; carrying each change's position through the mirrors to the
 * feed's writes would close it.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { feedConfirmer } from "./feed_confirmer.ts";
 * import { feedStampConfig } from "../core/feed_stamp.ts";
 * // A traefik API that has applied write 2.
 * const stamp = feedStampConfig({ entryPoint: "http", write: 2 }) as {
 *   http: { routers: Record<string, unknown> };
 * };
 * const api = {
 *   url: "http://127.0.0.1:1",
 *   get: () => Promise.resolve({ status: 200, body: stamp.http.routers["jupyterhub-feed"] }),
 * };
 * const confirmer = feedConfirmer(api, { intervalMs: 1 });
 * const route = { routespec: "/a/", target: "http://127.0.0.1:9000", data: {} };
 * confirmer.written({ write: 2, table: new Map([["/a/", route]]) });
 * await confirmer.served([route]);
 * await assert.rejects(feedConfirmer(api, { timeoutMs: 5, intervalMs: 1 }).removed(["/b/"]));
 * ```
 */
export function feedConfirmer(api: TraefikApi, options: FeedConfirmerOptions = {}): FeedConfirmer {
  const applied = options.applied ?? feedStampReader(api);
  let latest: FeedWrite | undefined;
  // The waits not settled yet, to be told of each write.
  const open = new Set<Expectation>();
  const waitFor = waitPoller<Expectation>({
    timeoutMs: options.timeoutMs ?? 30_000,
    intervalMs: options.intervalMs ?? 250,
    signal: options.signal,
    async check(waits) {
      // Until a write holds one of them, there is nothing to ask traefik.
      if (!waits.some((e) => e.write !== undefined)) return new Set();
      const stamp = await applied();
      return new Set(
        waits.filter((e) => e.write !== undefined && stamp !== undefined && stamp >= e.write),
      );
    },
  });

  function holds(write: FeedWrite, e: Expectation): boolean {
    return write.table.get(e.routespec)?.target === e.target;
  }

  function expect(routespec: string, target: string | undefined): Promise<void> {
    const e: Expectation = {
      routespec,
      state: target === undefined ? "removed" : "served",
      target,
    };
    if (latest && holds(latest, e)) e.write = latest.write;
    open.add(e);
    return waitFor(e).finally(() => open.delete(e));
  }

  return {
    written(write) {
      latest = write;
      for (const e of open) if (e.write === undefined && holds(write, e)) e.write = write.write;
    },
    async served(routes: Route[]) {
      await Promise.all(routes.map((r) => expect(r.routespec, r.target)));
    },
    async removed(routespecs: string[]) {
      await Promise.all(routespecs.map((r) => expect(r, undefined)));
    },
  };
}

/**
 * Reads the number of the newest write of the fed file traefik has applied (its feed stamp
 * router's number; undefined when traefik has none yet). The confirmers and the pacer of
 * traefik's file all poll it: a read that started less than `shareMs` ago (default 15) is shared
 * by every caller, so they cost traefik one request, not one each. A shared answer is never too
 * new: stamps only grow, so an older read can only delay a confirmation.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { feedStampReader } from "./feed_confirmer.ts";
 * import type { TraefikApi } from "./api.ts";
 * let requests = 0;
 * const api = {
 *   get: () => (requests++, Promise.resolve({ status: 200, body: { rule: 'Host("jupyterhub-feed-7.invalid")' } })),
 * } as unknown as TraefikApi;
 * const applied = feedStampReader(api);
 * assert.deepEqual(await Promise.all([applied(), applied()]), [7, 7]);
 * assert.equal(requests, 1);
 * ```
 * @throws {Error} from the reader when traefik's API cannot be reached.
 */
export function feedStampReader(
  api: TraefikApi,
  options: { shareMs?: number } = {},
): () => Promise<number | undefined> {
  const shareMs = options.shareMs ?? 15;
  let last: { startedAt: number; read: Promise<number | undefined> } | undefined;
  return () => {
    const now = Date.now();
    if (last && now - last.startedAt < shareMs) return last.read;
    const read = api.get(`/api/http/routers/${encodeURIComponent(`${FEED_STAMP_NAME}@file`)}`)
      .then(({ status, body }) => status === 200 ? feedStampOf(body) : undefined);
    last = { startedAt: now, read };
    return read;
  };
}
