/**
 * A proxy process starting on a store that already holds N routes (written through the
 * library), as after a restart or in a second replica: time from spawning the process until
 * the last route is routable, until traefik has taken that route over (its API has the
 * router; with the fallback the route is served before), `GET /api/routes` over HTTP with N
 * routes, and the process's resident memory.
 *
 *   deno run --allow-all bench/restart.ts 10000 [only]
 *
 * @module
 */

import { OURS, type Peer, selected } from "./peers.ts";
import { hasRouter, pollUntil } from "./takeover.ts";
import { benchUser, percentile } from "./workload.ts";

/** One restart measurement. */
export interface RestartResult {
  /** The peer. */
  proxy: string;
  /** Routes in the store. */
  n: number;
  /** From spawning the process until the last route is routable, ms. */
  routableMs: number;
  /** From spawning the process until traefik's API has the last route's router, ms. */
  takeoverMs: number;
  /** The first `GET /api/routes` with N routes (it may fill the in-process copy), ms. */
  firstGetMs: number;
  /** `GET /api/routes` with N routes, median of the next 5, ms. */
  getAllMs: number;
  /** The process's resident memory after that, MB. */
  rssMb: number;
  /** Its peak resident memory (VmHWM), MB. */
  peakMb: number;
  /** Why the measurement failed (then every number is NaN). */
  error?: string;
}

async function reachesBackend(url: string): Promise<boolean> {
  const response = await fetch(url);
  const text = await response.text();
  return response.status === 200 && text.includes('"backend":"bench"');
}

/**
 * Measures a start on a pre-filled store for each of `peers` (default: all of ours).
 *
 * @example
 * ```ts
 * import { restartWithRoutes } from "./restart.ts";
 * // const results = await restartWithRoutes(10_000, "http://127.0.0.1:9000");
 * ```
 */
export async function restartWithRoutes(
  n: number,
  target: string,
  peers: Peer[] = OURS,
): Promise<RestartResult[]> {
  const results: RestartResult[] = [];
  const routes = Array.from({ length: n }, (_, i) => ({
    routespec: `/user/${benchUser("r", i)}/`,
    target,
    data: { user: benchUser("r", i), server_name: "" },
    lastActivity: new Date().toISOString(),
  }));
  const last = `/user/${benchUser("r", n - 1)}/`;
  for (const peer of peers) {
    let running;
    try {
      running = await peer.start({ routes });
      const t0 = running.spawnedAt;
      const traefik = running.traefik;
      const publicUrl = running.publicUrl;
      const [routableMs, takeoverMs] = await Promise.all([
        pollUntil(() => reachesBackend(publicUrl + last), t0),
        traefik ? pollUntil(() => hasRouter(traefik, last), t0) : NaN,
      ]);
      const times: number[] = [];
      for (let i = 0; i < 6; i++) {
        const g = performance.now();
        const response = await fetch(`${running.apiUrl}/api/routes`, {
          headers: { authorization: "token secret" },
        });
        const body = await response.json();
        if (Object.keys(body).length !== n) {
          throw new Error(`${peer.name}: listed ${Object.keys(body).length}`);
        }
        times.push(performance.now() - g);
      }
      const status = await Deno.readTextFile(`/proc/${running.pid}/status`);
      const rssMb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
      const peakMb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
      results.push({
        proxy: peer.name,
        n,
        routableMs,
        takeoverMs,
        firstGetMs: times[0],
        getAllMs: percentile(times.slice(1), 50),
        rssMb,
        peakMb,
      });
    } catch (error) {
      const failed = NaN;
      results.push({
        proxy: peer.name,
        n,
        routableMs: failed,
        takeoverMs: failed,
        firstGetMs: failed,
        getAllMs: failed,
        rssMb: failed,
        peakMb: failed,
        error: (error as Error).message,
      });
    } finally {
      await running?.stop();
    }
  }
  return results;
}

if (import.meta.main) {
  const { startBackend } = await import("../tests/helpers.ts");
  const backend = startBackend("bench");
  try {
    const peers = OURS.filter((p) => selected(p.name, Deno.args[1]));
    for (const r of await restartWithRoutes(Number(Deno.args[0] ?? 10_000), backend.url, peers)) {
      if (r.error) {
        console.log(`${r.proxy}: failed: ${r.error}`);
        continue;
      }
      console.log(
        `${r.proxy}: routable after ${r.routableMs.toFixed(0)} ms, traefik has it after ${
          r.takeoverMs.toFixed(0)
        } ms, GET all first ${r.firstGetMs.toFixed(0)} ms then ${r.getAllMs.toFixed(0)} ms, RSS ${
          r.rssMb.toFixed(0)
        } MB (peak ${r.peakMb.toFixed(0)} MB)`,
      );
    }
  } finally {
    await backend.close();
  }
}
