// What a change leaves in redis and etcd, read with the stores' own clients: records are read
// by name where listing them would scan the keyspace (redis), and no change may leave a key of
// an older version of the route behind: not a data key, not a traefik key, not a record field.
import assert from "node:assert/strict";
import { createClient } from "redis";
import { redisStore } from "../providers/redis.ts";
import { etcdStore } from "../providers/etcd.ts";
import type { KvStore } from "../providers/kv_store.ts";
import {
  consulPairs,
  consulPut,
  etcdPairs,
  etcdPut,
  hasConsul,
  startConsul,
  startEtcd,
  startRedis,
  type StoreServer,
} from "./stores.ts";
import { consulStore } from "../providers/consul.ts";

interface Raw {
  all(): Promise<Map<string, string>>;
  set(pairs: [string, string][]): Promise<void>;
  close(): Promise<void>;
}

const NO_CONSUL = !(await hasConsul());

const CASES: {
  name: string;
  ignore?: boolean;
  server: () => Promise<StoreServer>;
  store: (s: StoreServer) => Promise<KvStore>;
  raw: (s: StoreServer) => Promise<Raw>;
}[] = [
  {
    name: "redis",
    server: () => startRedis(),
    store: (s) => redisStore({ url: s.url }),
    raw: async (s) => {
      const client = createClient({ url: s.url });
      await client.connect();
      return {
        async all() {
          const keys = await client.keys("*");
          const values = keys.length ? await client.mGet(keys) : [];
          return new Map(keys.map((key, i) => [key, values[i]!]));
        },
        async set(pairs) {
          for (const [key, value] of pairs) await client.set(key, value);
        },
        async close() {
          await client.quit();
        },
      };
    },
  },
  {
    name: "etcd",
    server: () => startEtcd(),
    store: (s) => etcdStore({ urls: [s.url] }),
    raw: (s) =>
      Promise.resolve({
        all: () => etcdPairs(s.url),
        async set(pairs) {
          for (const [key, value] of pairs) await etcdPut(s.url, key, value);
        },
        close: () => Promise.resolve(),
      }),
  },
  {
    name: "consul",
    ignore: NO_CONSUL,
    server: () => startConsul(),
    store: (s) => consulStore({ url: s.url }),
    raw: (s) =>
      Promise.resolve({
        all: () => consulPairs(s.url),
        async set(pairs) {
          for (const [key, value] of pairs) await consulPut(s.url, key, value);
        },
        close: () => Promise.resolve(),
      }),
  },
];

const routeKeysIn = (all: Map<string, string>) =>
  [...all.keys()].filter((key) =>
    !key.includes("jupyterhub-sentinel") && !key.startsWith("jupyterhub/routes.sync")
  ).sort();

for (const c of CASES) {
  Deno.test({
    name: `${c.name}: a changed or deleted route leaves none of its older keys`,
    ignore: c.ignore,
  }, async () => {
    const server = await c.server();
    let store: KvStore | undefined;
    let raw: Raw | undefined;
    try {
      store = await c.store(server);
      raw = await c.raw(server);
      const spec = "/user/a/";
      await store.apply({
        set: [{
          routespec: spec,
          target: "http://h:1",
          data: { user: "a", more: { x: 1, y: "z" } },
        }],
      });
      const first = routeKeysIn(await raw.all());
      assert.ok(first.some((key) => key.endsWith("/data/more/y")), first.join("\n"));
      await store.apply({ set: [{ routespec: spec, target: "http://h:2", data: { user: "a" } }] });
      const second = routeKeysIn(await raw.all());
      assert.deepEqual(second.filter((key) => key.includes("/data/more")), []);
      assert.equal((await store.getRoute(spec))?.target, "http://h:2");
      await store.apply({ delete: [spec] });
      assert.deepEqual(routeKeysIn(await raw.all()), []);
      assert.equal(await store.getRoute(spec), undefined);
    } finally {
      await store?.close();
      await raw?.close();
      await server.stop();
    }
  });

  Deno.test({
    name: `${c.name}: a route the Python proxy wrote is replaced and deleted without leftovers`,
    ignore: c.ignore,
  }, async () => {
    const server = await c.server();
    let store: KvStore | undefined;
    let raw: Raw | undefined;
    try {
      raw = await c.raw(server);
      // The Python proxy's layout: no data_json, no rule in the record, its own rule form.
      const record = "jupyterhub/routes/router__2Fuser_2Fpy_2F";
      await raw.set([
        [`${record}/routespec`, "/user/py/"],
        [`${record}/target`, "http://h:1"],
        [`${record}/router`, "router__2Fuser_2Fpy_2F"],
        [`${record}/service`, "service__2Fuser_2Fpy_2F"],
        [`${record}/data/user`, "py"],
        [`${record}/data/last_activity`, "2026-01-01T00:00:00Z"],
        ["traefik/http/routers/router__2Fuser_2Fpy_2F/rule", "PathPrefix(`/user/py/`)"],
        ["traefik/http/routers/router__2Fuser_2Fpy_2F/service", "service__2Fuser_2Fpy_2F"],
        ["traefik/http/routers/router__2Fuser_2Fpy_2F/entryPoints/0", "http"],
        ["traefik/http/services/service__2Fuser_2Fpy_2F/loadBalancer/servers/0/url", "http://h:1"],
      ]);
      store = await c.store(server);
      assert.deepEqual((await store.getRoute("/user/py/"))?.data.user, "py");
      await store.apply({
        set: [{ routespec: "/user/py/", target: "http://h:2", data: { user: "py" } }],
      });
      const after = await raw.all();
      assert.equal(after.get(`${record}/data/last_activity`), undefined, "stale data key");
      assert.notEqual(
        after.get("traefik/http/routers/router__2Fuser_2Fpy_2F/rule"),
        "PathPrefix(`/user/py/`)",
        "traefik's keys are rewritten in this version's form",
      );
      await store.apply({ delete: ["/user/py/"] });
      assert.deepEqual(routeKeysIn(await raw.all()), []);
    } finally {
      await store?.close();
      await raw?.close();
      await server.stop();
    }
  });
}
