/**
 * traefik's own floor: how long traefik takes, after a dynamic-configuration file holding N
 * routes is replaced (temp file + rename) with one holding one route more, until its public port
 * routes the new path. No proxy of ours is involved: the file is written directly and the
 * public port is polled every millisecond. Run as part of `deno task bench`, or alone:
 *
 *   deno run --allow-all bench/traefik_floor.ts 100 1000 10000
 *
 * @module
 */

import { stringifyConfig } from "../lib/config_format.ts";
import { tableConfig } from "../lib/route_config.ts";
import { staticConfig } from "../lib/static_config.ts";
import { startTraefik } from "../lib/traefik.ts";
import { traefikApi } from "../lib/traefik_api.ts";
import type { Route } from "../lib/types.ts";
import { freePort, startBackend } from "../tests/helpers.ts";

/** One measurement: N existing routes, the median and worst of `samples` reloads. */
export interface FloorResult {
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
export async function traefikFloor(sizes: number[], samples = 7): Promise<FloorResult[]> {
  const backend = startBackend("floor");
  const results: FloorResult[] = [];
  try {
    for (const n of sizes) {
      const dir = await Deno.makeTempDir({ prefix: "jhtp-floor-" });
      const path = `${dir}/rules.toml`;
      const port = freePort();
      const apiPort = freePort();
      const route = (name: string): Route => ({
        routespec: `/user/${name}/`,
        target: backend.url,
        data: { user: name },
      });
      const routes = Array.from({ length: n }, (_, i) => route(`f${i}`));
      const write = async (table: Route[]) => {
        await Deno.writeTextFile(
          `${path}.tmp`,
          stringifyConfig(tableConfig(table, { entryPoint: "http" }), "toml"),
        );
        await Deno.rename(`${path}.tmp`, path);
      };
      await write(routes);
      const traefik = await startTraefik({
        staticConfig: staticConfig({
          publicAddress: `127.0.0.1:${port}`,
          apiAddress: `127.0.0.1:${apiPort}`,
          providers: { file: { filename: path, watch: true } },
          extra: { api: { insecure: false } },
        }),
        workDir: dir,
        api: traefikApi({ url: `http://127.0.0.1:${port}` }),
        readyPath: `/user/f${n - 1}/`,
      });
      const times: number[] = [];
      try {
        for (let i = 0; i < samples; i++) {
          const extra = route(`new${i}`);
          routes.push(extra);
          const t0 = performance.now();
          await write(routes);
          while (true) {
            const response = await fetch(`http://127.0.0.1:${port}/user/new${i}/`);
            await response.body?.cancel();
            if (response.status === 200) break;
            await new Promise((r) => setTimeout(r, 1));
          }
          times.push(performance.now() - t0);
          await new Promise((r) => setTimeout(r, 50));
        }
      } finally {
        await traefik.stop();
        await Deno.remove(dir, { recursive: true });
      }
      times.sort((a, b) => a - b);
      results.push({
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
  for (const r of await traefikFloor(sizes)) {
    console.log(`N=${r.n}: median ${r.median.toFixed(1)} ms, max ${r.max.toFixed(1)} ms`);
  }
}
