/**
 * The 9 am login storm: with 5,000 routes in the store, 1,000 users log in, JupyterHub adding
 * their routes at its default concurrency (10 at a time). Reports, for each peer, the time
 * until all 1,000 are routable, each add's time until routable (p50, p99), and, for ours with
 * the fallback, the time until traefik has taken over the last of them (its router count has
 * grown by 1,000, bench/takeover.ts). configurable-http-proxy runs the same storm (its 5,000
 * routes added through its API first) for the ratio. Run by `deno task bench`, or alone:
 *
 *   deno run --allow-all bench/login_storm.ts 5000 1000 [only]
 *
 * @module
 */

import { CHP_PEER, OURS, type Peer, selected } from "./peers.ts";
import { hasRouter, pollUntil, routerTotal } from "./takeover.ts";
import { addTimed, benchUser, percentile, pool, rssMb } from "./workload.ts";
import { cpuSince, descendants } from "./cpu.ts";

/** One storm. */
export interface StormResult {
  /** The peer. */
  proxy: string;
  /** Routes in the store before the storm. */
  existing: number;
  /** Routes added. */
  added: number;
  /** Concurrency. */
  c: number;
  /** Until the last added route was routable, ms. */
  totalMs: number;
  /** Add -> routable, median, ms. */
  p50: number;
  /** Add -> routable, 99th percentile, ms. */
  p99: number;
  /**
   * With the fallback: from the start of the storm until traefik's API has the routers of all
   * added routes, ms (NaN otherwise, or when not within 60 s of the last add).
   */
  takeoverMs: number;
  /** Resident memory of the manager after the storm, MB. */
  rssMb: number;
  /**
   * CPU used during the storm (until the last add was routable), ms: the manager (`proxy`), the
   * processes it started (`traefik`), the store server, and this bench process (`bench`: the
   * load generator and the backend). NaN where `/proc` cannot be read.
   */
  cpu: { proxy: number; traefik: number; store: number; bench: number };
  /** Why the storm failed (then every number is NaN). */
  error?: string;
}

/** The peers of the storm by default: CHP, and ours on each store, with and without fallback. */
export const STORM_PEERS: Peer[] = [
  CHP_PEER,
  ...OURS.filter((p) => !p.name.includes("traefik reads")),
];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function reachesBackend(url: string): Promise<boolean> {
  const response = await fetch(url);
  const text = await response.text();
  return response.status === 200 && text.includes('"backend":"bench"');
}

/**
 * Runs the storm once per peer (default `STORM_PEERS`).
 *
 * @example
 * ```ts
 * import { loginStorm } from "./login_storm.ts";
 * // const results = await loginStorm({ existing: 5000, added: 1000, c: 10, target });
 * ```
 */
export async function loginStorm(
  options: { existing: number; added: number; c: number; target: string; peers?: Peer[] },
): Promise<StormResult[]> {
  const results: StormResult[] = [];
  const routes = Array.from({ length: options.existing }, (_, i) => ({
    routespec: `/user/${benchUser("e", i)}/`,
    target: options.target,
    data: { user: benchUser("e", i), server_name: "" },
    lastActivity: new Date().toISOString(),
  }));
  const lastExisting = `/user/${benchUser("e", options.existing - 1)}/`;
  for (const peer of options.peers ?? STORM_PEERS) {
    let proxy;
    try {
      proxy = await peer.start({ routes });
      const publicUrl = proxy.publicUrl;
      // The storm hits a proxy that has been up for a while: every existing route served,
      // by traefik itself.
      const traefik = proxy.traefik;
      const up = await pollUntil(
        async () =>
          await reachesBackend(publicUrl + lastExisting) &&
          (!traefik || await hasRouter(traefik, lastExisting)),
        performance.now(),
      );
      if (Number.isNaN(up)) throw new Error(`${peer.name}: the existing routes are not served`);
      await sleep(1000);
      const before = traefik && proxy.fallback ? await routerTotal(traefik) : 0;
      const latencies: number[] = [];
      const cpuDone = cpuSince({
        proxy: [proxy.pid],
        traefik: descendants(proxy.pid),
        store: proxy.storePid === undefined ? [] : [proxy.storePid],
        bench: [Deno.pid],
      });
      const t0 = performance.now();
      const users = Array.from({ length: options.added }, (_, i) => benchUser("storm", i));
      const running = proxy;
      await pool(users, options.c, Infinity, async (user) => {
        latencies.push(await addTimed(running, user, options.target));
      });
      const totalMs = performance.now() - t0;
      const cpu = cpuDone() as StormResult["cpu"];
      const takeoverMs = traefik && proxy.fallback
        ? await pollUntil(async () => await routerTotal(traefik) >= before + options.added, t0)
        : NaN;
      results.push({
        proxy: peer.name,
        existing: options.existing,
        added: options.added,
        c: options.c,
        totalMs,
        p50: percentile(latencies, 50),
        p99: percentile(latencies, 99),
        takeoverMs,
        rssMb: await rssMb(proxy.pid),
        cpu,
      });
    } catch (error) {
      results.push({
        proxy: peer.name,
        existing: options.existing,
        added: options.added,
        c: options.c,
        totalMs: NaN,
        p50: NaN,
        p99: NaN,
        takeoverMs: NaN,
        rssMb: NaN,
        cpu: { proxy: NaN, traefik: NaN, store: NaN, bench: NaN },
        error: (error as Error).message,
      });
    } finally {
      await proxy?.stop();
    }
  }
  return results;
}

if (import.meta.main) {
  const { startBackend } = await import("../tests/helpers.ts");
  const backend = startBackend("bench");
  try {
    const existing = Number(Deno.args[0] ?? 5_000);
    const added = Number(Deno.args[1] ?? 1_000);
    const peers = STORM_PEERS.filter((p) => selected(p.name, Deno.args[2]));
    for (const r of await loginStorm({ existing, added, c: 10, target: backend.url, peers })) {
      if (r.error) {
        console.log(`${r.proxy}: failed: ${r.error}`);
        continue;
      }
      console.log(
        `${r.proxy}: ${r.added} added onto ${r.existing} at C=${r.c} in ${
          (r.totalMs / 1000).toFixed(1)
        } s; add p50 ${r.p50.toFixed(0)} ms, p99 ${r.p99.toFixed(0)} ms; traefik has all after ${
          (r.takeoverMs / 1000).toFixed(1)
        } s; RSS ${r.rssMb.toFixed(0)} MB; CPU s: ${
          Object.entries(r.cpu).map(([role, ms]) => `${role} ${(ms / 1000).toFixed(2)}`).join(", ")
        }`,
      );
    }
  } finally {
    await backend.close();
  }
}
