/**
 * A proxy process starting on a store that already holds N routes (written through the
 * library), as after a restart or in a second replica: time from process start until the last
 * route is routable, `GET /api/routes` over HTTP with N routes, and the process's resident memory.
 *
 * @module
 */

import { api, startCli } from "../tests/cli_helpers.ts";
import { startEtcd, startRedis, type StoreServer } from "../tests/stores.ts";
import { fileStore } from "../providers/file.ts";
import { redisStore } from "../providers/redis.ts";
import { etcdStore } from "../providers/etcd.ts";
import type { Store } from "../lib/core/store.ts";
import type { Route } from "../lib/core/types.ts";
import { percentile } from "./workload.ts";

/** One restart measurement. */
export interface RestartResult {
  /** Provider. */
  provider: "file" | "redis" | "etcd";
  /** Routes in the store. */
  n: number;
  /** From spawning the process until the last route is routable, ms. */
  routableMs: number;
  /** The first `GET /api/routes` with N routes (it may fill the in-process copy), ms. */
  firstGetMs: number;
  /** `GET /api/routes` with N routes, median of the next 5, ms. */
  getAllMs: number;
  /** The process's resident memory after that, MB. */
  rssMb: number;
  /** Its peak resident memory (VmHWM), MB. */
  peakMb: number;
}

/**
 * Measures a start on a pre-filled store for each provider.
 *
 * @example
 * ```ts
 * import { restartWithRoutes } from "./restart.ts";
 * // const results = await restartWithRoutes(10_000, "http://127.0.0.1:9000");
 * ```
 */
export async function restartWithRoutes(n: number, target: string): Promise<RestartResult[]> {
  const results: RestartResult[] = [];
  const routes = Array.from({ length: n }, (_, i) => ({
    routespec: `/user/r${i}/`,
    target,
    data: { user: `r${i}`, server_name: "" },
    lastActivity: new Date().toISOString(),
  }));
  for (const provider of ["file", "redis", "etcd"] as const) {
    const { flags, cleanup } = await prefilledStore(provider, routes);
    const t0 = performance.now();
    const cli = await startCli([...flags, "--check-route-timeout", "300"]);
    try {
      const last = `${cli.publicUrl}/user/r${n - 1}/`;
      while (true) {
        const response = await fetch(last);
        await response.body?.cancel();
        if (response.status === 200) break;
        await new Promise((r) => setTimeout(r, 10));
      }
      const routableMs = performance.now() - t0;
      const times: number[] = [];
      for (let i = 0; i < 6; i++) {
        const g = performance.now();
        const body = await (await api(cli, "GET", "")).json();
        if (Object.keys(body).length !== n) {
          throw new Error(`${provider}: listed ${Object.keys(body).length}`);
        }
        times.push(performance.now() - g);
      }
      const status = await Deno.readTextFile(`/proc/${cli.child.pid}/status`);
      const rssMb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
      const peakMb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
      results.push({
        provider,
        n,
        routableMs,
        firstGetMs: times[0],
        getAllMs: percentile(times.slice(1), 50),
        rssMb,
        peakMb,
      });
    } finally {
      await cli.stop();
      await cleanup();
    }
  }
  return results;
}

/** The CLI flags for a store that holds `routes`, and what removes it. */
export interface PrefilledStore {
  /** Flags that point the CLI at the store. */
  flags: string[];
  /** Stops the store's server and removes its files. */
  cleanup(): Promise<void>;
}

/**
 * A store of `provider` that holds `routes`, written through the library in one batch.
 *
 * @example
 * ```ts
 * import { prefilledStore } from "./restart.ts";
 * // const { flags, cleanup } = await prefilledStore("redis", routes);
 * ```
 */
export async function prefilledStore(
  provider: "file" | "redis" | "etcd",
  routes: Route[],
): Promise<PrefilledStore> {
  const dir = await Deno.makeTempDir({ prefix: "jhtp-prefilled-" });
  let server: StoreServer | undefined;
  let store: Store;
  let flags: string[];
  if (provider === "file") {
    store = await fileStore({ path: `${dir}/rules.toml` });
    flags = ["--dynamic-config-file", `${dir}/rules.toml`];
  } else if (provider === "redis") {
    server = await startRedis();
    store = await redisStore({ url: server.url });
    flags = ["--provider", "redis", "--redis-url", server.url];
  } else {
    server = await startEtcd();
    store = await etcdStore({ urls: [server.url] });
    flags = ["--provider", "etcd", "--etcd-url", server.url];
  }
  await store.apply({ set: routes });
  await store.close();
  return {
    flags,
    async cleanup() {
      await server?.stop();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

if (import.meta.main) {
  const { startBackend } = await import("../tests/helpers.ts");
  const backend = startBackend("bench");
  try {
    for (const r of await restartWithRoutes(Number(Deno.args[0] ?? 10_000), backend.url)) {
      console.log(
        `${r.provider}: routable after ${r.routableMs.toFixed(0)} ms, GET all first ${
          r.firstGetMs.toFixed(0)
        } ms then ${r.getAllMs.toFixed(0)} ms, RSS ${r.rssMb.toFixed(0)} MB (peak ${
          r.peakMb.toFixed(0)
        } MB)`,
      );
    }
  } finally {
    await backend.close();
  }
}
