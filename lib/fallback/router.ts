/**
 * The fallback router: this process's own copy of the routing table, kept by following the
 * store (`Store.mirror`), that serves the requests traefik has no router for yet. traefik's
 * catch-all router sends them here; once traefik has rebuilt with a new route, its router
 * takes the route's traffic and the fallback stops seeing it, by itself.
 *
 * It also decides when a change may be acknowledged at once. A new route may be as soon as the
 * fallback has it, because traefik sends its requests to the catch-all until it takes the route
 * over — unless traefik may send them somewhere else meanwhile:
 *
 * - traefik still has a router for this routespec (a changed target, a route deleted or added
 *   moments ago and not yet rebuilt): the old router answers until traefik rebuilds;
 * - traefik has a router for a prefix of it (`/user/alice/` while `/user/alice/lab/` is added):
 *   that router captures the new route's requests until traefik rebuilds.
 *
 * Those changes, and deletions, wait for traefik as without a fallback. The root route `/` is
 * never waited for: the catch-all outranks its router, so the fallback alone serves it.
 *
 * @module
 */

import type { RouteConfirmer } from "../core/confirmer.ts";
import { RouteTimeoutError } from "../core/errors.ts";
import { type RequestTarget, routeIndex, routespecPrefixes } from "../core/route_index.ts";
import type { Route, RouteChange } from "../core/types.ts";

export type { RequestTarget } from "../core/route_index.ts";

/** The routespec the catch-all outranks: the fallback alone serves it. */
const SHADOWED = "/";

/**
 * Options of `fallbackRouter`.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { fallbackRouter, type FallbackRouterOptions } from "./router.ts";
 * const never = { served: () => new Promise<void>(() => {}), removed: () => Promise.resolve() };
 * const options: FallbackRouterOptions = { traefik: never, indexWaitMs: 1_000 };
 * const router = fallbackRouter(options);
 * assert.equal(router.size, 0);
 * await router.close();
 * ```
 */
export interface FallbackRouterOptions {
  /** Confirms changes with traefik, for the changes the fallback cannot serve alone. */
  traefik: RouteConfirmer;
  /**
   * Follows traefik taking over each change, in the background (a confirmer that polls less
   * often); default `traefik`.
   */
  background?: RouteConfirmer;
  /**
   * How long a change may take to reach the fallback's copy after the store holds it, in ms;
   * past it, the change waits for traefik instead; default 10,000.
   */
  indexWaitMs?: number;
  /** Receives a line when traefik has taken a change over, with the time it took. */
  onTakeover?: (routespec: string, ms: number) => void;
  /** Ends the waits for the fallback's copy (the proxy is stopping). */
  signal?: AbortSignal;
}

/** See `fallbackRouter`. */
export interface FallbackRouter {
  /** Number of routes in the fallback's copy. */
  readonly size: number;
  /** Number of changes traefik has not yet taken over. */
  readonly pending: number;
  /** The route a request goes to, or undefined. */
  match(request: RequestTarget): Route | undefined;
  /** Applies a change from the store (the `Store.mirror` target); the first is the whole table. */
  apply(change: RouteChange): Promise<void>;
  /**
   * Resolves a change once it is served as it should be: a new route when the fallback has it
   * (or traefik, when traefik may route it elsewhere meanwhile), a deletion once traefik and
   * the fallback no longer route it.
   */
  readonly confirm: RouteConfirmer;
  /** Waits for the background confirmations under way. */
  close(): Promise<void>;
}

interface Unsettled {
  generation: number;
  /** traefik had no router for the routespec and none that captures it: the fallback serves it. */
  fresh: boolean;
  /**
   * Settles when traefik has taken the change over, or could not be seen to (then the entry
   * stays, not fresh: traefik's state for the routespec is unknown until a later change).
   */
  settled: Promise<void>;
  /** For a deletion: the takeover of the change before it. */
  before?: Promise<void>;
}

/**
 * Creates a fallback router with an empty table.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { fallbackRouter } from "./router.ts";
 * let traefikAsked = 0;
 * const traefik = {
 *   served: () => (traefikAsked++, Promise.resolve()),
 *   removed: () => (traefikAsked++, Promise.resolve()),
 * };
 * const never = { served: () => new Promise<void>(() => {}), removed: () => Promise.resolve() };
 * const router = fallbackRouter({ traefik, background: never, indexWaitMs: 1_000 });
 * await router.apply({ set: [] }); // the table at start: empty
 * const alice = { routespec: "/user/alice/", target: "http://127.0.0.1:9000", data: {} };
 * const confirmed = router.confirm.served([alice]);
 * await router.apply({ set: [alice] }); // the store's change reaches the fallback
 * await confirmed; // at once: traefik has no router that could take alice's requests
 * assert.equal(traefikAsked, 0);
 * assert.equal(router.match({ path: "/user/alice/lab" })?.target, "http://127.0.0.1:9000");
 * // A route inside alice's waits for traefik: alice's router captures it until then.
 * const lab = { routespec: "/user/alice/lab/", target: "http://127.0.0.1:9001", data: {} };
 * await router.apply({ set: [lab] });
 * await router.confirm.served([lab]);
 * assert.equal(traefikAsked, 1);
 * ```
 */
export function fallbackRouter(options: FallbackRouterOptions): FallbackRouter {
  const index = routeIndex();
  const traefik = options.traefik;
  const background = options.background ?? traefik;
  const indexWaitMs = options.indexWaitMs ?? 10_000;
  const unsettled = new Map<string, Unsettled>();
  const waiters = new Map<string, Set<() => void>>();
  // The number of the last change the index applied to each routespec (numbers only grow).
  const versions = new Map<string, number>();
  let changes = 0;
  const running = new Set<Promise<void>>();
  let generation = 0;
  let loaded = false;

  function track(
    routespec: string,
    fresh: boolean,
    confirm: () => Promise<void>,
    deletion = false,
  ): void {
    const mine = ++generation;
    // Each change is followed from the moment it is made, not after the one before it: a change
    // superseded before traefik loaded it (an add replaced or deleted within one write, or
    // before traefik's redis/etcd provider scanned the store) is never shown by traefik, and
    // waiting for it held every later change of the routespec for a whole timeout (a DELETE
    // after a quick replace answered after 60 s). A deletion still counts only once the change
    // before it was seen or its own removal was (`before`): traefik shows "no router" also
    // before it has loaded an add.
    const previous = unsettled.get(routespec)?.settled ?? Promise.resolve();
    const started = performance.now();
    const own = confirm();
    const before = Promise.race([previous, own.then(() => {}, () => {})]);
    const settled: Promise<void> = own
      .then(() => {
        options.onTakeover?.(routespec, performance.now() - started);
        if (unsettled.get(routespec)?.generation === mine) unsettled.delete(routespec);
      }, () => {
        // Not seen in time: traefik's state for it is unknown; later changes wait for traefik.
        const entry = unsettled.get(routespec);
        if (entry?.generation === mine) entry.fresh = false;
      })
      .finally(() => running.delete(settled));
    unsettled.set(routespec, { generation: mine, fresh, settled, ...deletion ? { before } : {} });
    running.add(settled);
  }

  function wake(routespec: string): void {
    const waiting = waiters.get(routespec);
    if (!waiting) return;
    waiters.delete(routespec);
    for (const wake of waiting) wake();
  }

  // Resolves once `test` holds after a change to `routespec` has been applied (checked at
  // each one); `cancel` stops watching.
  function until(routespec: string, test: () => boolean) {
    let cancel = () => {};
    const done = new Promise<void>((resolve) => {
      const check = () => {
        if (test()) resolve();
        else watch();
      };
      const watch = () => {
        let set = waiters.get(routespec);
        if (!set) waiters.set(routespec, set = new Set());
        set.add(check);
      };
      cancel = () => waiters.get(routespec)?.delete(check);
      watch();
    });
    return { done, cancel };
  }

  // Resolves true once `test` holds for the fallback's copy of `routespec`, false after
  // indexWaitMs.
  function indexed(routespec: string, test: () => boolean): Promise<boolean> {
    if (test()) return Promise.resolve(true);
    const signal = options.signal;
    if (signal?.aborted) return Promise.resolve(false);
    const seen = until(routespec, test);
    let give = () => {};
    const given = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => give(), indexWaitMs);
      give = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", give);
        resolve(false);
      };
      signal?.addEventListener("abort", give, { once: true });
    });
    return Promise.race([seen.done.then(() => true), given]).finally(() => {
      seen.cancel();
      give();
    });
  }

  function captured(routespec: string): boolean {
    return routespecPrefixes(routespec).some((prefix) =>
      prefix !== SHADOWED && (index.get(prefix) !== undefined || unsettled.has(prefix))
    );
  }

  async function served(route: Route): Promise<void> {
    const spec = route.routespec;
    if (!await indexed(spec, () => index.get(spec)?.target === route.target)) {
      return traefik.served([route]);
    }
    if (spec === SHADOWED) return;
    const state = unsettled.get(spec);
    // Settled: traefik serves this very target already (the same route added again).
    if (state === undefined) return;
    if (state.fresh && !captured(spec)) return;
    // A later change to another target (or a deletion) ends the wait: traefik may never
    // show this target, as the changes can reach its file together.
    const version = versions.get(spec) ?? 0;
    await unlessSuperseded(
      spec,
      () => (versions.get(spec) ?? 0) > version && index.get(spec)?.target !== route.target,
      traefik.served([route]),
    );
  }

  async function removed(routespec: string): Promise<void> {
    // The route set again after this call (the hub adding back a route it found missing)
    // ends the wait: traefik may never drop its router, as both changes can reach its file
    // together.
    const version = versions.get(routespec) ?? 0;
    await unlessSuperseded(
      routespec,
      () => (versions.get(routespec) ?? 0) > version && index.get(routespec) !== undefined,
      (async () => {
        const gone = indexed(routespec, () => index.get(routespec) === undefined);
        // An add traefik has not loaded yet shows as "no router" too: first see it loaded.
        await unsettledAdd(routespec);
        await traefik.removed([routespec]);
        if (!await gone) {
          throw new RouteTimeoutError(routespec, "removed", indexWaitMs);
        }
      })(),
    );
  }

  // Settles as `wait` does, or resolves once `superseded` holds after a change to `routespec`
  // (`wait` is then left to end on its own).
  function unlessSuperseded(
    routespec: string,
    superseded: () => boolean,
    wait: Promise<void>,
  ): Promise<void> {
    const later = until(routespec, superseded);
    wait.catch(() => {}); // a superseded wait may still reject later: nobody listens then
    return Promise.race([wait, later.done]).finally(later.cancel);
  }

  // Waits for the takeover of the change before a pending deletion of `routespec` (or of a
  // pending add), so that traefik's "no router" means removed, not "not loaded yet".
  async function unsettledAdd(routespec: string): Promise<void> {
    const entry = unsettled.get(routespec);
    if (entry) await (entry.before ?? entry.settled);
  }

  return {
    get size() {
      return index.size;
    },
    get pending() {
      return unsettled.size;
    },
    match: (request) => index.match(request),
    apply(change) {
      // The first change is the table traefik loads at start: nothing to follow.
      const follow = loaded;
      loaded = true;
      const changed: string[] = [];
      for (const route of change.set ?? []) {
        const spec = route.routespec;
        const before = index.get(spec);
        changed.push(spec);
        if (!follow || before?.target === route.target) continue;
        const fresh = before === undefined && !unsettled.has(spec);
        track(spec, fresh, () => background.served([route]));
      }
      for (const spec of change.delete ?? []) {
        changed.push(spec);
        if (!follow || (index.get(spec) === undefined && !unsettled.has(spec))) continue;
        track(spec, false, () => background.removed([spec]), true);
      }
      index.apply(change);
      for (const spec of changed) {
        versions.set(spec, ++changes);
        wake(spec);
        // A deleted routespec nobody waits on is forgotten (a missing version reads as 0).
        if (index.get(spec) === undefined && !waiters.has(spec)) versions.delete(spec);
      }
      return Promise.resolve();
    },
    confirm: {
      async served(routes) {
        await Promise.all(routes.map(served));
      },
      async removed(routespecs) {
        await Promise.all(routespecs.map(removed));
      },
    },
    async close() {
      while (running.size > 0) await Promise.all(running);
    },
  };
}
