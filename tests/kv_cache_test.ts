// The watched in-process copy of the routes (redis keyspace notifications, etcd watch, consul
// blocking queries) must
// never serve a table older than the read: another process's writes show at once, also after
// the watch connection is lost.
import assert from "node:assert/strict";
import { createClient } from "redis";
import { etcdStore } from "../providers/etcd.ts";
import { redisStore } from "../providers/redis.ts";
import type { Store } from "../lib/core/store.ts";
import type { KvStore } from "../providers/kv_store.ts";
import { memoryStore } from "../providers/memory.ts";
import { waitFor } from "./helpers.ts";
import type { Route } from "../lib/core/types.ts";
import { Buffer } from "node:buffer";
import { etcdClient } from "../providers/_etcd_client.ts";
import { prefixEnd } from "../providers/_prefix_end.ts";
import { kvLayout } from "../providers/kv_store.ts";
import { routeKeys, sentinelKeys } from "../lib/core/kv_layout.ts";
import {
  etcdPairs,
  etcdPut,
  hasConsul,
  startConsul,
  startEtcd,
  startRedis,
  type StoreServer,
} from "./stores.ts";
import { consulStore } from "../providers/consul.ts";

const NO_CONSUL = !(await hasConsul());

interface Case {
  name: string;
  server: () => Promise<StoreServer>;
  open: (server: StoreServer, cache?: boolean) => Promise<Store>;
  /** Skipped (reported as ignored) when the server is not installed. */
  ignore?: boolean;
}

const CASES: Case[] = [
  {
    name: "redis",
    server: () => startRedis(),
    open: (s, cache) => redisStore({ url: s.url, cache }),
  },
  {
    name: "etcd",
    server: () => startEtcd(),
    open: (s, cache) => etcdStore({ urls: [s.url], cache }),
  },
  {
    name: "consul",
    ignore: NO_CONSUL,
    server: () => startConsul(),
    open: (s, cache) => consulStore({ url: s.url, cache }),
  },
];

/** A test of one case, reported as ignored when its server is not installed. */
function caseTest(c: Case, name: string, fn: () => Promise<void>): void {
  Deno.test({ name: `${c.name}: ${name}`, ignore: c.ignore, fn });
}

function route(i: number, target = `http://127.0.0.1:${1000 + i}`): Route {
  return { routespec: `/user/u${i}/`, target, data: { user: `u${i}`, i } };
}

async function withStores(
  c: Case,
  body: (reader: Store, writer: Store, server: StoreServer) => Promise<void>,
): Promise<void> {
  const server = await c.server();
  const stores: Store[] = [];
  try {
    stores.push(await c.open(server));
    stores.push(await c.open(server, false));
    await body(stores[0], stores[1], server);
  } finally {
    for (const store of stores) await store.close();
    await server.stop();
  }
}

async function assertSame(reader: Store, writer: Store): Promise<void> {
  assert.deepEqual(await reader.getAllRoutes(), await writer.getAllRoutes());
}

for (const c of CASES) {
  caseTest(c, `a read shows at once what another store wrote, replaced and deleted`, async () => {
    await withStores(c, async (reader, writer) => {
      await writer.apply({ set: [route(1), route(2)] });
      assert.equal((await reader.getAllRoutes()).size, 2); // loads the copy
      await writer.apply({ set: [route(3), route(1, "http://127.0.0.1:9")] });
      await assertSame(reader, writer);
      assert.equal((await reader.getRoute("/user/u1/"))?.target, "http://127.0.0.1:9");
      await writer.apply({ delete: ["/user/u2/"] });
      await assertSame(reader, writer);
      assert.equal(await reader.getRoute("/user/u2/"), undefined);
      // Its own writes, and the other's, interleaved.
      await Promise.all([
        reader.apply({ set: [route(4)] }),
        writer.apply({ set: [route(5)], delete: ["/user/u3/"] }),
      ]);
      await reader.apply({ set: [route(5, "http://127.0.0.1:55")] });
      await assertSame(reader, writer);
      assert.equal((await reader.getAllRoutes()).get("/user/u5/")?.target, "http://127.0.0.1:55");
    });
  });

  caseTest(c, `600 routes written elsewhere at once are all read back`, async () => {
    await withStores(c, async (reader, writer) => {
      await reader.getAllRoutes();
      await writer.apply({ set: Array.from({ length: 600 }, (_, i) => route(i)) });
      assert.equal((await reader.getAllRoutes()).size, 600);
      await writer.apply({ delete: Array.from({ length: 300 }, (_, i) => `/user/u${i * 2}/`) });
      await assertSame(reader, writer);
    });
  });

  caseTest(c, `concurrent reads during writes never go back in time`, async () => {
    await withStores(c, async (reader, writer) => {
      for (let i = 0; i < 40; i++) {
        const write = writer.apply({ set: [route(i)] });
        const during = reader.getAllRoutes();
        await write;
        const after = await reader.getAllRoutes();
        assert.ok((await during).size <= i + 1);
        assert.equal(after.size, i + 1, `after write ${i}`);
      }
    });
  });
}

Deno.test("redis: reads stay right after the watch connection is killed", async () => {
  await withStores(CASES[0], async (reader, writer, server) => {
    await writer.apply({ set: [route(1)] });
    await reader.getAllRoutes();
    const admin = createClient({ url: server.url });
    await admin.connect();
    try {
      const killed = await admin.sendCommand(["CLIENT", "KILL", "TYPE", "pubsub"]);
      assert.ok(Number(killed) >= 1);
      await writer.apply({ set: [route(2)], delete: ["/user/u1/"] });
      await assertSame(reader, writer);
      // Once the watch is back, changes keep showing.
      await new Promise((resolve) => setTimeout(resolve, 500));
      await writer.apply({ set: [route(3)] });
      await assertSame(reader, writer);
      assert.equal((await reader.getAllRoutes()).size, 2);
    } finally {
      await admin.quit();
    }
  });
});

Deno.test("etcd: reads stay right across a restart of etcd (the watch comes back by itself)", async () => {
  await withStores(CASES[1], async (reader, writer, server) => {
    await writer.apply({ set: [route(1)] });
    await reader.getAllRoutes();
    const target = memoryStore();
    const mirror = await (reader as KvStore).mirror(target);
    try {
      await server.restart(); // every connection, the watch's too, is cut
      await writer.apply({ set: [route(2)], delete: ["/user/u1/"] });
      await assertSame(reader, writer);
      // The watch is back by itself (a retry a second): another writer's change reaches the
      // mirror, which only the watch tells.
      await writer.apply({ set: [route(3)] });
      await waitFor(() => target.routes.has("/user/u3/"), "the watch is back", 10_000);
      await assertSame(reader, writer);
      assert.equal((await reader.getAllRoutes()).size, 2);
    } finally {
      await mirror.close();
    }
  });
});

Deno.test("etcd with auth: after a restart of etcd the watch comes back with a new token", async () => {
  const server = await startEtcd({ rootPassword: "pw" });
  const credentials = { urls: [server.url], username: "root", password: "pw" };
  const reader = await etcdStore(credentials);
  const writer = await etcdStore({ ...credentials, cache: false });
  const target = memoryStore();
  const mirror = await reader.mirror(target);
  try {
    await writer.apply({ set: [route(1)] });
    await waitFor(() => target.routes.has("/user/u1/"), "the mirror has the first route");
    // etcd forgets its tokens when it restarts; only the watch uses the reader's from now on.
    await server.restart();
    await writer.apply({ set: [route(2)] });
    await waitFor(() => target.routes.has("/user/u2/"), "the watch is back", 15_000);
  } finally {
    await mirror.close();
    await reader.close();
    await writer.close();
    await server.stop();
  }
});

Deno.test("etcd: reads stay right when the newest write is to another key (the watch is fenced)", async () => {
  await withStores(CASES[1], async (reader, writer, server) => {
    await writer.apply({ set: [route(1)] });
    await reader.getAllRoutes();
    await writer.apply({ set: [route(2)] });
    await etcdPut(server.url, "elsewhere/key", "x");
    await assertSame(reader, writer);
    await etcdPut(server.url, "elsewhere/key", "y");
    await writer.apply({ delete: ["/user/u1/"] });
    await assertSame(reader, writer);
    assert.equal((await reader.getAllRoutes()).size, 1);
  });
});

for (const c of CASES) {
  caseTest(c, `a mirror follows every change, whoever writes it`, async () => {
    await withStores(c, async (reader, writer) => {
      await writer.apply({ set: [route(1), route(2)] });
      const target = memoryStore();
      const mirror = await (reader as KvStore).mirror(target);
      try {
        assert.deepEqual([...target.routes.keys()].sort(), ["/user/u1/", "/user/u2/"]);
        await writer.apply({
          set: [route(3), route(1, "http://127.0.0.1:9")],
          delete: ["/user/u2/"],
        });
        await reader.apply({ set: [route(4)] });
        const want = await writer.getAllRoutes();
        await waitFor(() => {
          return target.routes.size === want.size &&
            [...want].every(([spec, r]) => target.routes.get(spec)?.target === r.target);
        }, "the mirror caught up");
      } finally {
        await mirror.close();
      }
    });
  });
}

Deno.test("etcd: a transaction's condition on a range holds until a key in it changes after the revision", async () => {
  const server = await startEtcd();
  const etcd = etcdClient({ urls: [server.url] });
  try {
    const range = (prefix: string) => ({ key: prefix, rangeEnd: prefixEnd(Buffer.from(prefix)) });
    const put = (key: string, value: string) => ({ put: { key, value } });
    const first = await etcd.txn([put("r/a/x", "1"), put("r/b/x", "1")]);
    const unchangedSince = (prefix: string, revision: number) => ({
      ...range(prefix),
      modRevision: revision + 1,
      before: true,
    });
    // Nothing under r/a/ changed after `first`, and nothing at all is under r/c/.
    const ok = await etcd.txn([put("r/a/y", "2")], [
      unchangedSince("r/a/", first.revision),
      unchangedSince("r/c/", first.revision),
    ]);
    assert.ok(ok.ok);
    // r/a/ changed (r/a/y) after `first`: refused, nothing written.
    const refused = await etcd.txn([put("r/a/z", "3")], [unchangedSince("r/a/", first.revision)]);
    assert.equal(refused.ok, false);
    assert.deepEqual((await etcd.range({ key: "r/a/z" })).pairs, []);
    // A condition on the other record, unchanged, still holds.
    assert.ok((await etcd.txn([put("r/b/y", "4")], [unchangedSince("r/b/", first.revision)])).ok);
  } finally {
    etcd.close();
    await server.stop();
  }
});

/** Every route key in the store (and the sentinel's), read behind the stores' back. */
async function storedPairs(c: Case, server: StoreServer): Promise<Map<string, string>> {
  if (c.name === "etcd") {
    const stored = await etcdPairs(server.url);
    stored.delete("jupyterhub/routes.sync"); // the watch's fence key
    return stored;
  }
  const redis = createClient({ url: server.url });
  await redis.connect();
  try {
    const keys = await redis.keys("*");
    const values = keys.length > 0 ? await redis.mGet(keys) : [];
    return new Map(keys.map((key, i) => [key, values[i]!]));
  } finally {
    await redis.quit();
  }
}

/** A server of the case, and the stores `open` opens on it (all closed at the end). */
async function withServer(
  c: Case,
  body: (open: (cache?: boolean) => Promise<Store>, server: StoreServer) => Promise<void>,
): Promise<void> {
  const server = await c.server();
  const stores: Store[] = [];
  try {
    await body(async (cache) => {
      const store = await c.open(server, cache);
      stores.push(store);
      return store;
    }, server);
  } finally {
    for (const store of stores) await store.close();
    await server.stop();
  }
}

/** The store's pairs when it holds exactly `routes` (and the sentinel). */
function exactly(...routes: Route[]): Map<string, string> {
  const layout = kvLayout({});
  return new Map([...routes.flatMap((r) => [...routeKeys(r, layout)]), ...sentinelKeys(layout)]);
}

for (const c of CASES.slice(0, 2)) {
  caseTest(c, "routes rewritten from the watched copy keep exactly their own keys", async () => {
    await withServer(c, async (open, server) => {
      const stores = [await open(), await open()];
      const [a, b] = stores;
      const variant = (i: number, data: Record<string, number>) => ({ ...route(i), data });
      await a.apply({ set: [variant(1, { one: 1 }), variant(2, { two: 2 })] });
      for (let round = 0; round < 4; round++) {
        const writer = stores[round % 2];
        await writer.getAllRoutes(); // its copy holds the other's last write
        await writer.apply({
          set: [variant(1, { [`r${round}`]: round }), variant(2, { [`s${round}`]: round })],
        });
      }
      assert.deepEqual(
        await storedPairs(c, server),
        exactly(variant(1, { r3: 3 }), variant(2, { s3: 3 })),
      );
      assert.deepEqual(await b.getAllRoutes(), await a.getAllRoutes());
    });
  });

  caseTest(c, "10,000 routes in one change are written from the copy", async () => {
    await withServer(c, async (open) => {
      const writer = await open();
      await writer.getAllRoutes(); // the copy is loaded: new routes are written from it
      await writer.apply({ set: Array.from({ length: 10_000 }, (_, i) => route(i)) });
      assert.equal((await (await open(false)).getAllRoutes()).size, 10_000);
    });
  });

  caseTest(c, "a store that read the table at start rewrites a route exactly", async () => {
    await withServer(c, async (open, server) => {
      await (await open()).apply({ set: [{ ...route(1), data: { one: 1 } }] });
      // Opened now, the second store's copy comes from a listing of the table.
      const later = await open();
      await later.getAllRoutes();
      const two = { ...route(1), data: { two: 2 } };
      await later.apply({ set: [two] });
      assert.deepEqual(await storedPairs(c, server), exactly(two));
    });
  });

  caseTest(
    c,
    "a write racing another writer's change to the same route leaves exactly one of them",
    async () => {
      await withServer(c, async (open, server) => {
        const cached = await open();
        const other = await open(false);
        for (let round = 0; round < 20; round++) {
          await cached.getAllRoutes(); // the copy is loaded and current
          // The other writer's change and this one's leave the store at nearly the same time:
          // this one is written before or after the copy hears of the other, both must hold.
          await other.apply({ set: [{ ...route(1), data: { [`other${round}`]: round } }] });
          const mine = {
            ...route(1, `http://127.0.0.1:${2000 + round}`),
            data: { [`mine${round}`]: round },
          };
          await cached.apply({ set: [mine] });
          assert.deepEqual(await storedPairs(c, server), exactly(mine), `round ${round}`);
        }
      });
    },
  );
}

Deno.test("redis: a write from the watched copy never overwrites a change the copy did not hear of", async () => {
  const server = await startRedis();
  const admin = createClient({ url: server.url });
  await admin.connect();
  const store = await redisStore({ url: server.url });
  try {
    const layout = kvLayout({});
    await store.apply({ set: [{ ...route(1), data: { first: 1 } }] });
    await store.getAllRoutes(); // the copy is loaded and current
    // Another writer changes the route while redis sends no keyspace events: the copy keeps
    // the old record and does not know it is stale.
    await admin.configSet("notify-keyspace-events", "");
    const other = { ...route(1), data: { other: 2 } };
    await admin.mSet([...routeKeys(other, layout)]);
    await admin.del("jupyterhub/routes/router__2Fuser_2Fu1_2F/data/first");
    await admin.configSet("notify-keyspace-events", "KEA");
    const mine = { ...route(1, "http://127.0.0.1:2001"), data: { mine: 3 } };
    await store.apply({ set: [mine] });
    assert.deepEqual(await storedPairs(CASES[0], server), exactly(mine));
  } finally {
    await store.close();
    await admin.quit();
    await server.stop();
  }
});
