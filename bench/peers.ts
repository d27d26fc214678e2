/**
 * The proxies the benchmark compares, each started fresh on free loopback ports and driven
 * through configurable-http-proxy's REST API. Our peers run with the fallback (the CLI's
 * default) except "this proxy, file, no fallback" (`--no-fallback`: traefik only), each with a
 * known traefik API (`--traefik-api-url`, `--traefik-api-password`) so that the benchmark can
 * see when traefik has taken a route over.
 *
 * @module
 */

import { canConnect, loopbackArgs, startCli } from "../tests/cli_helpers.ts";
import { freePort } from "../tests/helpers.ts";
import { startConsul, startEtcd, startRedis, type StoreServer } from "../tests/stores.ts";
import { fileStore } from "../providers/file.ts";
import { redisStore } from "../providers/redis.ts";
import { etcdStore } from "../providers/etcd.ts";
import { consulStore } from "../providers/consul.ts";
import type { Store } from "../lib/core/store.ts";
import type { Route } from "../lib/core/types.ts";
import type { TraefikAccess } from "./takeover.ts";

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
  /** The store server's process (redis, etcd, consul) when the peer has one. */
  storePid?: number;
  /** `performance.now()` just before the manager process was spawned (after any prefill). */
  spawnedAt: number;
  /** This proxy's traefik API (our peers only), to see when traefik has a route. */
  traefik?: TraefikAccess;
  /** True when this proxy's fallback serves routes until traefik has them. */
  fallback: boolean;
  /** Stops everything it started. */
  stop(): Promise<void>;
}

/** Options of `Peer.start`. */
export interface StartOptions {
  /**
   * Routes the store holds before the process starts (written through the library in one
   * batch; configurable-http-proxy, which keeps them in memory, gets them through its API
   * right after its start).
   */
  routes?: Route[];
}

/** A proxy to compare. */
export interface Peer {
  /** Name in the results. */
  name: string;
  /** Whose data plane it uses (peers sharing one are measured once). */
  dataPlane: "configurable-http-proxy" | "traefik";
  /** True when `start` takes `routes` (not the Python proxy). */
  prefill: boolean;
  /** Starts it. */
  start(options?: StartOptions): Promise<Running>;
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

/** Where routes live for one of our peers. */
export type StoreKind = "file" | "redis" | "etcd" | "consul";

/** A store for the CLI: its flags, its server (redis, etcd) and a library handle on it. */
interface StoreSetup {
  flags: string[];
  server?: StoreServer;
  open(): Promise<Store>;
}

async function storeSetup(kind: StoreKind, dir: string): Promise<StoreSetup> {
  if (kind === "file") {
    const path = `${dir}/rules.toml`;
    return { flags: ["--dynamic-config-file", path], open: () => fileStore({ path }) };
  }
  if (kind === "redis") {
    const server = await startRedis();
    return {
      flags: ["--provider", "redis", "--redis-url", server.url],
      server,
      open: () => redisStore({ url: server.url }),
    };
  }
  if (kind === "consul") {
    const server = await startConsul();
    return {
      flags: ["--provider", "consul", "--consul-url", server.url],
      server,
      open: () => consulStore({ url: server.url }),
    };
  }
  const server = await startEtcd();
  return {
    flags: ["--provider", "etcd", "--etcd-url", server.url],
    server,
    open: () => etcdStore({ urls: [server.url] }),
  };
}

/** How one of our peers is run. */
interface OursOptions {
  /** The store. */
  store: StoreKind;
  /** The fallback (default on, as in the CLI); false passes `--no-fallback`. */
  fallback?: boolean;
  /** `--traefik-reads-store`: traefik reads redis itself, not a file fed from it. */
  traefikReadsStore?: boolean;
  /** false: `--entry-tree-routes 0`, every router on the public entry point. */
  entryTree?: false;
}

function ours(name: string, options: OursOptions): Peer {
  const fallback = options.fallback ?? true;
  return {
    name,
    dataPlane: "traefik",
    prefill: true,
    async start(start = {}) {
      const dir = await Deno.makeTempDir({ prefix: "jhtp-bench-" });
      let setup: StoreSetup | undefined;
      try {
        setup = await storeSetup(options.store, dir);
        if (start.routes) {
          const store = await setup.open();
          try {
            await store.apply({ set: start.routes });
          } finally {
            await store.close(); // a failed prefill left a client open: the bench never ended
          }
        }
        const traefik: TraefikAccess = {
          url: `http://127.0.0.1:${freePort()}`,
          username: "jupyterhub",
          password: crypto.randomUUID(),
          provider: options.traefikReadsStore ? options.store : "file",
        };
        const flags = [
          ...setup.flags,
          ...(fallback ? [] : ["--no-fallback"]),
          ...(options.traefikReadsStore ? ["--traefik-reads-store"] : []),
          ...(options.entryTree === false ? ["--entry-tree-routes", "0"] : []),
          ...(start.routes ? ["--check-route-timeout", "300"] : []),
          "--traefik-api-url",
          traefik.url,
          "--traefik-api-password",
          traefik.password,
        ];
        const spawnedAt = performance.now();
        // JupyterHub gives the proxy 15 s; a start on a large table may take longer, which the
        // restart reports (as a time until routable past 15 s) rather than fails.
        const cli = await startCli(flags, {
          logLevel: "warn",
          upMs: start.routes ? 120_000 : 30_000,
        });
        const server = setup.server;
        return {
          publicUrl: cli.publicUrl,
          apiUrl: cli.apiUrl,
          pid: cli.child.pid,
          storePid: server?.pid,
          spawnedAt,
          traefik,
          fallback,
          async stop() {
            await cli.stop();
            await server?.stop();
            await Deno.remove(dir, { recursive: true }).catch(() => {});
          },
        };
      } catch (error) {
        await setup?.server?.stop();
        await Deno.remove(dir, { recursive: true }).catch(() => {});
        throw error;
      }
    },
  };
}

function python(provider: "file" | "redis"): Peer {
  return {
    name: `Python jupyterhub-traefik-proxy 2.1, ${provider}`,
    dataPlane: "traefik",
    prefill: false,
    async start(start = {}) {
      if (start.routes) throw new Error("the Python peer starts empty");
      const redis = provider === "redis" ? await startRedis() : undefined;
      const workdir = await Deno.makeTempDir({ prefix: "jhtp-python-" });
      const [publicPort, apiPort, traefikApiPort] = [freePort(), freePort(), freePort()];
      const spawnedAt = performance.now();
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
        storePid: redis?.pid,
        spawnedAt,
        fallback: false,
        async stop() {
          await stopChild(child);
          await redis?.stop();
          await Deno.remove(workdir, { recursive: true }).catch(() => {});
        },
      };
    },
  };
}

/** Adds `routes` through configurable-http-proxy's REST API, 50 at a time. */
async function postAll(apiUrl: string, routes: Route[]): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: 50 }, async () => {
    while (next < routes.length) {
      const route = routes[next++];
      const response = await fetch(`${apiUrl}/api/routes${route.routespec.replace(/\/$/, "")}`, {
        method: "POST",
        headers: { authorization: "token secret" },
        body: JSON.stringify({ target: route.target, ...route.data }),
      });
      await response.body?.cancel();
      if (response.status !== 201) throw new Error(`POST ${route.routespec}: ${response.status}`);
    }
  }));
}

/** configurable-http-proxy, JupyterHub's default (in memory). */
export const CHP_PEER: Peer = {
  name: "configurable-http-proxy 5.3 (memory)",
  dataPlane: "configurable-http-proxy",
  prefill: true,
  async start(start = {}) {
    const [port, apiPort] = [freePort(), freePort()];
    const spawnedAt = performance.now();
    const child = process(CHP, [...loopbackArgs({ port, apiPort }), "--log-level", "error"], {
      CONFIGPROXY_AUTH_TOKEN: "secret",
    });
    const apiUrl = `http://127.0.0.1:${apiPort}`;
    try {
      await waitPort(apiPort);
      if (start.routes) await postAll(apiUrl, start.routes);
    } catch (error) {
      await stopChild(child);
      throw error;
    }
    return {
      publicUrl: `http://127.0.0.1:${port}`,
      apiUrl,
      pid: child.pid,
      spawnedAt,
      fallback: false,
      stop: () => stopChild(child),
    };
  },
};

/** This proxy on each store, with the fallback (the default) unless the name says otherwise. */
export const OURS: Peer[] = [
  ours("this proxy, file", { store: "file" }),
  ours("this proxy, file, one entry point", { store: "file", entryTree: false }),
  ours("this proxy, file, no fallback", { store: "file", fallback: false }),
  ours("this proxy, redis", { store: "redis" }),
  ours("this proxy, redis, one entry point", { store: "redis", entryTree: false }),
  ours("this proxy, redis, traefik reads redis", { store: "redis", traefikReadsStore: true }),
  ours("this proxy, etcd", { store: "etcd" }),
  ours("this proxy, etcd, one entry point", { store: "etcd", entryTree: false }),
  ours("this proxy, consul", { store: "consul" }),
];

/** Every peer, in the order they are run. */
export const PEERS: Peer[] = [CHP_PEER, ...OURS, python("file"), python("redis")];

/**
 * True when `name` contains one of the comma-separated substrings of `only` (or `only` is
 * empty): `--only=file,configurable`.
 *
 * @example
 * ```ts
 * import { selected } from "./peers.ts";
 * selected("this proxy, etcd", "file,etcd"); // true
 * ```
 */
export function selected(name: string, only: string | undefined): boolean {
  if (!only) return true;
  return only.split(",").some((part) => part !== "" && name.includes(part));
}
