/**
 * traefik's own floor: how long traefik takes, after its configuration of N routes gains one
 * route, until its public port routes the new path. No proxy of ours is involved: the file is
 * replaced directly (temp file + rename), or the route's keys are written to redis in one
 * MULTI, and the public port is polled every millisecond. Run by `deno task bench`, or alone:
 *
 *   deno run --allow-all bench/traefik_floor.ts 100 1000 10000
 *
 * @module
 */

import { createClient } from "redis";
import { stringifyConfig } from "../lib/core/config_format.ts";
import { routeKeys, sentinelKeys } from "../lib/core/kv_layout.ts";
import { tableConfig } from "../lib/core/route_config.ts";
import { staticConfig } from "../lib/traefik/static_config.ts";
import { startTraefik } from "../lib/traefik/process.ts";
import { traefikApi } from "../lib/traefik/api.ts";
import type { ConfigTree, Route } from "../lib/core/types.ts";
import { freePort, startBackend } from "../tests/helpers.ts";
import { startRedis } from "../tests/stores.ts";

/** Options of `traefikFloor`. */
export interface FloorOptions {
  /** traefik's provider: a file (default) or redis. */
  provider?: "file" | "redis";
  /** Reloads measured at each N; default 7. */
  samples?: number;
  /** The file's format; default TOML. */
  format?: "toml" | "yaml";
  /** Changes the file's configuration before it is written (for comparing shapes). */
  shape?: (config: ConfigTree) => ConfigTree;
  /** Writes a CPU profile of traefik (Go pprof, `api.debug`) taken during the samples here. */
  profile?: string;
  /**
   * Pause between requests for the new route, ms; default 1. Every request costs traefik a
   * walk over its routers (linear in N), so at 10,000 routes fast polling competes with the
   * reload it measures.
   */
  pollMs?: number;
}

/** One measurement: N existing routes, the median and worst of `samples` reloads. */
export interface FloorResult {
  /** traefik provider: file or redis. */
  provider: "file" | "redis";
  /** Existing routes. */
  n: number;
  /** Median time until the new route was routable, ms. */
  median: number;
  /** Slowest of the samples, ms. */
  max: number;
}

/**
 * Measures traefik's reload floor at each N.
 *
 * @example
 * ```ts
 * import { traefikFloor } from "./traefik_floor.ts";
 * // const results = await traefikFloor([100, 1000]);
 * ```
 */
export async function traefikFloor(
  sizes: number[],
  options: FloorOptions = {},
): Promise<FloorResult[]> {
  const provider = options.provider ?? "file";
  const format = options.format ?? "toml";
  const shape = options.shape ?? ((config: ConfigTree) => config);
  const samples = options.samples ?? 7;
  const backend = startBackend("floor");
  const results: FloorResult[] = [];
  try {
    for (const n of sizes) {
      const dir = await Deno.makeTempDir({ prefix: "jhtp-floor-" });
      const path = `${dir}/rules.${format}`;
      const port = freePort();
      const apiPort = freePort();
      const route = (name: string): Route => ({
        routespec: `/user/${name}/`,
        target: backend.url,
        data: { user: name },
      });
      const routes = Array.from({ length: n }, (_, i) => route(`f${i}`));
      const layout = {
        traefikPrefix: "traefik",
        jupyterhubPrefix: "jupyterhub",
        entryPoint: "http",
      };
      const redis = provider === "redis" ? await startRedis() : undefined;
      const client = redis ? createClient({ url: redis.url }) : undefined;
      await client?.connect();
      // File: the whole table again. redis: only the new route's keys, in one MULTI.
      const write = async (table: Route[], added: Route[]) => {
        if (!client) {
          const text = stringifyConfig(shape(tableConfig(table, { entryPoint: "http" })), format);
          await Deno.writeTextFile(`${path}.tmp`, text);
          await Deno.rename(`${path}.tmp`, path);
          return;
        }
        const multi = client.multi();
        for (const route of added) {
          for (const [key, value] of routeKeys(route, layout)) multi.set(key, value);
        }
        await multi.exec();
      };
      if (client) {
        await client.configSet("notify-keyspace-events", "KEA");
        await client.mSet(Object.fromEntries(sentinelKeys(layout)));
      }
      await write(routes, routes);
      const providers = client
        ? { redis: { endpoints: [`127.0.0.1:${redis!.port}`], rootKey: "traefik" } }
        : { file: { filename: path, watch: true } };
      // With a profile: traefik's pprof endpoints on a private loopback entry point.
      const debugAddress = `127.0.0.1:${freePort()}`;
      const traefik = await startTraefik({
        staticConfig: staticConfig({
          publicAddress: `127.0.0.1:${port}`,
          apiAddress: `127.0.0.1:${apiPort}`,
          providers,
          extra: options.profile
            ? {
              api: { insecure: true, debug: true },
              entryPoints: { traefik: { address: debugAddress } },
            }
            : { api: { insecure: false } },
        }),
        workDir: dir,
        api: traefikApi({ url: `http://127.0.0.1:${port}` }),
        readyPath: `/user/f${n - 1}/`,
      });
      const times: number[] = [];
      let profiling: Promise<void> | undefined;
      try {
        if (options.profile) {
          const seconds = Math.max(5, Math.ceil(samples * (n / 1000) * 0.4) + 2);
          const out = options.profile;
          profiling = fetch(`http://${debugAddress}/debug/pprof/profile?seconds=${seconds}`)
            .then((response) => response.arrayBuffer())
            .then((body) => Deno.writeFile(out, new Uint8Array(body)));
        }
        for (let i = 0; i < samples; i++) {
          const extra = route(`new${i}`);
          routes.push(extra);
          const t0 = performance.now();
          await write(routes, [extra]);
          while (true) {
            const response = await fetch(`http://127.0.0.1:${port}/user/new${i}/`);
            await response.body?.cancel();
            if (response.status === 200) break;
            await new Promise((r) => setTimeout(r, options.pollMs ?? 1));
          }
          times.push(performance.now() - t0);
          await new Promise((r) => setTimeout(r, 50));
        }
        await profiling;
      } finally {
        await traefik.stop();
        await client?.quit();
        await redis?.stop();
        await Deno.remove(dir, { recursive: true });
      }
      times.sort((a, b) => a - b);
      results.push({
        provider,
        n,
        median: times[Math.floor(times.length / 2)],
        max: times[times.length - 1],
      });
    }
  } finally {
    await backend.close();
  }
  return results;
}

if (import.meta.main) {
  const sizes = Deno.args.length ? Deno.args.map(Number) : [100, 1000];
  for (const provider of ["file", "redis"] as const) {
    for (const r of await traefikFloor(sizes, { provider })) {
      console.log(
        `${provider} N=${r.n}: median ${r.median.toFixed(1)} ms, max ${r.max.toFixed(1)} ms`,
      );
    }
  }
}
