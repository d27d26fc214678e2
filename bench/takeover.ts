/**
 * When traefik has taken a route over from this proxy's fallback: its API has the route's
 * router, `GET /api/http/routers/<routerName>@<provider>` answers 200. Polled every 10 ms and
 * given up after 60 s.
 *
 * Many routes at once share one poller (`takeoverWatcher`) that keeps its load on traefik to
 * one API request per tick (every 25 ms): it asks for the router of the oldest route still
 * waiting, and only once that one is there, bisects the others. Every request costs traefik
 * CPU (1.6 ms with an operator's password, which traefik checks with bcrypt on each request;
 * 3 ms for `/api/overview` at 10,000 routes), taken from the adds being timed: asking for the
 * router count alone every 10 ms made the add p50 at 10,000 routes 12% slower in a scratch run
 * (the watcher asked for it, and for every route added since, each tick). Exact while routes
 * are only added (as in the timed samples) and traefik loads them from one file whole, so that
 * a route acknowledged later is never taken over before an earlier one; two routes registered
 * out of the order of their acknowledgement (answers in the same instant, a reload between
 * them) can be reported a reload late or early.
 *
 * @module
 */

import { routerName } from "../lib/core/names.ts";

/** A peer's traefik API, and the provider its routers carry. */
export interface TraefikAccess {
  /** Base URL, e.g. `http://127.0.0.1:8099`. */
  url: string;
  /** basicAuth user. */
  username: string;
  /** basicAuth password. */
  password: string;
  /** The provider suffix of the routes' routers: `file`, or `redis` when traefik reads redis. */
  provider: "file" | "redis" | "etcd" | "consul";
}

/** How often the API is polled, ms. */
export const POLL_MS = 10;
/** How often `takeoverWatcher` asks traefik, ms. */
export const WATCH_MS = 25;
/** When polling gives up, ms. */
export const CAP_MS = 60_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function get(access: TraefikAccess, path: string): Promise<Response> {
  return fetch(access.url + path, {
    headers: { authorization: "Basic " + btoa(`${access.username}:${access.password}`) },
    signal: AbortSignal.timeout(10_000),
  });
}

/**
 * True when traefik's API has the router of `routespec` (e.g. `/user/alice/`).
 *
 * @example
 * ```ts
 * import { hasRouter } from "./takeover.ts";
 * // await hasRouter(running.traefik!, "/user/alice/"); // true once traefik serves it
 * ```
 */
export async function hasRouter(access: TraefikAccess, routespec: string): Promise<boolean> {
  const response = await get(
    access,
    `/api/http/routers/${routerName(routespec)}@${access.provider}`,
  );
  await response.body?.cancel();
  return response.status === 200;
}

/**
 * traefik's number of HTTP routers (all providers), from `/api/overview`.
 *
 * @example
 * ```ts
 * import { routerTotal } from "./takeover.ts";
 * // await routerTotal(running.traefik!); // e.g. 1006 with 1000 routes
 * ```
 */
export async function routerTotal(access: TraefikAccess): Promise<number> {
  const response = await get(access, "/api/overview");
  if (response.status !== 200) {
    await response.body?.cancel();
    throw new Error(`traefik's /api/overview: ${response.status}`);
  }
  const body = await response.json() as { http?: { routers?: { total?: number } } };
  return body.http?.routers?.total ?? 0;
}

/**
 * Polls until `check` holds; resolves to ms since `since` (a `performance.now()`), or NaN when
 * it did not hold within `CAP_MS` of the call.
 *
 * @example
 * ```ts
 * import { hasRouter, pollUntil } from "./takeover.ts";
 * // const ms = await pollUntil(() => hasRouter(access, "/user/r9999/"), t0);
 * ```
 */
export async function pollUntil(check: () => Promise<boolean>, since: number): Promise<number> {
  const deadline = performance.now() + CAP_MS;
  while (performance.now() < deadline) {
    const tick = performance.now();
    try {
      if (await check()) return performance.now() - since;
    } catch {
      // not up yet: try again
    }
    await sleep(Math.max(0, POLL_MS - (performance.now() - tick)));
  }
  return NaN;
}

/** A poller for the takeover of many routes. */
export interface TakeoverWatcher {
  /**
   * Resolves to ms from `since` (the start of the route's POST, a `performance.now()`) until
   * traefik has the router of `routespec`; NaN after `CAP_MS`.
   */
  watch(routespec: string, since: number): Promise<number>;
  /** Stops polling; routes still pending resolve to NaN. */
  stop(): Promise<void>;
}

/**
 * Starts a shared poller of `access` (see the module documentation).
 *
 * @example
 * ```ts
 * import { takeoverWatcher } from "./takeover.ts";
 * // const watcher = takeoverWatcher(running.traefik!);
 * // const ms = await watcher.watch("/user/alice/", t0);
 * // await watcher.stop();
 * ```
 */
export function takeoverWatcher(access: TraefikAccess): TakeoverWatcher {
  interface Pending {
    since: number;
    registered: number;
    resolve: (ms: number) => void;
  }
  // In registration order (a Map keeps insertion order): the first is the oldest.
  const pending = new Map<string, Pending>();
  let running = true;
  const found = async (routespec: string): Promise<boolean> => {
    try {
      return await hasRouter(access, routespec);
    } catch {
      return false; // ask again next tick
    }
  };
  const take = (routespec: string, entry: Pending) => {
    pending.delete(routespec);
    entry.resolve(performance.now() - entry.since);
  };
  const tick = async () => {
    for (const [routespec, entry] of pending) {
      if (performance.now() - entry.registered <= CAP_MS) break;
      pending.delete(routespec);
      entry.resolve(NaN);
    }
    const waiting = [...pending];
    if (waiting.length === 0 || !await found(waiting[0][0])) return;
    // traefik loaded a new table, which holds a prefix of the waiting routes: its end is found
    // by bisection, a dozen requests for hundreds of routes.
    let taken = 0; // waiting[0..taken] are in it
    let absent = waiting.length; // waiting[absent..] are not
    while (absent - taken > 1) {
      const middle = (taken + absent) >> 1;
      if (await found(waiting[middle][0])) taken = middle;
      else absent = middle;
    }
    for (const [routespec, entry] of waiting.slice(0, taken + 1)) take(routespec, entry);
  };
  const loop = (async () => {
    while (running) {
      const start = performance.now();
      if (pending.size > 0) await tick();
      await sleep(Math.max(0, WATCH_MS - (performance.now() - start)));
    }
    for (const entry of pending.values()) entry.resolve(NaN);
    pending.clear();
  })();
  return {
    watch(routespec, since) {
      return new Promise((resolve) => {
        if (!running) return resolve(NaN);
        pending.set(routespec, { since, registered: performance.now(), resolve });
      });
    },
    async stop() {
      running = false;
      await loop;
    },
  };
}
