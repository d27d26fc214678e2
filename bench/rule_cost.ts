/**
 * What the shape of the routes' rules costs traefik's data plane: the rules that accept every
 * spelling of a reserved character (`PathRegexp`, for routespecs such as `/user/a%2Bb/`), and the
 * short rules (`PathPrefix` alone) of traefik's file with the fallback. traefik tries its
 * routers in priority order until one matches, so a request that reaches the catch-all `/` route
 * has been tested against every user route: the worst case. With N routes in a file, a share of
 * them holding a `+`, wrk measures requests per second to one user route and to the catch-all.
 * Run by `deno task bench`, or alone:
 *
 *   deno run --allow-all bench/rule_cost.ts 10000
 *
 * @module
 */

import { stringifyConfig } from "../lib/core/config_format.ts";
import { tableConfig } from "../lib/core/route_config.ts";
import { normalizeRoutespec } from "../lib/core/routespec.ts";
import { staticConfig } from "../lib/traefik/static_config.ts";
import { startTraefik } from "../lib/traefik/process.ts";
import { traefikApi } from "../lib/traefik/api.ts";
import type { Route } from "../lib/core/types.ts";
import { freePort, startBackend } from "../tests/helpers.ts";
import { measureThroughput, type Throughput } from "./throughput.ts";

/**
 * A shape of the table's rules.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import type { RuleShape } from "./rule_cost.ts";
 * const shape: RuleShape = { share: 0, short: true };
 * assert.equal(shape.share, 0);
 * ```
 */
export interface RuleShape {
  /** Share of the routes whose rule is a `PathRegexp` (0 to 1). */
  share: number;
  /** The other routes get the short rule (`RouteRuleOptions.short`; none encloses another). */
  short?: boolean;
}

/** One measurement: N routes, a share of them with a reserved character. */
export interface RuleCostResult extends RuleShape {
  /** Routes in the table (plus the catch-all). */
  n: number;
  /** wrk with each request to a random one of the N user routes. */
  user: Throughput;
  /** wrk against a path only the catch-all `/` route matches. */
  fallthrough: Throughput;
}

/**
 * Measures data-plane throughput at N routes for each shape of the rules.
 *
 * @example Usage
 * ```ts
 * import { ruleCost } from "./rule_cost.ts";
 * // const results = await ruleCost(10_000, [{ share: 0 }, { share: 0, short: true }]);
 * ```
 */
export async function ruleCost(
  n: number,
  shapes: RuleShape[],
  seconds = 5,
): Promise<RuleCostResult[]> {
  const backend = startBackend("rules");
  const results: RuleCostResult[] = [];
  try {
    for (const { share, short = false } of shapes) {
      const every = share > 0 ? Math.round(1 / share) : Infinity;
      const name = (i: number) => (i % every === 0 ? `u${i}+x` : `u${i}`);
      const routes: Route[] = Array.from({ length: n }, (_, i) => ({
        routespec: normalizeRoutespec(`/user/${encodeURIComponent(name(i))}/`),
        target: backend.url,
        data: {},
      }));
      routes.push({ routespec: "/", target: backend.url, data: {} });
      const dir = await Deno.makeTempDir({ prefix: "jhtp-rules-" });
      const path = `${dir}/rules.toml`;
      await Deno.writeTextFile(
        path,
        stringifyConfig(tableConfig(routes, { entryPoint: "http", shortRule: short }), "toml"),
      );
      const port = freePort();
      const userPath = `/user/${name(1).replace("+", "%2B")}/x`;
      // Each request to a random user route, named as `name` names them.
      const script = `${dir}/random.lua`;
      await Deno.writeTextFile(
        script,
        `request = function()
  local i = math.random(0, ${n - 1})
  local name = "u" .. i
  if ${Number.isFinite(every) ? every : 0} > 0 and i % ${
          Number.isFinite(every) ? every : 1
        } == 0 then
    name = name .. "%2Bx"
  end
  return wrk.format("GET", "/user/" .. name .. "/x")
end
`,
      );
      const traefik = await startTraefik({
        staticConfig: staticConfig({
          publicAddress: `127.0.0.1:${port}`,
          apiAddress: `127.0.0.1:${freePort()}`,
          providers: { file: { filename: path, watch: true } },
          extra: { api: { insecure: false } },
        }),
        workDir: dir,
        api: traefikApi({ url: `http://127.0.0.1:${port}` }),
        readyPath: userPath,
      });
      try {
        const user = await measureThroughput(`http://127.0.0.1:${port}`, seconds, script);
        const fallthrough = await measureThroughput(`http://127.0.0.1:${port}/hub/home`, seconds);
        results.push({ n, share, short, user, fallthrough });
      } finally {
        await traefik.stop();
        await Deno.remove(dir, { recursive: true });
      }
    }
  } finally {
    await backend.close();
  }
  return results;
}

/**
 * The shapes `deno task bench` measures: whole rules with no, a tenth and every route a
 * `PathRegexp`, and the short rules traefik's file gets with the fallback.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { RULE_SHAPES } from "./rule_cost.ts";
 * assert.ok(RULE_SHAPES.some((shape) => shape.short));
 * ```
 */
export const RULE_SHAPES: RuleShape[] = [
  { share: 0 },
  { share: 0, short: true },
  { share: 0.1 },
  { share: 1 },
];

if (import.meta.main) {
  const n = Number(Deno.args[0] ?? 10_000);
  for (const r of await ruleCost(n, RULE_SHAPES)) {
    console.log(
      `N=${r.n} regex share ${r.share}${r.short ? ", short rules" : ""}: random user routes ${
        r.user.rps.toFixed(0)
      } req/s ` +
        `(p99 ${r.user.p99.toFixed(1)} ms), catch-all ${r.fallthrough.rps.toFixed(0)} req/s ` +
        `(p99 ${r.fallthrough.p99.toFixed(1)} ms)`,
    );
  }
}
