/**
 * When traefik has taken a route over from this proxy's fallback: its API has the route's
 * router, `GET /api/http/routers/<routerName>@<provider>` answers 200. Polled every 10 ms and
 * given up after 60 s.
 *
 * Many routes at once share one poller (`takeoverWatcher`), which keeps the API's load small:
 * each tick it reads traefik's router count (`/api/overview`) and asks for a route's router
 * only on the first tick after the route was registered and on every tick where that count
 * changed. That is exact while routes are only added (as in the timed samples and the storm):
 * a router can then appear only with a new count.
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
    fresh: boolean;
    resolve: (ms: number) => void;
  }
  const pending = new Map<string, Pending>();
  let running = true;
  let lastTotal = -1;
  const tick = async () => {
    let changed = true;
    try {
      const total = await routerTotal(access);
      changed = total !== lastTotal;
      lastTotal = total;
    } catch {
      // ask every router this time
    }
    await Promise.all([...pending].map(async ([routespec, entry]) => {
      if (performance.now() - entry.registered > CAP_MS) {
        pending.delete(routespec);
        entry.resolve(NaN);
        return;
      }
      if (!changed && !entry.fresh) return;
      entry.fresh = false;
      try {
        if (await hasRouter(access, routespec)) {
          pending.delete(routespec);
          entry.resolve(performance.now() - entry.since);
        }
      } catch {
        entry.fresh = true; // ask again next tick
      }
    }));
  };
  const loop = (async () => {
    while (running) {
      const start = performance.now();
      if (pending.size > 0) await tick();
      await sleep(Math.max(0, POLL_MS - (performance.now() - start)));
    }
    for (const entry of pending.values()) entry.resolve(NaN);
    pending.clear();
  })();
  return {
    watch(routespec, since) {
      return new Promise((resolve) => {
        if (!running) return resolve(NaN);
        pending.set(routespec, { since, registered: performance.now(), fresh: true, resolve });
      });
    },
    async stop() {
      running = false;
      await loop;
    },
  };
}
