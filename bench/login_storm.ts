/**
 * The 9 am login storm: with 5,000 routes in the store, 1,000 users log in, JupyterHub adding
 * their routes at its default concurrency (10 at a time). Reports the time until all 1,000 are
 * routable and each add's time until routable (p50, p99), for each provider. Run by
 * `deno task bench`, or alone:
 *
 *   deno run --allow-all bench/login_storm.ts 5000 1000
 *
 * @module
 */

import { startCli } from "../tests/cli_helpers.ts";
import { prefilledStore } from "./restart.ts";
import { addTimed, percentile, pool } from "./workload.ts";

/** One storm. */
export interface StormResult {
  /** Provider. */
  provider: "file" | "redis" | "etcd";
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
}

/**
 * Runs the storm once per provider.
 *
 * @example
 * ```ts
 * import { loginStorm } from "./login_storm.ts";
 * // const results = await loginStorm({ existing: 5000, added: 1000, c: 10, target });
 * ```
 */
export async function loginStorm(
  options: { existing: number; added: number; c: number; target: string },
): Promise<StormResult[]> {
  const results: StormResult[] = [];
  const routes = Array.from({ length: options.existing }, (_, i) => ({
    routespec: `/user/e${i}/`,
    target: options.target,
    data: { user: `e${i}`, server_name: "" },
    lastActivity: new Date().toISOString(),
  }));
  for (const provider of ["file", "redis", "etcd"] as const) {
    const { flags, cleanup } = await prefilledStore(provider, routes);
    const cli = await startCli([...flags, "--check-route-timeout", "300"]);
    try {
      const proxy = {
        publicUrl: cli.publicUrl,
        apiUrl: cli.apiUrl,
        pid: cli.child.pid,
        stop: async () => void await cli.stop(),
      };
      const latencies: number[] = [];
      const t0 = performance.now();
      const users = Array.from({ length: options.added }, (_, i) => `storm${i}`);
      await pool(users, options.c, Infinity, async (user) => {
        latencies.push(await addTimed(proxy, user, options.target));
      });
      results.push({
        provider,
        existing: options.existing,
        added: options.added,
        c: options.c,
        totalMs: performance.now() - t0,
        p50: percentile(latencies, 50),
        p99: percentile(latencies, 99),
      });
    } finally {
      await cli.stop();
      await cleanup();
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
    for (const r of await loginStorm({ existing, added, c: 10, target: backend.url })) {
      console.log(
        `${r.provider}: ${r.added} added onto ${r.existing} at C=${r.c} in ${
          (r.totalMs / 1000).toFixed(1)
        } s; add p50 ${r.p50.toFixed(0)} ms, p99 ${r.p99.toFixed(0)} ms`,
      );
    }
  } finally {
    await backend.close();
  }
}
