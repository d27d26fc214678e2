// Routes an earlier version stored under a non-canonical spelling of their routespec (a literal
// `$` where JupyterHub writes `%24`) move to their canonical names when a store opens, so the hub
// can change and delete them through any spelling.
import assert from "node:assert/strict";
import { createClient } from "redis";
import { etcdStore } from "../providers/etcd.ts";
import { redisStore } from "../providers/redis.ts";
import { deleteRoute, getRoute } from "../lib/routes.ts";
import type { Store } from "../lib/core/store.ts";
import { etcdPairs, etcdPut, startEtcd, startRedis, type StoreServer } from "./stores.ts";

interface Raw {
  put(pairs: Record<string, string>): Promise<void>;
  keys(): Promise<string[]>;
  close(): Promise<void>;
}

interface Case {
  name: string;
  server: () => Promise<StoreServer>;
  open: (server: StoreServer, cache: boolean) => Promise<Store>;
  raw: (server: StoreServer) => Promise<Raw>;
}

const CASES: Case[] = [
  {
    name: "redis",
    server: () => startRedis(),
    open: (s, cache) => redisStore({ url: s.url, cache }),
    raw: async (s) => {
      const client = createClient({ url: s.url });
      await client.connect();
      return {
        put: async (pairs) => void await client.mSet(pairs),
        keys: () => client.keys("*"),
        close: async () => void await client.quit(),
      };
    },
  },
  {
    name: "etcd",
    server: () => startEtcd(),
    open: (s, cache) => etcdStore({ urls: [s.url], cache }),
    raw: (s) =>
      Promise.resolve({
        put: async (pairs) => {
          for (const [key, value] of Object.entries(pairs)) await etcdPut(s.url, key, value);
        },
        keys: async () => [...(await etcdPairs(s.url)).keys()],
        close: () => Promise.resolve(),
      }),
  },
];

// Exactly what the version before canonical routespecs wrote for the hub's POST of
// /api/routes/user/a$b (aiohttp's spelling of JupyterHub's /user/a%24b/).
const R = "router__2Fuser_2Fa_24b_2F";
const S = "service__2Fuser_2Fa_24b_2F";
const LEGACY: Record<string, string> = {
  [`traefik/http/routers/${R}/rule`]: 'Path("/user/a$b") || PathPrefix("/user/a$b/")',
  [`traefik/http/routers/${R}/service`]: S,
  [`traefik/http/routers/${R}/entryPoints/0`]: "http",
  [`traefik/http/routers/${R}/priority`]: "109",
  [`traefik/http/services/${S}/loadBalancer/servers/0/url`]: "http://127.0.0.1:9",
  [`traefik/http/services/${S}/loadBalancer/passHostHeader`]: "true",
  [`jupyterhub/routes/${R}/routespec`]: "/user/a$b/",
  [`jupyterhub/routes/${R}/target`]: "http://127.0.0.1:9",
  [`jupyterhub/routes/${R}/router`]: R,
  [`jupyterhub/routes/${R}/service`]: S,
  [`jupyterhub/routes/${R}/data/user`]: "a$b",
  [`jupyterhub/routes/${R}/data_json`]: '{"user":"a$b"}',
  [`jupyterhub/routes/${R}/last_activity`]: "2026-01-01T00:00:00.000Z",
};

for (const c of CASES) {
  for (const cache of [true, false]) {
    Deno.test(`${c.name}${cache ? "" : " without the watched copy"}: a record stored under another spelling moves to its canonical name`, async () => {
      const server = await c.server();
      const raw = await c.raw(server);
      let store: Store | undefined;
      try {
        await raw.put(LEGACY);
        store = await c.open(server, cache);
        const routes = await store.getAllRoutes();
        assert.deepEqual([...routes.keys()], ["/user/a%24b/"]);
        assert.deepEqual(routes.get("/user/a%24b/")?.data, { user: "a$b" });
        const keys = await raw.keys();
        assert.deepEqual(keys.filter((key) => key.includes("_24b")), [], "legacy keys are gone");
        assert.ok(keys.includes("jupyterhub/routes/router__2Fuser_2Fa_2524b_2F/target"));
        assert.equal((await getRoute(store, "/user/a$b"))?.target, "http://127.0.0.1:9");
        assert.equal(await deleteRoute(store, "/user/a%24b/"), true);
        assert.deepEqual(
          (await raw.keys()).filter((key) => key.includes("user")),
          [],
          "the delete removed every key of the route",
        );
      } finally {
        await store?.close();
        await raw.close();
        await server.stop();
      }
    });
  }
}

Deno.test("redis: a canonical record wins over a misnamed one of the same route", async () => {
  const c = CASES[0];
  const server = await c.server();
  const raw = await c.raw(server);
  let store: Store | undefined;
  try {
    await raw.put(LEGACY);
    const C = "router__2Fuser_2Fa_2524b_2F";
    await raw.put({
      [`jupyterhub/routes/${C}/routespec`]: "/user/a%24b/",
      [`jupyterhub/routes/${C}/target`]: "http://127.0.0.1:10",
      [`jupyterhub/routes/${C}/data_json`]: "{}",
    });
    store = await c.open(server, true);
    const routes = await store.getAllRoutes();
    assert.equal(routes.size, 1);
    assert.equal(routes.get("/user/a%24b/")?.target, "http://127.0.0.1:10");
    assert.deepEqual((await raw.keys()).filter((key) => key.includes("_24b")), []);
  } finally {
    await store?.close();
    await raw.close();
    await server.stop();
  }
});
