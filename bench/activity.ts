/**
 * What tracking routes' activity costs the data plane: wrk (50 connections) to one route through
 * traefik with activity off (`--no-activity`), on (traefik's JSON access log read by this
 * process, the default), and, for comparison, traefik's Prometheus router counters on instead
 * (`addRoutersLabels`, the other source traefik offers); then websocket echo round trips through
 * traefik alone (`--no-websocket-activity`) and relayed by this process (the default, which sees
 * every message). Each configuration runs `rounds` times, alternating, and reports its median.
 *
 * @module
 */

import { freePort } from "../tests/helpers.ts";
import { CHP, CHP_PEER } from "./peers.ts";
import { addRoute, withCli } from "./_cli.ts";
import { measureThroughput, type Throughput, throughputOf } from "./throughput.ts";

/** One configuration's result. */
export interface ActivityRow {
  /** What was measured. */
  name: string;
  /** Its median run. */
  result: Throughput;
}

/** Both parts. */
export interface ActivityCost {
  /** HTTP, wrk. */
  http: ActivityRow[];
  /** Websocket round trips. */
  websocket: ActivityRow[];
}

/** `connections` websockets, each sending a message and awaiting its echo, for `seconds`. */
async function echoLoops(url: string, seconds: number, connections: number): Promise<Throughput> {
  const latencies: number[] = [];
  const end = performance.now() + seconds * 1000;
  await Promise.all(Array.from({ length: connections }, async () => {
    const socket = new WebSocket(url);
    await new Promise((resolve, reject) => {
      socket.onopen = resolve;
      socket.onerror = reject;
    });
    let echoed: (() => void) | undefined;
    socket.onmessage = () => echoed?.();
    while (performance.now() < end) {
      const start = performance.now();
      await new Promise<void>((resolve) => {
        echoed = resolve;
        socket.send("x".repeat(256));
      });
      latencies.push(performance.now() - start);
    }
    const closed = new Promise((resolve) => socket.onclose = resolve);
    socket.close();
    await closed;
  }));
  return throughputOf(latencies, seconds);
}

/** Runs `fn` with the public port of configurable-http-proxy routing /user/act/ to `target`. */
async function withChp<T>(target: string, fn: (port: number) => Promise<T>): Promise<T> {
  const chp = await CHP_PEER.start({ routes: [{ routespec: "/user/act/", target, data: {} }] });
  try {
    return await fn(Number(new URL(chp.publicUrl).port));
  } finally {
    await chp.stop();
  }
}

function median(results: Throughput[]): Throughput {
  return [...results].sort((a, b) => a.rps - b.rps)[Math.floor(results.length / 2)];
}

/**
 * Measures every configuration against a backend of its own (a Deno server that answers every
 * request and echoes websocket messages), after traefik has taken the route over.
 *
 * @example
 * ```ts
 * import { activityCost } from "./activity.ts";
 * // const { http, websocket } = await activityCost({ rounds: 3 });
 * ```
 */
export async function activityCost(
  options: { rounds?: number; seconds?: number } = {},
): Promise<ActivityCost> {
  const backend = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
    if (request.headers.get("upgrade")?.toLowerCase() === "websocket") {
      const { socket, response } = Deno.upgradeWebSocket(request);
      socket.onmessage = (event) => socket.send(event.data);
      return response;
    }
    return new Response("ok");
  });
  const backendUrl = `http://127.0.0.1:${backend.addr.port}`;
  const rounds = options.rounds ?? 3;
  const seconds = options.seconds ?? 5;
  const metricsEntry = freePort();
  const prometheus = await Deno.makeTempFile({ suffix: ".toml" });
  await Deno.writeTextFile(
    prometheus,
    `[entryPoints.bench-metrics]\naddress = "127.0.0.1:${metricsEntry}"\n` +
      `[metrics.prometheus]\nentryPoint = "bench-metrics"\naddRoutersLabels = true\n`,
  );
  const http: [string, string[]][] = [
    ["activity off (--no-activity)", ["--no-activity"]],
    ["activity on: traefik's access log (default)", []],
    [
      "activity off, traefik's Prometheus router counters on instead",
      ["--no-activity", "--extra-static-config", prometheus],
    ],
  ];
  const websocket: [string, string[]][] = [
    ["traefik relays (--no-websocket-activity)", ["--no-websocket-activity"]],
    ["this process relays, counting messages (default)", []],
  ];
  const run = async (flags: string[], measure: (port: number) => Promise<Throughput>) => {
    const port = freePort();
    return await withCli(
      ["--ip", "127.0.0.1", "--port", String(port), ...flags],
      async () => (await fetch(`http://127.0.0.1:${port}/_chp_healthz`)).ok,
      async (apiUrl) => {
        await addRoute(apiUrl, { path: "/user/act", target: backendUrl });
        // traefik takes the route over from the fallback within a second here.
        await new Promise((resolve) => setTimeout(resolve, 2_000));
        return await measure(port);
      },
    );
  };
  try {
    const results = new Map<string, Throughput[]>();
    const chp = await Deno.stat(CHP).then(() => true, () => false);
    const chpHttp = "configurable-http-proxy 5.3 (for comparison)";
    const chpWebsocket = "configurable-http-proxy 5.3 relays (for comparison)";
    for (let round = 0; round < rounds; round++) {
      if (chp) {
        const http = await withChp(
          backendUrl,
          (port) => measureThroughput(`http://127.0.0.1:${port}/user/act/x`, seconds),
        );
        results.set(chpHttp, [...results.get(chpHttp) ?? [], http]);
        const ws = await withChp(
          backendUrl,
          (port) => echoLoops(`ws://127.0.0.1:${port}/user/act/ws`, seconds, 20),
        );
        results.set(chpWebsocket, [...results.get(chpWebsocket) ?? [], ws]);
      }
      for (const [name, flags] of http) {
        const result = await run(
          flags,
          (port) => measureThroughput(`http://127.0.0.1:${port}/user/act/x`, seconds),
        );
        results.set(name, [...results.get(name) ?? [], result]);
      }
      for (const [name, flags] of websocket) {
        const result = await run(
          flags,
          (port) => echoLoops(`ws://127.0.0.1:${port}/user/act/ws`, seconds, 20),
        );
        results.set(name, [...results.get(name) ?? [], result]);
      }
    }
    const rows = (list: [string, string[]][], peer: string) =>
      [...list.map(([name]) => name), ...(chp ? [peer] : [])].map((name) => ({
        name,
        result: median(results.get(name)!),
      }));
    return { http: rows(http, chpHttp), websocket: rows(websocket, chpWebsocket) };
  } finally {
    await Deno.remove(prometheus);
    await backend.shutdown();
  }
}
