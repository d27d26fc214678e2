/**
 * What `--socket` costs: this process relays the public unix socket to traefik's loopback entry
 * point. The same Deno load generator (50 concurrent keep-alive loops for a few seconds; wrk
 * cannot dial a unix socket) against one CLI on a TCP port and one on a unix socket, both to the
 * same backend through traefik.
 *
 * @module
 */

import { freePort } from "../tests/helpers.ts";
import { addRoute, withCli } from "./_cli.ts";
import { type Throughput, throughputOf } from "./throughput.ts";

/** The two runs. */
export interface SocketOverhead {
  /** Through `--ip/--port` (traefik's own listener). */
  tcp: Throughput;
  /** Through `--socket` (this process's relay in front of traefik). */
  socket: Throughput;
}

/** `connections` loops of GET `url` through `client` for `seconds`. */
async function load(
  url: string,
  client: Deno.HttpClient | undefined,
  options: { seconds: number; connections: number },
): Promise<Throughput> {
  const latencies: number[] = [];
  const end = performance.now() + options.seconds * 1000;
  await Promise.all(Array.from({ length: options.connections }, async () => {
    while (performance.now() < end) {
      const start = performance.now();
      const response = await fetch(url, client ? { client } : {});
      await response.arrayBuffer();
      if (!response.ok) throw new Error(`${url}: ${response.status}`);
      latencies.push(performance.now() - start);
    }
  }));
  return throughputOf(latencies, options.seconds);
}

/**
 * Measures both runs against `backendUrl`, after traefik has taken the route over (each run
 * goes through traefik, not through the fallback).
 *
 * @example
 * ```ts
 * import { socketOverhead } from "./socket.ts";
 * // const { tcp, socket } = await socketOverhead("http://127.0.0.1:9000");
 * ```
 */
export async function socketOverhead(
  backendUrl: string,
  options: { seconds?: number; connections?: number } = {},
): Promise<SocketOverhead> {
  const run = { seconds: options.seconds ?? 5, connections: options.connections ?? 50 };
  const port = freePort();
  const tcp = await withCli(
    ["--ip", "127.0.0.1", "--port", String(port), "--no-fallback"],
    async () => (await fetch(`http://127.0.0.1:${port}/_chp_healthz`)).ok,
    async (apiUrl) => {
      await addRoute(apiUrl, { path: "/user/sock", target: backendUrl });
      return await load(`http://127.0.0.1:${port}/user/sock/`, undefined, run);
    },
  );
  const dir = await Deno.makeTempDir({ prefix: "jhtp-bench-sock-" });
  const path = `${dir}/proxy.sock`;
  const client = Deno.createHttpClient({ proxy: { transport: "unix", path } });
  try {
    const socket = await withCli(
      ["--socket", path, "--no-fallback"],
      async () => (await fetch("http://localhost/_chp_healthz", { client })).ok,
      async (apiUrl) => {
        await addRoute(apiUrl, { path: "/user/sock", target: backendUrl });
        return await load("http://localhost/user/sock/", client, run);
      },
    );
    return { tcp, socket };
  } finally {
    client.close();
    await Deno.remove(dir, { recursive: true });
  }
}
