// A traefik started by this proxy is fed from a private file rendered from redis or etcd (its
// watched copy), not from traefik's own redis/etcd provider: a restarted process serves a full
// store at once, and with --no-kv-traefik-keys the store holds only the route records.
import assert from "node:assert/strict";
import { createClient } from "redis";
import { addRoute, type ProviderOptions, type RunningProxy, startProxy } from "../mod.ts";
import { freePort, hit, startBackend } from "./helpers.ts";
import {
  consulPairs,
  etcdPairs,
  hasConsul,
  startConsul,
  startEtcd,
  startRedis,
  type StoreServer,
} from "./stores.ts";

interface Case {
  name: string;
  server: () => Promise<StoreServer>;
  provider: (server: StoreServer, traefikKeys?: boolean) => ProviderOptions;
  keys: (server: StoreServer) => Promise<string[]>;
  /** Skipped (reported as ignored) when the server is not installed. */
  ignore?: boolean;
}

const NO_CONSUL = !(await hasConsul());

const CASES: Case[] = [
  {
    name: "redis",
    server: () => startRedis(),
    provider: (s, traefikKeys) => ({ kind: "redis", url: s.url, traefikKeys }),
    keys: async (s) => {
      const client = createClient({ url: s.url });
      await client.connect();
      try {
        return await client.keys("*");
      } finally {
        await client.quit();
      }
    },
  },
  {
    name: "etcd",
    server: () => startEtcd(),
    provider: (s, traefikKeys) => ({ kind: "etcd", urls: [s.url], traefikKeys }),
    keys: async (s) => [...(await etcdPairs(s.url)).keys()],
  },
  {
    name: "consul",
    ignore: NO_CONSUL,
    server: () => startConsul(),
    provider: (s, traefikKeys) => ({ kind: "consul", url: s.url, traefikKeys }),
    keys: async (s) => [...(await consulPairs(s.url)).keys()],
  },
];

async function start(provider: ProviderOptions, port: number): Promise<RunningProxy> {
  return await startProxy({
    provider,
    publicAddress: `127.0.0.1:${port}`,
    apiAddress: `127.0.0.1:${freePort()}`,
    checkRouteTimeoutMs: 20_000,
  });
}

for (const c of CASES) {
  Deno.test({
    name: `${c.name}: a process restarted on a full store serves every route once it has started`,
    ignore: c.ignore,
  }, async () => {
    const server = await c.server();
    const backend = startBackend("full");
    const port = freePort();
    let proxy: RunningProxy | undefined;
    try {
      proxy = await start(c.provider(server), port);
      await Promise.all(
        Array.from(
          { length: 300 },
          (_, i) => addRoute(proxy!, { routespec: `/user/u${i}/`, target: backend.url }),
        ),
      );
      await proxy.stop();
      proxy = await start(c.provider(server), port);
      // No waiting: the whole table is in traefik's file before traefik starts.
      for (let i = 0; i < 300; i += 7) {
        assert.equal((await hit(`http://127.0.0.1:${port}/user/u${i}/x`)).backend, "full", `u${i}`);
      }
      assert.equal((await hit(`http://127.0.0.1:${port}/user/u299/`)).backend, "full");
    } finally {
      await proxy?.stop();
      await backend.close();
      await server.stop();
    }
  });

  Deno.test({
    name: `${c.name}: without traefik's keys the store holds only records, and routes are served`,
    ignore: c.ignore,
  }, async () => {
    const server = await c.server();
    const backend = startBackend("bare");
    const port = freePort();
    let proxy: RunningProxy | undefined;
    try {
      proxy = await start(c.provider(server, false), port);
      await addRoute(proxy, { routespec: "/user/bare/", target: backend.url });
      assert.equal((await hit(`http://127.0.0.1:${port}/user/bare/x`)).backend, "bare");
      const keys = await c.keys(server);
      assert.ok(keys.some((key) => key.startsWith("jupyterhub/routes/router__2Fuser_2Fbare")));
      assert.deepEqual(
        keys.filter((key) => key.includes("_2Fuser_2Fbare") && key.startsWith("traefik/")),
        [],
      );
      // Switched back on, the next change writes all of the route's traefik keys.
      await proxy.stop();
      proxy = await start(c.provider(server, true), port);
      await addRoute(proxy, { routespec: "/user/bare/", target: backend.url, data: { again: 1 } });
      const after = await c.keys(server);
      assert.ok(after.includes("traefik/http/routers/router__2Fuser_2Fbare_2F/rule"));
      assert.ok(
        after.includes(
          "traefik/http/services/service__2Fuser_2Fbare_2F/loadBalancer/servers/0/url",
        ),
      );
    } finally {
      await proxy?.stop();
      await backend.close();
      await server.stop();
    }
  });
}
