/**
 * The confirmation of route changes: after a change, poll traefik's API until traefik serves
 * each changed route with its new target, or no longer has a deleted one. Many routes changed in
 * the same burst are confirmed by the same polls.
 *
 * @module
 */

import type { RouteConfirmer } from "../core/confirmer.ts";
import { routerName, serviceName } from "../core/names.ts";
import type { Route } from "../core/types.ts";
import type { TraefikApi } from "./api.ts";
import { type Wait, waitPoller } from "./_poll.ts";

export type { RouteConfirmer } from "../core/confirmer.ts";

/** Options of `routeConfirmer`. */
export interface RouteConfirmerOptions {
  /** traefik's provider name of the store (`file`, `redis`, ...). */
  provider: string;
  /** How long to wait for each change, in ms; default 30,000. */
  timeoutMs?: number;
  /** Pause between polls, in ms; default 20. */
  intervalMs?: number;
  /**
   * Up to this many pending routes are checked one by one (a small request each per poll);
   * more use one `/api/rawdata`, whose size grows with the whole table; default 64. (With 8, a
   * hub adding 10 routes at a time onto 5,000 had traefik serialise and this process parse the
   * whole table 50 times a second: 4.8x this process's CPU, 1.4x the time until routable.)
   */
  singleLimit?: number;
  /** Ends the confirmer: pending changes reject with the signal's reason, no more polls. */
  signal?: AbortSignal;
  /** The URL traefik reaches a target at, when not the target (`RouteConfigOptions`). */
  targetUrl?: (target: string) => string;
}

interface Expectation extends Wait {
  router: string;
  service: string;
  /** Target URL to see, or undefined when the route must be gone. */
  url?: string;
}

type RawService = { status?: string; loadBalancer?: { servers?: { url?: string }[] } };
type RawData = {
  routers?: Record<string, { status?: string; service?: string }>;
  services?: Record<string, RawService>;
};

function serves(service: RawService | undefined, url: string): boolean {
  return service?.status === "enabled" &&
    (service.loadBalancer?.servers ?? []).some((server) => server.url === url);
}

/**
 * Creates a confirmer over a traefik API. All pending expectations share one poll loop: few are
 * checked with per-router requests, many with a single `/api/rawdata` request per poll.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { RouteTimeoutError } from "../core/errors.ts";
 * import { traefikApi } from "./api.ts";
 * import { routeConfirmer } from "./confirm.ts";
 * // No traefik answers on port 9: the change is never confirmed.
 * const api = traefikApi({ url: "http://127.0.0.1:9" });
 * const confirm = routeConfirmer(api, { provider: "file", timeoutMs: 100 });
 * const route = { routespec: "/a/", target: "http://127.0.0.1:9000", data: {} };
 * await assert.rejects(confirm.served([route]), RouteTimeoutError);
 * ```
 */
export function routeConfirmer(
  api: TraefikApi,
  options: RouteConfirmerOptions,
): RouteConfirmer {
  const singleLimit = options.singleLimit ?? 64;
  const at = "@" + options.provider;
  const waitFor = waitPoller<Expectation>({
    timeoutMs: options.timeoutMs ?? 30_000,
    intervalMs: options.intervalMs ?? 20,
    signal: options.signal,
    check,
  });

  function expect(routespec: string, url: string | undefined): Promise<void> {
    return waitFor({
      routespec,
      state: url === undefined ? "removed" : "served",
      router: routerName(routespec) + at,
      service: serviceName(routespec) + at,
      url,
    });
  }

  async function check(batch: Expectation[]): Promise<Set<Expectation>> {
    const done = new Set<Expectation>();
    if (batch.length <= singleLimit) {
      await Promise.all(batch.map(async (e) => {
        if (await checkOne(e)) done.add(e);
      }));
      return done;
    }
    const { status, body } = await api.get("/api/rawdata");
    if (status !== 200) return done;
    const raw = body as RawData;
    for (const e of batch) {
      const router = raw.routers?.[e.router];
      if (e.url === undefined) {
        if (!router) done.add(e);
        continue;
      }
      if (router?.status === "enabled" && serves(raw.services?.[e.service], e.url)) done.add(e);
    }
    return done;
  }

  async function checkOne(e: Expectation): Promise<boolean> {
    if (e.url === undefined) {
      const router = await api.get(`/api/http/routers/${encodeURIComponent(e.router)}`);
      return router.status === 404;
    }
    // The service carries the new URL: while it does not, one request per poll is enough.
    const service = await api.get(`/api/http/services/${encodeURIComponent(e.service)}`);
    if (service.status !== 200 || !serves(service.body as RawService, e.url)) return false;
    const router = await api.get(`/api/http/routers/${encodeURIComponent(e.router)}`);
    return router.status === 200 && (router.body as { status?: string }).status === "enabled";
  }

  return {
    async served(routes: Route[]) {
      const url = options.targetUrl ?? ((target: string) => target);
      await Promise.all(routes.map((r) => expect(r.routespec, url(r.target))));
    },
    async removed(routespecs: string[]) {
      await Promise.all(routespecs.map((r) => expect(r, undefined)));
    },
  };
}
