/**
 * The proxies the benchmark compares, each started fresh on free loopback ports and driven
 * through configurable-http-proxy's REST API.
 *
 * @module
 */

import { canConnect, startCli } from "../tests/cli_helpers.ts";
import { freePort } from "../tests/helpers.ts";
import { startEtcd, startRedis, type StoreServer } from "../tests/stores.ts";

const ROOT = new URL("..", import.meta.url).pathname;
/** configurable-http-proxy as installed by `./setup.sh bench`. */
export const CHP = `${ROOT}.tools/npm/node_modules/.bin/configurable-http-proxy`;
const PYTHON = `${ROOT}.tools/venv/bin/python`;

/** A started proxy. */
export interface Running {
  /** Public base URL. */
  publicUrl: string;
  /** REST API base URL (CHP's API). */
  apiUrl: string;
  /** Process whose resident memory is reported (the manager, not traefik). */
  pid: number;
  /** Stops everything it started. */
  stop(): Promise<void>;
}

/** A proxy to compare. */
export interface Peer {
  /** Name in the results. */
  name: string;
  /** Whose data plane it uses (peers sharing one are measured once). */
  dataPlane: "configurable-http-proxy" | "traefik";
  /** Starts it. */
  start(): Promise<Running>;
}

async function waitPort(port: number, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await canConnect(port))) {
    if (Date.now() > deadline) throw new Error(`nothing listens on ${port} after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function process(command: string, args: string[], env: Record<string, string> = {}) {
  return new Deno.Command(command, {
    args,
    env,
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
}

async function stopChild(child: Deno.ChildProcess): Promise<void> {
  try {
    child.kill("SIGTERM");
  } catch {
    // gone
  }
  await child.status;
}

function ours(name: string, store?: () => Promise<[StoreServer, string[]]>): Peer {
  return {
    name,
    dataPlane: "traefik",
    async start() {
      const [server, flags] = store ? await store() : [undefined, []];
      const cli = await startCli(flags);
      return {
        publicUrl: cli.publicUrl,
        apiUrl: cli.apiUrl,
        pid: cli.child.pid,
        async stop() {
          await cli.stop();
          await server?.stop();
        },
      };
    },
  };
}

function python(provider: "file" | "redis"): Peer {
  return {
    name: `Python jupyterhub-traefik-proxy 2.1, ${provider}`,
    dataPlane: "traefik",
    async start() {
      const redis = provider === "redis" ? await startRedis() : undefined;
      const workdir = await Deno.makeTempDir({ prefix: "jhtp-python-" });
      const [publicPort, apiPort, traefikApiPort] = [freePort(), freePort(), freePort()];
      const child = process(PYTHON, [
        `${ROOT}bench/python_peer.py`,
        JSON.stringify({
          provider,
          public_port: publicPort,
          api_port: apiPort,
          traefik_api_port: traefikApiPort,
          workdir,
          redis_url: redis?.url,
        }),
      ], { PATH: `${ROOT}.tools/bin:${Deno.env.get("PATH")}` });
      await waitPort(apiPort, 60_000);
      return {
        publicUrl: `http://127.0.0.1:${publicPort}`,
        apiUrl: `http://127.0.0.1:${apiPort}`,
        pid: child.pid,
        async stop() {
          await stopChild(child);
          await redis?.stop();
          await Deno.remove(workdir, { recursive: true }).catch(() => {});
        },
      };
    },
  };
}

/** Every peer, in the order they are run. */
export const PEERS: Peer[] = [
  {
    name: "configurable-http-proxy 5.3 (memory)",
    dataPlane: "configurable-http-proxy",
    async start() {
      const [port, apiPort] = [freePort(), freePort()];
      const child = process(CHP, [
        "--ip",
        "127.0.0.1",
        "--port",
        String(port),
        "--api-ip",
        "127.0.0.1",
        "--api-port",
        String(apiPort),
        "--log-level",
        "error",
      ], { CONFIGPROXY_AUTH_TOKEN: "secret" });
      await waitPort(apiPort);
      return {
        publicUrl: `http://127.0.0.1:${port}`,
        apiUrl: `http://127.0.0.1:${apiPort}`,
        pid: child.pid,
        stop: () => stopChild(child),
      };
    },
  },
  ours("this proxy, file"),
  ours("this proxy, redis", async () => {
    const server = await startRedis();
    return [server, ["--provider", "redis", "--redis-url", server.url]];
  }),
  ours("this proxy, redis, traefik reads redis", async () => {
    const server = await startRedis();
    return [server, ["--provider", "redis", "--redis-url", server.url, "--traefik-reads-store"]];
  }),
  ours("this proxy, etcd", async () => {
    const server = await startEtcd();
    return [server, ["--provider", "etcd", "--etcd-url", server.url]];
  }),
  python("file"),
  python("redis"),
];
