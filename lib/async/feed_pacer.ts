/**
 * Paces the writes of the file a traefik is fed from by what traefik can take (see
 * `lib/core/feed_pace.ts` for the policy): changes are taken at once and written together when
 * traefik has applied the last write and, for changes nobody waits on traefik for, has idled a
 * while. traefik's progress comes from its feed stamp (`applied`), polled after each write.
 *
 * @module
 */

import { sleep } from "./sleep.ts";
import { feedWriteDelay, needsTraefik } from "../core/feed_pace.ts";
import { mergeChanges } from "../core/route_change.ts";
import type { FeedWrite, FeedWrites } from "../core/feed_stamp.ts";
import type { MirrorTarget } from "../core/store.ts";
import type { Route, RouteChange } from "../core/types.ts";

/** Options of `feedPacer`. */
export interface FeedPacerOptions {
  /** The writes of the fed file (its number, and the routes each holds). */
  writes: FeedWrites;
  /** The number of the newest write traefik has applied (its stamp); undefined if unknown. */
  applied(): Promise<number | undefined>;
  /** traefik idles this many times its last rebuild before a deferrable write; default 2. */
  idleFactor?: number;
  /** The longest a deferrable write waits once traefik applied the last one, ms; default 5,000. */
  maxDeferMs?: number;
  /** How often traefik's stamp is read while it applies a write, ms; default 25. */
  pollMs?: number;
  /**
   * How long a write may take traefik to apply before the next one goes anyway (traefik keeps
   * only the newest of the writes it has not applied yet), ms; default 10,000.
   */
  appliedTimeoutMs?: number;
  /** How long to wait before writing again after a failed write, ms; default 1,000. */
  retryMs?: number;
  /** Receives a line when a write fails (it is retried with what arrived since). */
  log?: (message: string) => void;
}

/** A paced feed target. */
export interface FeedPacer extends MirrorTarget {
  /**
   * Takes a change. The first resolves once it is written (the whole table, at start); later
   * ones at once: they are written with the next write, retried until one succeeds.
   */
  apply(change: RouteChange): Promise<void>;
  /** Number of changes taken and not written yet. */
  readonly pending: number;
  /** Stops: nothing more is written, timers and polls end. */
  close(): Promise<void>;
}

/**
 * Wraps the fed file `target` in a pacer.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { feedPacer } from "./feed_pacer.ts";
 * import type { FeedWrite } from "../core/feed_stamp.ts";
 * import type { RouteChange } from "../core/types.ts";
 * const written: RouteChange[] = [];
 * let listener = (_: FeedWrite) => {};
 * let stamp = 0;
 * const pacer = feedPacer({
 *   apply(change) {
 *     written.push(change);
 *     listener({ write: ++stamp, table: new Map() });
 *     return Promise.resolve();
 *   },
 * }, {
 *   writes: { subscribe: (l) => (listener = l, () => {}) },
 *   applied: () => Promise.resolve(stamp), // traefik applies every write at once
 * });
 * const route = { routespec: "/user/a/", target: "http://127.0.0.1:9000", data: {} };
 * await pacer.apply({ set: [route] }); // the first change is written before this resolves
 * assert.equal(written.length, 1);
 * await pacer.close();
 * ```
 */
export function feedPacer(target: MirrorTarget, options: FeedPacerOptions): FeedPacer {
  const pollMs = options.pollMs ?? 25;
  const appliedTimeoutMs = options.appliedTimeoutMs ?? 10_000;
  const retryMs = options.retryMs ?? 1_000;
  let latest: FeedWrite | undefined;
  const unsubscribe = options.writes.subscribe((write) => latest = write);
  const table = (): ReadonlyMap<string, Route> => latest?.table ?? new Map();

  let pending: RouteChange[] = [];
  // The routespecs the pending changes set (routes inside them are urgent: see needsTraefik).
  let pendingSet = new Set<string>();
  let pendingSince = 0;
  let urgent = false;
  let writes = 0; // successful writes made here
  let appliedAt: number | undefined;
  let rebuildMs = 0;
  let busy = false;
  let writing: Promise<void> = Promise.resolve();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let retryAt = 0;
  let failure: Error | undefined; // of the last write, while it has not been retried
  let closed = false;
  let polling: Promise<void> = Promise.resolve();
  const stop = new AbortController();

  function schedule(): void {
    if (closed || busy || pending.length === 0) return;
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    const now = Date.now();
    const delay = Math.max(
      feedWriteDelay({
        now,
        urgent,
        appliedAt,
        written: writes > 0,
        pendingSince,
        rebuildMs,
        idleFactor: options.idleFactor,
        maxDeferMs: options.maxDeferMs,
      }),
      retryAt - now,
    );
    if (delay === Infinity) return; // the poll of the last write schedules again
    timer = setTimeout(() => {
      timer = undefined;
      void flush();
    }, delay);
  }

  function flush(): Promise<void> {
    const batch = pending;
    pending = [];
    pendingSet = new Set();
    urgent = false;
    busy = true;
    writing = write(batch).finally(() => {
      busy = false;
      schedule();
    });
    return writing;
  }

  async function write(batch: RouteChange[]): Promise<void> {
    const before = latest?.write;
    const startedAt = Date.now();
    const change = mergeChanges(batch);
    try {
      await target.apply(change);
    } catch (error) {
      // Written again with what arrived since, the latest of each route winning.
      if (pending.length === 0) pendingSince = Date.now();
      pending = [change, ...pending];
      for (const route of change.set ?? []) pendingSet.add(route.routespec);
      urgent ||= needsTraefik(change, table(), { pending: pendingSet });
      retryAt = Date.now() + retryMs;
      failure = error as Error;
      options.log?.(`cannot write traefik's file: ${failure.message}; retrying`);
      return;
    }
    writes++;
    retryAt = 0;
    failure = undefined;
    const number = latest?.write;
    // Nothing new in traefik's file (a change to what it does not hold): nothing to rebuild.
    if (number === undefined || number === before) return;
    appliedAt = undefined;
    polling = follow(number, startedAt);
  }

  // Reads traefik's stamp until it has applied `write`, then notes how long that took.
  async function follow(write: number, writtenAt: number): Promise<void> {
    while (!closed) {
      const stamp = await options.applied().catch(() => undefined);
      const now = Date.now();
      if ((stamp !== undefined && stamp >= write) || now - writtenAt >= appliedTimeoutMs) {
        appliedAt = now;
        rebuildMs = now - writtenAt;
        schedule();
        return;
      }
      await sleep(pollMs, stop.signal);
    }
  }

  return {
    get pending() {
      return pending.length;
    },
    apply(change) {
      if (closed) return Promise.resolve();
      if (pending.length === 0) pendingSince = Date.now();
      pending.push(change);
      if (!urgent) urgent = needsTraefik(change, table(), { pending: pendingSet });
      for (const route of change.set ?? []) pendingSet.add(route.routespec);
      if (writes === 0 && !busy) {
        // The first change (the whole table) is written before the caller goes on.
        if (timer !== undefined) clearTimeout(timer);
        timer = undefined;
        return flush().then(() => {
          if (writes === 0) {
            throw new Error(`traefik's file could not be written: ${failure?.message}`, {
              cause: failure,
            });
          }
        });
      }
      schedule();
      return Promise.resolve();
    },
    async close() {
      closed = true;
      stop.abort();
      if (timer !== undefined) clearTimeout(timer);
      unsubscribe();
      await writing;
      await polling;
    },
  };
}
