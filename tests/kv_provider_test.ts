import assert from "node:assert/strict";
import {
  addRoute,
  deleteRoute,
  getAllRoutes,
  getRoute,
  type RunningProxy,
  startProxy,
  type StartProxyOptions,
  StoreError,
} from "../mod.ts";
import { type Backend, freePort, hit, startBackend, waitFor } from "./helpers.ts";
import { hasConsul, startConsul, startEtcd, startRedis, type StoreServer } from "./stores.ts";
import type { Store } from "../lib/core/store.ts";

const NO_CONSUL = !(await hasConsul());

type Provider = NonNullable<StartProxyOptions["provider"]>;

interface Case {
  name: string;
  /** Skipped (reported as ignored) when the server is not installed. */
  ignore?: boolean;
  /** false: traefik reads the store itself (its token from the environment). */
  feedTraefik?: boolean;
  server: () => Promise<StoreServer>;
  provider: (server: StoreServer) => Provider;
}

const CASES: Case[] = [
  {
    name: "redis",
    server: () => startRedis(),
    provider: (s) => ({ kind: "redis", url: s.url }),
  },
  {
    name: "redis with an ACL user",
    server: () => startRedis({ user: { name: "hub", password: "pw-acl" } }),
    provider: (s) => ({
      kind: "redis",
      url: s.url.replace(/\/\/[^@]*@/, "//"),
      username: "hub",
      password: "pw-acl",
    }),
  },
  {
    name: "etcd",
    server: () => startEtcd(),
    provider: (s) => ({ kind: "etcd", urls: [s.url] }),
  },
  {
    name: "etcd with auth",
    server: () => startEtcd({ rootPassword: "pw-etcd" }),
    provider: (s) => ({ kind: "etcd", urls: [s.url], username: "root", password: "pw-etcd" }),
  },
  {
    name: "consul",
    ignore: NO_CONSUL,
    server: () => startConsul(),
    provider: (s) => ({ kind: "consul", url: s.url }),
  },
  {
    name: "consul with ACLs",
    ignore: NO_CONSUL,
    server: () => startConsul({ managementToken: "root-token" }),
    provider: (s) => ({ kind: "consul", url: s.url, token: "root-token" }),
  },
  {
    name: "consul with ACLs, traefik reading consul itself (CONSUL_HTTP_TOKEN)",
    ignore: NO_CONSUL,
    feedTraefik: false,
    server: () => startConsul({ managementToken: "root-token" }),
    provider: (s) => ({ kind: "consul", url: s.url, token: "root-token" }),
  },
];

/** Writes 10,000 routes in one change and checks that all of them read back. */
async function writeAndReadTenThousand(store: Store): Promise<void> {
  const routes = Array.from({ length: 10_000 }, (_, i) => ({
    routespec: `/user/many${i}/`,
    target: "http://127.0.0.1:1",
    data: { user: `many${i}`, server_name: "" },
  }));
  await store.apply({ set: routes });
  const read = await store.getAllRoutes();
  assert.equal(read.size, 10_000);
  assert.deepEqual(read.get("/user/many9999/")?.data, { user: "many9999", server_name: "" });
}

/** A store of its own on a server of its own, closed and stopped afterwards. */
async function withStore(
  start: () => Promise<StoreServer>,
  open: (server: StoreServer) => Promise<Store>,
  body: (store: Store) => Promise<void>,
): Promise<void> {
  const server = await start();
  try {
    const store = await open(server);
    try {
      await body(store);
    } finally {
      await store.close();
    }
  } finally {
    await server.stop();
  }
}

async function withKvProxy(
  c: Case,
  body: (
    proxy: RunningProxy,
    publicUrl: string,
    backends: Backend[],
    server: StoreServer,
  ) => Promise<void>,
): Promise<void> {
  const server = await c.server();
  const backends = ["a", "b", "c"].map(startBackend);
  const port = freePort();
  let proxy: RunningProxy | undefined;
  try {
    proxy = await startProxy({
      provider: c.provider(server),
      publicAddress: `127.0.0.1:${port}`,
      apiAddress: `127.0.0.1:${freePort()}`,
      checkRouteTimeoutMs: 20_000,
      feedTraefik: c.feedTraefik,
    });
    await body(proxy, `http://127.0.0.1:${port}`, backends, server);
  } finally {
    await proxy?.stop();
    await Promise.all(backends.map((b) => b.close()));
    await server.stop();
  }
}

for (const c of CASES) {
  Deno.test({
    name: `${c.name}: routes are served, replaced and deleted through traefik`,
    ignore: c.ignore,
  }, async () => {
    await withKvProxy(c, async (proxy, publicUrl, [a, b, c2]) => {
      await addRoute(proxy, { routespec: "/", target: c2.url, data: { hub: true } });
      await addRoute(proxy, { routespec: "/user/a/", target: a.url, data: { user: "a", n: 1 } });
      await addRoute(proxy, { routespec: "/user/", target: b.url });
      assert.equal((await hit(publicUrl + "/user/a/x")).backend, "a");
      assert.equal((await hit(publicUrl + "/user/ab")).backend, "b");
      assert.equal((await hit(publicUrl + "/hub/")).backend, "c");
      assert.deepEqual((await getRoute(proxy, "/user/a/"))?.data, { user: "a", n: 1 });
      assert.deepEqual((await getRoute(proxy, "/"))?.data, { hub: true }, "booleans come back");
      await addRoute(proxy, { routespec: "/user/a/", target: b.url, data: { user: "a2" } });
      assert.equal((await hit(publicUrl + "/user/a/x")).backend, "b", "new target served");
      assert.deepEqual((await getRoute(proxy, "/user/a/"))?.data, { user: "a2" });
      await deleteRoute(proxy, "/user/a/");
      await deleteRoute(proxy, "/user/");
      assert.equal((await hit(publicUrl + "/user/a/x")).backend, "c", "falls back to /");
      await deleteRoute(proxy, "/");
      assert.equal((await hit(publicUrl + "/user/a/x")).status, 404, "the last route is gone too");
      assert.equal((await getAllRoutes(proxy)).size, 0);
    });
  });
}

for (const c of [CASES[0], CASES[2], CASES[4]]) {
  Deno.test(
    { name: `${c.name}: 100 concurrent adds are all served`, ignore: c.ignore },
    async () => {
      await withKvProxy(c, async (proxy, publicUrl, backends) => {
        const names = Array.from({ length: 100 }, (_, i) => `u${i}`);
        await Promise.all(
          names.map((name, i) =>
            addRoute(proxy, { routespec: `/user/${name}/`, target: backends[i % 3].url })
          ),
        );
        const results = await Promise.all(names.map((n) => hit(`${publicUrl}/user/${n}/`)));
        results.forEach((r, i) => assert.equal(r.backend, backends[i % 3].name, names[i]));
        assert.equal((await getAllRoutes(proxy)).size, 100);
      });
    },
  );
}

for (const c of [CASES[0], CASES[2], CASES[4]]) {
  Deno.test({
    name: `${c.name}: a store restart loses no acknowledged route; later changes are served`,
    ignore: c.ignore,
  }, async () => {
    await withKvProxy(c, async (proxy, publicUrl, [a, b], server) => {
      const acknowledged: string[] = [];
      let stop = false;
      const load = (async () => {
        for (let i = 0; !stop && i < 400; i++) {
          const routespec = `/user/load${i}/`;
          try {
            await addRoute(proxy, { routespec, target: a.url });
            acknowledged.push(routespec);
          } catch {
            await new Promise((r) => setTimeout(r, 100)); // store down: a 5xx for the hub
          }
        }
      })();
      await waitFor(() => acknowledged.length >= 5, "some routes before the restart");
      await server.restart();
      await waitFor(() => acknowledged.length >= 15, "routes after the restart", 30_000);
      stop = true;
      await load;
      // The client may still be settling after the restart (a read then fails with a 5xx for
      // the hub, which asks again): what is checked is that nothing acknowledged is lost.
      let listed = new Map<string, unknown>();
      await waitFor(async () => {
        listed = await getAllRoutes(proxy);
        return true;
      }, "a listing after the restart");
      for (const spec of acknowledged) assert.ok(listed.has(spec), `${spec} was lost`);
      await waitFor(
        async () => {
          await addRoute(proxy, { routespec: "/user/after/", target: b.url });
          return true;
        },
        "a change after the restart",
        20_000,
      );
      assert.equal((await hit(publicUrl + "/user/after/")).backend, "b");
      const last = acknowledged[acknowledged.length - 1];
      assert.equal((await hit(publicUrl + last)).backend, "a");
    });
  });
}

Deno.test("redis: unreachable, wrong password, forbidden keyspace setting: one clear error", async () => {
  const port = freePort();
  await assert.rejects(
    startProxy({
      provider: { kind: "redis", url: `redis://127.0.0.1:${port}`, connectTimeoutMs: 1500 },
    }),
    (e: Error) => e instanceof StoreError && e.message.includes(`127.0.0.1:${port}`),
  );
  const locked = await startRedis({ password: "right" });
  try {
    await assert.rejects(
      startProxy({ provider: { kind: "redis", url: locked.url.replace("right", "wrong") } }),
      (e: Error) => e instanceof StoreError && /password|WRONGPASS|invalid/i.test(e.message),
    );
  } finally {
    await locked.stop();
  }
  const noConfig = await startRedis({ user: { name: "hub", password: "pw", noConfig: true } });
  try {
    await assert.rejects(
      startProxy({ provider: { kind: "redis", url: noConfig.url } }),
      (e: Error) => e instanceof StoreError && e.message.includes("notify-keyspace-events"),
    );
  } finally {
    await noConfig.stop();
  }
});

Deno.test("etcd: wrong credentials give one clear error", async () => {
  const server = await startEtcd({ rootPassword: "right" });
  try {
    await assert.rejects(
      startProxy({
        provider: { kind: "etcd", urls: [server.url], username: "root", password: "wrong" },
      }),
      (e: Error) => e instanceof StoreError && e.message.includes(server.url),
    );
  } finally {
    await server.stop();
  }
});

Deno.test("etcd: 10,000 routes are read back whole (in pages of 5,000 keys, at one revision)", async () => {
  const { etcdStore } = await import("../providers/etcd.ts");
  await withStore(startEtcd, (server) => etcdStore({ urls: [server.url] }), async (store) => {
    await writeAndReadTenThousand(store);
  });
});

Deno.test({
  name: "consul: unreachable, wrong token (403): one clear error",
  ignore: NO_CONSUL,
}, async () => {
  const port = freePort();
  await assert.rejects(
    startProxy({
      provider: { kind: "consul", url: `http://127.0.0.1:${port}`, connectTimeoutMs: 1500 },
    }),
    (e: Error) => e instanceof StoreError && e.message.includes(`127.0.0.1:${port}`),
  );
  const server = await startConsul({ managementToken: "right-token" });
  try {
    await assert.rejects(
      startProxy({ provider: { kind: "consul", url: server.url, token: "wrong-token" } }),
      (e: Error) =>
        e instanceof StoreError && e.message.includes("403") &&
        !e.message.includes("wrong-token"),
    );
  } finally {
    await server.stop();
  }
});

Deno.test({
  name: "consul: 10,000 routes are written in transactions of 64 and read back whole",
  ignore: NO_CONSUL,
}, async () => {
  const { consulStore } = await import("../providers/consul.ts");
  await withStore(startConsul, (server) => consulStore({ url: server.url }), async (store) => {
    await writeAndReadTenThousand(store);
  });
});

Deno.test({
  name: "consul: routes with data near its 64 KiB limit go in transactions consul accepts",
  ignore: NO_CONSUL,
}, async () => {
  const { consulStore } = await import("../providers/consul.ts");
  await withStore(startConsul, (server) => consulStore({ url: server.url }), async (store) => {
    const big = "x".repeat(60_000);
    const routes = ["a", "b", "c", "d"].map((name) => ({
      routespec: `/user/${name}/`,
      target: "http://127.0.0.1:1",
      data: { user: name, note: big },
    }));
    await store.apply({ set: routes });
    const read = await store.getAllRoutes();
    assert.equal(read.size, 4);
    assert.equal(read.get("/user/d/")?.data.note, big);
  });
});

for (const c of [CASES[0], CASES[2], CASES[5]]) {
  Deno.test({
    name: `${c.name}: shared values beside the routes, with compare-and-set`,
    ignore: c.ignore,
  }, async () => {
    const server = await c.server();
    const workDir = await Deno.makeTempDir();
    try {
      const { openStore } = await import("../providers/mod.ts");
      const opened = await openStore(c.provider(server), { workDir });
      try {
        const values =
          (opened.store as { values?: import("../providers/kv_store.ts").SharedValues })
            .values!;
        assert.equal(await values.get("lease"), undefined);
        assert.equal(await values.compareAndSet("lease", undefined, "a"), true);
        assert.equal(await values.compareAndSet("lease", undefined, "b"), false, "taken");
        const first = (await values.get("lease"))!;
        assert.equal(first.value, "a");
        assert.equal(await values.compareAndSet("lease", first.version, "c"), true);
        assert.equal(await values.compareAndSet("lease", first.version, "d"), false, "stale");
        const second = (await values.get("lease"))!;
        assert.equal(second.value, "c");
        assert.equal(await values.compareAndSet("lease", second.version, null), true);
        assert.equal(await values.get("lease"), undefined);
        assert.equal((await opened.store.getAllRoutes()).size, 0, "not a route");
      } finally {
        await opened.close();
      }
    } finally {
      await server.stop();
      await Deno.remove(workDir, { recursive: true });
    }
  });
}

Deno.test({
  name: "consul: 200 concurrent adds of encoded and unicode routespecs are all served and listed",
  ignore: NO_CONSUL,
}, async () => {
  await withKvProxy(CASES[4], async (proxy, publicUrl, backends) => {
    // As JupyterHub spells them: ü percent-encoded, '+' encoded, plain.
    const names = Array.from(
      { length: 200 },
      (_, i) => [`u${i}`, `%C3%BCser${i}`, `a%2Bb${i}`][i % 3],
    );
    await Promise.all(
      names.map((name, i) =>
        addRoute(proxy, { routespec: `/user/${name}/`, target: backends[i % 3].url })
      ),
    );
    const routes = await getAllRoutes(proxy);
    assert.equal(routes.size, 200);
    for (const [i, name] of names.entries()) {
      assert.ok(routes.has(`/user/${name}/`), name);
      assert.equal((await hit(`${publicUrl}/user/${name}/x`)).backend, backends[i % 3].name, name);
    }
  });
});
