/**
 * Routes' `last_activity` from real traffic, as configurable-http-proxy keeps it: every request
 * that counts (see `ForwardOptions.onActivity`, `accessLogEntry`) marks its route active now;
 * the marks go to an `ActivitySink` in batches, never moving a route's time back, and
 * `lastActivity()` answers from the sink and the marks not yet written.
 *
 * @module
 */

/**
 * Where activity is kept: the shared store (every replica's traffic in one place) or a file
 * beside the routes.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ActivitySink } from "./tracker.ts";
 * const times = new Map<string, string>();
 * const sink: ActivitySink = {
 *   read: () => Promise.resolve(new Map(times)),
 *   readOne: (routespec) => Promise.resolve(times.get(routespec)),
 *   async raise(updates) {
 *     for (const [routespec, time] of updates) {
 *       if (!times.has(routespec) || times.get(routespec)! < time) times.set(routespec, time);
 *     }
 *   },
 *   forget: (routespec) => Promise.resolve(void times.delete(routespec)),
 * };
 * await sink.raise(new Map([["/user/a/", "2026-01-01T00:00:00.000Z"]]));
 * assert.equal((await sink.read()).get("/user/a/"), "2026-01-01T00:00:00.000Z");
 * ```
 */
export interface ActivitySink {
  /** Every route's stored activity (ISO 8601), by routespec. */
  read(): Promise<Map<string, string>>;
  /** One route's stored activity, or undefined. */
  readOne(routespec: string): Promise<string | undefined>;
  /** Raises each route's stored activity to the given time where that is later; never lowers it. */
  raise(updates: Map<string, string>): Promise<void>;
  /** Drops a route's activity (the route is gone). */
  forget(routespec: string): Promise<void>;
}

/**
 * Options of `activityTracker`.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ActivityTrackerOptions } from "./tracker.ts";
 * const options: Partial<ActivityTrackerOptions> = { intervalMs: 5_000 };
 * assert.equal(options.intervalMs, 5_000);
 * ```
 */
export interface ActivityTrackerOptions {
  /** Where activity is written. */
  sink: ActivitySink;
  /** How often marks are written to the sink, in ms; default 10,000. */
  intervalMs?: number;
  /** The clock, in ms since the epoch; default `Date.now`. */
  now?: () => number;
  /** Receives a line when a write fails (the marks are kept for the next one). */
  log?: (message: string) => void;
  /**
   * The routes now: marks of routes no longer there are not written (a websocket still open on
   * a deleted route, another replica's late marks), and every 60th write drops stored activity
   * of routes that are gone. Default: every mark is written, nothing is dropped.
   */
  table?: () => Promise<{ has(routespec: string): boolean }>;
}

/** A running activity tracker. */
export interface ActivityTracker {
  /** Marks a route active now. */
  seen(routespec: string): void;
  /** Every route's last activity: the sink's, raised by marks not yet written. */
  lastActivity(): Promise<Map<string, string>>;
  /** One route's last activity, or undefined: the sink's, raised by a mark not yet written. */
  lastActivityOf(routespec: string): Promise<string | undefined>;
  /** Writes the marks now. */
  flush(): Promise<void>;
  /** Drops a deleted route's marks and stored activity. */
  forget(routespec: string): Promise<void>;
  /** How many marks were written to the sink, in total. */
  readonly written: number;
  /** Writes the last marks and stops. */
  close(): Promise<void>;
}

/**
 * Starts a tracker that writes its marks every `intervalMs`.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { activityTracker } from "./tracker.ts";
 * import { localActivity } from "./local_activity.ts";
 * let clock = Date.parse("2026-01-01T00:00:00Z");
 * const tracker = activityTracker({ sink: localActivity(), now: () => clock });
 * tracker.seen("/user/a/");
 * clock += 60_000;
 * tracker.seen("/user/a/");
 * assert.equal((await tracker.lastActivity()).get("/user/a/"), "2026-01-01T00:01:00.000Z");
 * assert.equal(await tracker.lastActivityOf("/user/a/"), "2026-01-01T00:01:00.000Z");
 * await tracker.close();
 * ```
 */
export function activityTracker(options: ActivityTrackerOptions): ActivityTracker {
  const now = options.now ?? Date.now;
  const log = options.log ?? (() => {});
  let marks = new Map<string, number>();
  // The marks being written: still answered by reads until the sink has them.
  let inflight = new Map<string, number>();
  let writes = 0;
  let written = 0;
  let flushing: Promise<void> = Promise.resolve();
  let closed = false;
  const timer = setInterval(() => void flush(), options.intervalMs ?? 10_000);

  function flush(): Promise<void> {
    flushing = flushing.then(async () => {
      if (marks.size === 0) return;
      const batch = marks;
      marks = new Map();
      inflight = batch;
      try {
        const table = await options.table?.();
        const updates = new Map<string, string>();
        for (const [routespec, ms] of batch) {
          if (!table || table.has(routespec)) updates.set(routespec, iso(ms));
        }
        if (updates.size > 0) await options.sink.raise(updates);
        written += updates.size;
        if (table && ++writes % 60 === 0) {
          for (const routespec of (await options.sink.read()).keys()) {
            if (!table.has(routespec)) await options.sink.forget(routespec);
          }
        }
      } catch (error) {
        log(
          `could not write routes' activity (kept for the next write): ${(error as Error).message}`,
        );
        for (const [routespec, ms] of batch) {
          const newer = marks.get(routespec);
          if (newer === undefined || newer < ms) marks.set(routespec, ms);
        }
      } finally {
        inflight = new Map();
      }
    });
    return flushing;
  }

  /** The latest unwritten mark of `routespec`, in ms, or undefined. */
  function latestMark(routespec: string): number | undefined {
    const now = marks.get(routespec);
    const writing = inflight.get(routespec);
    if (now === undefined) return writing;
    return writing === undefined || writing < now ? now : writing;
  }

  return {
    seen(routespec) {
      if (!closed) marks.set(routespec, now());
    },
    async lastActivity() {
      const stored = await options.sink.read();
      for (const routespec of new Set([...inflight.keys(), ...marks.keys()])) {
        const ms = latestMark(routespec)!;
        const current = stored.get(routespec);
        if (current === undefined || Date.parse(current) < ms) stored.set(routespec, iso(ms));
      }
      return stored;
    },
    async lastActivityOf(routespec) {
      const stored = await options.sink.readOne(routespec);
      const ms = latestMark(routespec);
      if (ms === undefined) return stored;
      return stored !== undefined && !(Date.parse(stored) < ms) ? stored : iso(ms);
    },
    flush,
    async forget(routespec) {
      marks.delete(routespec);
      await flushing;
      await options.sink.forget(routespec);
    },
    get written() {
      return written;
    },
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      await flush();
    },
  };
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
