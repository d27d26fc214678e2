/**
 * Drift repair: every interval, the routers and services traefik serves (its `/api/rawdata`)
 * are compared with the routing table; what differs, and still differs a moment later (so that
 * a change traefik is only about to load is left alone), is written again: the file traefik
 * reads, or the routes' keys in a store traefik reads itself. Every repair is counted and logged.
 *
 * @module
 */

import { type Drift, lastingDrift, routeDrift, type TraefikRawData } from "../core/drift.ts";
import type { Route } from "../core/types.ts";
import type { TraefikApi } from "./api.ts";

/**
 * Options of `driftRepair`.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import type { DriftRepairOptions } from "./drift_repair.ts";
 * const options: Partial<DriftRepairOptions> = { intervalMs: 60_000, provider: "redis" };
 * assert.equal(options.provider, "redis");
 * ```
 */
export interface DriftRepairOptions {
  /** traefik's API. */
  api: TraefikApi;
  /** The routing table. */
  table: () => Promise<Map<string, Route>>;
  /** Writes routes again for traefik (`OpenedStore.repair`). */
  repair: (drift: { set: Route[]; delete: string[] }) => Promise<void>;
  /** The provider traefik knows the routes by. */
  provider: string;
  /** The URL traefik reaches a target at, when not the target itself. */
  targetUrl?: (target: string) => string;
  /** How often to compare, in ms. */
  intervalMs: number;
  /** How long a difference must last to be drift, in ms; default half the interval, at most 15 s. */
  settleMs?: number;
  /** Receives a line per repair and per failed check. */
  log?: (message: string) => void;
}

/** A running drift repair. */
export interface DriftRepair {
  /** How many routes were written again (missing or stale) or removed (stray), in total. */
  readonly repairs: number;
  /** How many checks ran, in total. */
  readonly checks: number;
  /** Compares now (and again after the settle time when something differs); resolves to the repairs made. */
  check(): Promise<number>;
  /** Stops; resolves once a running check is over. */
  close(): Promise<void>;
}

/**
 * Starts comparing every `intervalMs`.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { driftRepair } from "./drift_repair.ts";
 * // traefik (a stand-in for its API) serves no router at all: the one route is drift.
 * const api = { url: "", get: () => Promise.resolve({ status: 200, body: { routers: {}, services: {} } }) };
 * const route = { routespec: "/user/a/", target: "http://127.0.0.1:9000", data: {} };
 * const written: string[] = [];
 * const repair = driftRepair({
 *   api,
 *   table: () => Promise.resolve(new Map([[route.routespec, route]])),
 *   repair: (drift) => Promise.resolve(void written.push(...drift.set.map((r) => r.routespec))),
 *   provider: "file",
 *   intervalMs: 60_000,
 *   settleMs: 0,
 * });
 * assert.equal(await repair.check(), 1);
 * assert.deepEqual(written, ["/user/a/"]);
 * await repair.close();
 * ```
 */
export function driftRepair(options: DriftRepairOptions): DriftRepair {
  const log = options.log ?? (() => {});
  const settleMs = options.settleMs ?? Math.min(options.intervalMs / 2, 15_000);
  let repairs = 0;
  let checks = 0;
  let running: Promise<number> | undefined;
  let closed = false;
  let settleTimer: ReturnType<typeof setTimeout> | undefined;
  let wake: (() => void) | undefined;

  async function look(): Promise<Drift> {
    const { status, body } = await options.api.get("/api/rawdata");
    if (status !== 200) throw new Error(`traefik's /api/rawdata answered ${status}`);
    return routeDrift(await options.table(), body as TraefikRawData, options);
  }

  async function once(): Promise<number> {
    checks++;
    const first = await look();
    if (closed || (first.missing.length === 0 && first.stray.length === 0)) return 0;
    await new Promise<void>((resolve) => {
      wake = resolve;
      settleTimer = setTimeout(resolve, settleMs);
    });
    if (closed) return 0;
    const drift = lastingDrift(first, await look());
    const count = drift.missing.length + drift.stray.length;
    if (count === 0) return 0;
    await options.repair({ set: drift.missing, delete: drift.stray });
    repairs += count;
    const list = (items: string[]) =>
      items.slice(0, 5).join(", ") + (items.length > 5 ? ` and ${items.length - 5} more` : "");
    if (drift.missing.length > 0) {
      log(
        `drift: traefik lacked or had a stale ${drift.missing.length} route(s) (${
          list(drift.missing.map((route) => route.routespec))
        }); written again`,
      );
    }
    if (drift.stray.length > 0) {
      log(
        `drift: traefik still served ${drift.stray.length} deleted route(s) (${
          list(drift.stray)
        }); removed again`,
      );
    }
    return count;
  }

  function check(): Promise<number> {
    running ??= once().finally(() => running = undefined);
    return running;
  }

  const timer = setInterval(() => {
    check().catch((error) => log(`drift: cannot compare with traefik: ${error.message}`));
  }, options.intervalMs);

  return {
    get repairs() {
      return repairs;
    },
    get checks() {
      return checks;
    },
    check,
    async close() {
      closed = true;
      clearInterval(timer);
      clearTimeout(settleTimer);
      wake?.();
      await running?.catch(() => 0);
    },
  };
}
