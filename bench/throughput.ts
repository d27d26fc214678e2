/**
 * Data-plane throughput and latency with `wrk` (Debian's package): 50 connections for a few
 * seconds against one URL.
 *
 * @module
 */

/** What wrk reported. */
export interface Throughput {
  /** Requests per second. */
  rps: number;
  /** Latency p50, ms. */
  p50: number;
  /** Latency p99, ms. */
  p99: number;
}

function ms(value: string, unit: string): number {
  const n = Number(value);
  return unit === "us" ? n / 1000 : unit === "s" ? n * 1000 : n;
}

/**
 * Parses wrk's `--latency` output.
 *
 * @example
 * ```ts
 * import { parseWrk } from "./throughput.ts";
 * parseWrk("     50%    1.20ms\n     99%    8.00ms\nRequests/sec:  12000.50\n");
 * // { rps: 12000.5, p50: 1.2, p99: 8 }
 * ```
 */
export function parseWrk(text: string): Throughput {
  const pct = (p: string) => {
    const match = new RegExp(`^\\s*${p}%\\s+([0-9.]+)(us|ms|s)`, "m").exec(text);
    return match ? ms(match[1], match[2]) : NaN;
  };
  const rps = Number(/Requests\/sec:\s+([0-9.]+)/.exec(text)?.[1] ?? NaN);
  return { rps, p50: pct("50"), p99: pct("99") };
}

/**
 * Runs wrk against `url`, or with a Lua `script` (a file) that chooses each request.
 *
 * @example
 * ```ts
 * import { measureThroughput } from "./throughput.ts";
 * // await measureThroughput("http://127.0.0.1:8000/user/a/", 5);
 * ```
 */
export async function measureThroughput(
  url: string,
  seconds = 5,
  script?: string,
): Promise<Throughput> {
  const out = await new Deno.Command("wrk", {
    args: ["-t2", "-c50", `-d${seconds}s`, "--latency", ...(script ? ["-s", script] : []), url],
  }).output();
  if (out.code !== 0) throw new Error(`wrk failed: ${new TextDecoder().decode(out.stderr)}`);
  return parseWrk(new TextDecoder().decode(out.stdout));
}

/**
 * Requests per second and latency percentiles of a load generator's own run: `latencies` in ms
 * (sorted here), over `seconds`.
 *
 * @example
 * ```ts
 * import { throughputOf } from "./throughput.ts";
 * throughputOf([3, 1, 2, 4], 2); // { rps: 2, p50: 3, p99: 4 }
 * ```
 */
export function throughputOf(latencies: number[], seconds: number): Throughput {
  latencies.sort((a, b) => a - b);
  const at = (q: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))];
  return { rps: latencies.length / seconds, p50: at(0.5), p99: at(0.99) };
}
