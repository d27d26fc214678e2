/**
 * The routing-table workload: fill a proxy with N routes at concurrency C, then add a further
 * sample of routes at N existing, timing each from the start of its POST until a request
 * through the public port reaches the backend. With this proxy's fallback, each sample route is
 * also timed from the start of its POST until traefik has taken it over (bench/takeover.ts).
 *
 * @module
 */

import type { Running } from "./peers.ts";
import { hasRouter, pollUntil, takeoverWatcher } from "./takeover.ts";
import type { Route } from "../lib/core/types.ts";

/** One result row. */
export interface WorkloadResult {
  /** Existing routes. */
  n: number;
  /** Concurrency. */
  c: number;
  /** Routes added while filling (less than `n` when the time cap ran out; `n` when prefilled). */
  filled: number;
  /** Time until all filled routes were routable, ms (NaN when prefilled). */
  fillMs: number;
  /** Add-to-routable p50 and p99 at `n` existing routes, ms. */
  p50: number;
  /** See `p50`. */
  p99: number;
  /** `GET /api/routes` with `filled` routes, ms. */
  getAllMs: number;
  /** Deleting every route, ms (stopped at the time cap, like the fill). */
  deleteMs: number;
  /** Routes deleted (less than all when the time cap ran out). */
  deleted: number;
  /** Routes there were to delete. */
  toDelete: number;
  /** Resident memory of the manager process at `filled` routes, MB. */
  rssMb: number;
  /**
   * With the fallback: from the start of a sample route's POST until traefik's API has its
   * router, median, ms (NaN without the fallback, or when none was taken over in 60 s).
   */
  takeoverP50: number;
  /** See `takeoverP50`: the slowest. */
  takeoverMax: number;
  /** Sample routes traefik had not taken over within 60 s. */
  takeoverMissed: number;
}

/** Options of `runWorkload`. */
export interface WorkloadOptions {
  /** Existing routes to fill. */
  n: number;
  /** Concurrent clients. */
  c: number;
  /** Backend URL every route points at; it answers with `"backend":"bench"`. */
  target: string;
  /** Stop filling (and deleting) after this long, ms. */
  capMs: number;
  /** Routes added (and timed) at N existing. */
  sample?: number;
  /**
   * The proxy was started on `fillRoutes(n, target)` (`Peer.start({ routes })`): no fill, the
   * sample starts once the last of them is served (with traefik, by traefik).
   */
  prefilled?: boolean;
}

/**
 * The N routes a workload fills (`/user/b<i>/`), as route records for `Peer.start`.
 *
 * @example
 * ```ts
 * import { fillRoutes } from "./workload.ts";
 * fillRoutes(2, "http://127.0.0.1:9000")[1].routespec; // "/user/bb1/"
 * ```
 */
export function fillRoutes(n: number, target = ""): Route[] {
  return Array.from({ length: n }, (_, i) => ({
    routespec: `/user/${benchUser("b", i)}/`,
    target,
    data: { user: benchUser("b", i), server_name: "" },
    lastActivity: new Date().toISOString(),
  }));
}

/** The first letters of the bench's user names (`benchUser`), in turn. */
export const USER_LETTERS = "abcdefghijklmnopqrstuvwxyz";

/**
 * The `i`th user of a group of the bench's users: the group and `i`, after a first letter that
 * goes round the alphabet, as real names spread over it (traefik's tree of entry points takes
 * a user to a branch by that letter).
 *
 * @example
 * ```ts
 * import { benchUser } from "./workload.ts";
 * benchUser("b", 27); // "bb27"
 * ```
 */
export function benchUser(group: string, i: number): string {
  return `${USER_LETTERS[i % USER_LETTERS.length]}${group}${i}`;
}

/**
 * Percentile of a list (nearest rank).
 *
 * @example
 * ```ts
 * import { percentile } from "./workload.ts";
 * percentile([1, 2, 3, 4], 50); // 3
 * ```
 */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function call(proxy: Running, method: string, path: string, body?: unknown) {
  return fetch(`${proxy.apiUrl}/api/routes${path}`, {
    method,
    headers: { authorization: "token secret" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

async function routable(url: string): Promise<void> {
  while (true) {
    const response = await fetch(url);
    const text = await response.text();
    if (response.status === 200 && text.includes('"backend":"bench"')) return;
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** An add, timed. */
export interface TimedAdd {
  /** `performance.now()` at the start of its POST. */
  since: number;
  /** ms from then until it was routable. */
  ms: number;
}

/**
 * Adds `/user/<user>` through the API; resolves to the start of its POST and the ms until it
 * is routable.
 *
 * @example
 * ```ts
 * import { addUntilRoutable } from "./workload.ts";
 * // const { since, ms } = await addUntilRoutable(proxy, "alice", backend.url);
 * ```
 */
export async function addUntilRoutable(
  proxy: Running,
  user: string,
  target: string,
): Promise<TimedAdd> {
  const t0 = performance.now();
  const response = await call(proxy, "POST", `/user/${user}`, {
    target,
    jupyterhub: true,
    user,
    server_name: "",
  });
  await response.body?.cancel();
  if (response.status !== 201) throw new Error(`POST /user/${user}: ${response.status}`);
  await routable(`${proxy.publicUrl}/user/${user}/`);
  return { since: t0, ms: performance.now() - t0 };
}

/**
 * Adds `/user/<user>` through the API; resolves to ms until it is routable.
 *
 * @example
 * ```ts
 * import { addTimed } from "./workload.ts";
 * // const ms = await addTimed(proxy, "alice", backend.url);
 * ```
 */
export async function addTimed(proxy: Running, user: string, target: string): Promise<number> {
  return (await addUntilRoutable(proxy, user, target)).ms;
}

/** Runs `fn` over `names` with `c` at a time, starting none after `deadline`. */
export async function pool(
  names: string[],
  c: number,
  deadline: number,
  fn: (name: string) => Promise<void>,
): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: c }, async () => {
    while (next < names.length && performance.now() < deadline) await fn(names[next++]);
  }));
}

/**
 * Resident memory of process `pid`, MB (one decimal).
 *
 * @example
 * ```ts
 * import { rssMb } from "./workload.ts";
 * // await rssMb(Deno.pid); // e.g. 61.2
 * ```
 */
export async function rssMb(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return Math.round(kb / 102.4) / 10;
}

/**
 * Runs the workload against a started proxy.
 *
 * @example
 * ```ts
 * import { runWorkload } from "./workload.ts";
 * // const row = await runWorkload(proxy, { n: 1000, c: 10, target, capMs: 300_000 });
 * ```
 */
export async function runWorkload(
  proxy: Running,
  options: WorkloadOptions,
): Promise<WorkloadResult> {
  const { n, c, target } = options;
  const added: string[] = [];
  const fillStart = performance.now();
  const fill = fillRoutes(n).map((route) => route.data.user as string);
  if (options.prefilled) {
    // Started on them: wait until the last is served, by traefik itself where it can tell.
    const last = `/user/${fill[n - 1]}/`;
    const traefik = proxy.traefik;
    const ready = await pollUntil(async () => {
      const response = await fetch(proxy.publicUrl + last);
      const text = await response.text();
      return text.includes('"backend":"bench"') && (!traefik || await hasRouter(traefik, last));
    }, fillStart);
    if (Number.isNaN(ready)) throw new Error(`the ${n} routes it started on are not served`);
    added.push(...fill);
  } else {
    await pool(fill, c, fillStart + options.capMs, async (user) => {
      await addTimed(proxy, user, target);
      added.push(user);
    });
  }
  const fillMs = options.prefilled ? NaN : performance.now() - fillStart;
  const latencies: number[] = [];
  const takeovers: Promise<number>[] = [];
  if (added.length === n) {
    const watcher = proxy.fallback && proxy.traefik ? takeoverWatcher(proxy.traefik) : undefined;
    const sample = Array.from({ length: options.sample ?? 50 }, (_, i) => benchUser("s", i));
    try {
      await pool(sample, c, Infinity, async (user) => {
        const { since, ms } = await addUntilRoutable(proxy, user, target);
        latencies.push(ms);
        added.push(user);
        // Not awaited here: the next add starts at once, as without the watcher.
        if (watcher) takeovers.push(watcher.watch(`/user/${user}/`, since));
      });
      await Promise.all(takeovers);
    } finally {
      await watcher?.stop();
    }
  }
  const takeover = await Promise.all(takeovers);
  const taken = takeover.filter((ms) => !Number.isNaN(ms));
  const rss = await rssMb(proxy.pid);
  const g0 = performance.now();
  const all = await (await call(proxy, "GET", "")).json();
  const getAllMs = performance.now() - g0;
  if (Object.keys(all).length < added.length) {
    throw new Error(`listed ${Object.keys(all).length} of ${added.length} routes`);
  }
  const d0 = performance.now();
  let deleted = 0;
  await pool(added, c, d0 + options.capMs, async (user) => {
    const response = await call(proxy, "DELETE", `/user/${user}`);
    await response.body?.cancel();
    deleted++;
  });
  return {
    n,
    c,
    filled: added.length - latencies.length,
    fillMs,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    getAllMs,
    deleteMs: performance.now() - d0,
    deleted,
    toDelete: added.length,
    rssMb: rss,
    takeoverP50: percentile(taken, 50),
    takeoverMax: taken.length ? Math.max(...taken) : NaN,
    takeoverMissed: takeover.length - taken.length,
  };
}
