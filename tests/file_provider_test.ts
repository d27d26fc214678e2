import assert from "node:assert/strict";
import {
  addRoute,
  deleteRoute,
  getAllRoutes,
  getRoute,
  RoutespecError,
  type RunningProxy,
  startProxy,
  StoreError,
  TargetError,
} from "../mod.ts";
import { type FileStore, fileStore } from "../providers/file.ts";
import {
  type Backend,
  freePort,
  hit,
  processAlive,
  rawGet,
  startBackend,
  traefikPids,
  waitFor,
} from "./helpers.ts";

interface Env {
  proxy: RunningProxy;
  publicUrl: string;
  apiUrl: string;
  dir: string;
  path: string;
  backends: Backend[];
}

async function withProxy(
  extension: string,
  body: (env: Env) => Promise<void>,
  path?: string,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "jhtp-test-" });
  const publicPort = freePort();
  const apiPort = freePort();
  const file = path ?? `${dir}/rules.${extension}`;
  const backends = ["a", "b", "c", "d"].map(startBackend);
  let proxy: RunningProxy | undefined;
  try {
    proxy = await startProxy({
      provider: { kind: "file", path: file },
      publicAddress: `127.0.0.1:${publicPort}`,
      apiAddress: `127.0.0.1:${apiPort}`,
      checkRouteTimeoutMs: 15_000,
    });
    await body({
      proxy,
      publicUrl: `http://127.0.0.1:${publicPort}`,
      apiUrl: `http://127.0.0.1:${apiPort}`,
      dir,
      path: file,
      backends,
    });
  } finally {
    await proxy?.stop();
    await Promise.all(backends.map((b) => b.close()));
    await Deno.remove(dir, { recursive: true }); // a given path lives elsewhere
  }
}

for (const extension of ["toml", "yaml"]) {
  Deno.test(`file provider (${extension}): routes are served by longest whole-segment prefix`, async () => {
    await withProxy(extension, async ({ proxy, publicUrl, backends: [a, b, c, d] }) => {
      await addRoute(proxy, { routespec: "/", target: d.url, data: { hub: true } });
      await addRoute(proxy, { routespec: "/user/", target: b.url });
      await addRoute(proxy, { routespec: "/user/a/", target: a.url, data: { user: "a" } });
      await addRoute(proxy, { routespec: "/user/a/b/", target: c.url });
      const rows: [string, string][] = [
        ["/user/a", "a"],
        ["/user/a/", "a"],
        ["/user/a/tree/x", "a"],
        ["/user/ab", "b"],
        ["/user/ab/x", "b"],
        ["/user/a/b", "c"],
        ["/user/a/bc", "a"],
        ["/user/a/b/x", "c"],
        ["/user/", "b"],
        ["/user", "b"],
        ["/hub/home", "d"],
      ];
      for (const [path, backend] of rows) {
        const result = await hit(publicUrl + path);
        assert.equal(result.status, 200, path);
        assert.equal(result.backend, backend, path);
        assert.equal(result.path, path, "the full original path is forwarded");
      }
      const routes = await getAllRoutes(proxy);
      assert.deepEqual([...routes.keys()].sort(), ["/", "/user/", "/user/a/", "/user/a/b/"]);
      assert.deepEqual(routes.get("/")?.data, { hub: true });
      assert.deepEqual((await getRoute(proxy, "/user/a"))?.data, { user: "a" });
    });
  });

  Deno.test(`file provider (${extension}): a deleted route stops being served, siblings stay`, async () => {
    await withProxy(extension, async ({ proxy, publicUrl, backends: [a, b, c] }) => {
      await addRoute(proxy, { routespec: "/user/a/", target: a.url });
      await addRoute(proxy, { routespec: "/user/b/", target: b.url });
      await addRoute(proxy, { routespec: "/user/", target: c.url });
      assert.equal((await hit(publicUrl + "/user/a/x")).backend, "a");
      assert.equal(await deleteRoute(proxy, "/user/a/"), true);
      assert.equal((await hit(publicUrl + "/user/a/x")).backend, "c", "falls back to /user/");
      assert.equal((await hit(publicUrl + "/user/b/x")).backend, "b");
      assert.equal(await deleteRoute(proxy, "/user/a/"), false, "second delete finds nothing");
      await deleteRoute(proxy, "/user/");
      await deleteRoute(proxy, "/user/b/");
      assert.equal((await hit(publicUrl + "/user/b/x")).status, 404, "last route removed");
      assert.equal((await getAllRoutes(proxy)).size, 0);
    });
  });
}

Deno.test("file provider: a changed target is served as soon as addRoute resolves", async () => {
  await withProxy("toml", async ({ proxy, publicUrl, backends: [a, b] }) => {
    await addRoute(proxy, { routespec: "/user/x/", target: a.url });
    assert.equal((await hit(publicUrl + "/user/x/")).backend, "a");
    await addRoute(proxy, { routespec: "/user/x/", target: b.url });
    assert.equal((await hit(publicUrl + "/user/x/")).backend, "b");
  });
});

Deno.test("file provider: 200 concurrent adds are all served, in a handful of writes", async () => {
  await withProxy("toml", async ({ proxy, publicUrl, backends }) => {
    const store = proxy.store as FileStore;
    const before = store.writes;
    const names = Array.from({ length: 200 }, (_, i) => `u${i}`);
    await Promise.all(names.map((name, i) =>
      addRoute(proxy, {
        routespec: `/user/${name}/`,
        target: backends[i % backends.length].url,
        data: { user: name },
      })
    ));
    const writes = store.writes - before;
    assert.ok(writes <= 10, `200 adds took ${writes} writes`);
    const results = await Promise.all(names.map((name) => hit(`${publicUrl}/user/${name}/api`)));
    results.forEach((result, i) => {
      assert.equal(result.status, 200, names[i]);
      assert.equal(result.backend, backends[i % backends.length].name, names[i]);
    });
    assert.equal((await getAllRoutes(proxy)).size, 200);
  });
});

Deno.test("file provider: encoded, unicode, @ and host routespecs route right", async () => {
  await withProxy("yaml", async ({ proxy, publicUrl, backends: [a, b, c, d] }) => {
    await addRoute(proxy, { routespec: "/user/a%20b/", target: a.url });
    await addRoute(proxy, { routespec: "/user/%C3%A9/", target: b.url });
    await addRoute(proxy, { routespec: "/user/x@y.org/", target: c.url });
    await addRoute(proxy, { routespec: "h1.example/user/z/", target: d.url });
    assert.equal((await hit(publicUrl + "/user/a%20b/lab")).backend, "a");
    assert.equal((await hit(publicUrl + "/user/%C3%A9/lab")).backend, "b");
    assert.equal((await hit(publicUrl + "/user/%c3%a9/lab")).backend, "b");
    assert.equal((await hit(publicUrl + "/user/x@y.org/lab")).backend, "c");
    assert.equal((await rawGet(publicUrl, "/user/z/", "h1.example")).backend, "d");
    assert.equal((await rawGet(publicUrl, "/user/z/", "h1.example:8000")).backend, "d");
    assert.equal((await rawGet(publicUrl, "/user/z/", "other.example")).status, 404);
  });
});

Deno.test("file provider: rule syntax in a routespec never changes other routes' matching", async () => {
  await withProxy("toml", async ({ proxy, publicUrl, backends: [a, b] }) => {
    await addRoute(proxy, { routespec: "/user/safe/", target: a.url });
    // Decodes to: /user/x") || PathPrefix("/  and  /user/y`) || PathPrefix(`/
    const evil = [
      "/user/x%22)%20%7C%7C%20PathPrefix(%22/",
      "/user/y%60)%20%7C%7C%20PathPrefix(%60/",
      "/user/%7B%7B.Env%7D%7D/",
    ];
    for (const routespec of evil) await addRoute(proxy, { routespec, target: b.url });
    assert.equal((await hit(publicUrl + "/other")).status, 404, "no catch-all was injected");
    assert.equal((await hit(publicUrl + "/user/safe/")).backend, "a");
    assert.equal((await hit(publicUrl + evil[0] + "x")).backend, "b");
    assert.equal((await hit(publicUrl + "/user/%7B%7B.Env%7D%7D/")).backend, "b");
    assert.equal((await getAllRoutes(proxy)).size, 4);
    for (const bad of ["/user/`x`/", '/user/"/', "/a b/"]) {
      await assert.rejects(addRoute(proxy, { routespec: bad, target: a.url }), RoutespecError);
    }
    for (const bad of ["ftp://x", "javascript:alert(1)", "http://", "not a url", ""]) {
      await assert.rejects(
        addRoute(proxy, { routespec: "/user/t/", target: bad }),
        (error: Error) =>
          error instanceof TargetError && error.message.includes(JSON.stringify(bad)),
      );
    }
    assert.equal((await getAllRoutes(proxy)).size, 4, "rejected input changed nothing");
  });
});

Deno.test("file provider: traefik's API needs credentials and is not on the public port", async () => {
  await withProxy("toml", async ({ publicUrl, apiUrl }) => {
    const noAuth = await fetch(apiUrl + "/api/rawdata");
    await noAuth.body?.cancel();
    assert.equal(noAuth.status, 401);
    const wrong = await fetch(apiUrl + "/api/rawdata", {
      headers: { authorization: "Basic " + btoa("jupyterhub:wrong") },
    });
    await wrong.body?.cancel();
    assert.equal(wrong.status, 401);
    for (const path of ["/api/rawdata", "/api/http/routers", "/dashboard/", "/ping"]) {
      assert.equal((await hit(publicUrl + path)).status, 404, path);
    }
  });
});

Deno.test("file provider: stopping leaves no traefik behind; a killed traefik is restarted", async () => {
  let pid = 0;
  let configPath = "";
  await withProxy("toml", async ({ proxy, publicUrl, backends: [a] }) => {
    await addRoute(proxy, { routespec: "/user/k/", target: a.url });
    pid = proxy.traefik!.pid;
    configPath = proxy.traefik!.configPath;
    Deno.kill(pid, "SIGKILL");
    await waitFor(() => proxy.traefik!.restarts === 1, "a restart");
    await waitFor(async () => (await hit(publicUrl + "/user/k/")).backend === "a", "routes again");
    pid = proxy.traefik!.pid;
  });
  assert.equal(await processAlive(pid), false);
  assert.deepEqual(await traefikPids(configPath), []);
});

Deno.test("file provider: an explicit file keeps routes across restarts", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/routes.yaml`;
  try {
    await withProxy("yaml", async ({ proxy, backends: [a] }) => {
      await addRoute(proxy, { routespec: "/user/p/", target: a.url, data: { user: "p", n: 1 } });
    }, path);
    await withProxy("yaml", async ({ proxy, publicUrl, backends: [a] }) => {
      const route = await getRoute(proxy, "/user/p/");
      assert.deepEqual(route?.data, { user: "p", n: 1 });
      // The old target's backend is gone; point it at the new one and see it served.
      await addRoute(proxy, { routespec: "/user/p/", target: a.url });
      assert.equal((await hit(publicUrl + "/user/p/")).backend, "a");
    }, path);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("fileStore leaves an unreadable file untouched and says so", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/rules.toml`;
  try {
    await Deno.writeTextFile(path, "this is [not toml");
    await assert.rejects(
      fileStore({ path }),
      (error: Error) =>
        error instanceof StoreError && error.message.includes(path) &&
        error.message.includes("left untouched"),
    );
    assert.equal(await Deno.readTextFile(path), "this is [not toml");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("fileStore never writes '{{' and reads data back with its types", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (const ext of ["toml", "yaml"]) {
      const path = `${dir}/rules.${ext}`;
      const store = await fileStore({ path });
      const data = { user: "{{ .Env.SECRET }}", flag: true, n: 3, nested: { x: [1, "{{"] } };
      await store.apply({
        set: [{ routespec: "/user/%7B%7B/", target: "http://127.0.0.1:1", data }],
      });
      await store.close();
      const text = await Deno.readTextFile(path);
      assert.ok(!text.includes("{{"), text);
      const again = await fileStore({ path });
      assert.deepEqual((await again.getRoute("/user/%7B%7B/"))?.data, data);
      await again.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("file provider: every spelling of a reserved character reaches its route, on whole segments", async () => {
  await withProxy("toml", async ({ proxy, publicUrl, backends: [a, b, , d] }) => {
    await addRoute(proxy, { routespec: "/", target: d.url });
    await addRoute(proxy, { routespec: "/user/", target: b.url });
    const reserved = [..."@!$&'()*+,;=:"];
    const hex = (ch: string, lower = false) => {
      const h = ch.charCodeAt(0).toString(16).toUpperCase();
      return "%" + (lower ? h.toLowerCase() : h);
    };
    // Half the routes are added with the character literal (as aiohttp sends it), half encoded
    // (as JupyterHub computes it).
    await Promise.all(reserved.map((ch, i) =>
      addRoute(proxy, {
        routespec: `/user/x${i % 2 ? ch : hex(ch)}y/`,
        target: a.url,
        data: { ch },
      })
    ));
    assert.equal((await getAllRoutes(proxy)).size, reserved.length + 2);
    for (const ch of reserved) {
      for (const spelling of [ch, hex(ch), hex(ch, true)]) {
        for (const tail of ["", "/", "/tree/n%24b"]) {
          const path = `/user/x${spelling}y${tail}`;
          const result = await rawGet(publicUrl, path, "127.0.0.1");
          assert.equal(result.backend, "a", path);
        }
        const partial = `/user/x${spelling}yz/`;
        assert.equal((await rawGet(publicUrl, partial, "127.0.0.1")).backend, "b", partial);
      }
    }
    // One route per decoded path: deleting one spelling deletes the route.
    assert.equal(await deleteRoute(proxy, "/user/x$y/"), true);
    assert.equal((await rawGet(publicUrl, "/user/x%24y/", "127.0.0.1")).backend, "b");
    assert.equal((await rawGet(publicUrl, "/user/x$y/", "127.0.0.1")).backend, "b");
  });
});

Deno.test("fileStore without records writes only traefik's routers and services", async () => {
  const dir = await Deno.makeTempDir({ prefix: "jhtp-test-" });
  try {
    const store = await fileStore({ path: `${dir}/routes.toml`, records: false });
    await store.apply({ set: [{ routespec: "/user/a/", target: "http://127.0.0.1:9", data: {} }] });
    await store.close();
    const text = await Deno.readTextFile(`${dir}/routes.toml`);
    assert.match(text, /\[http\.routers\.router__2Fuser_2Fa_2F\]/);
    assert.match(text, /http:\/\/127\.0\.0\.1:9/);
    assert.doesNotMatch(text, /jupyterhub\.routes/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("file provider with the fallback: a start on 3,000 routes serves them all at once, traefik takes over after", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/routes.toml`;
  const backend = startBackend("big");
  try {
    const table = await fileStore({ path });
    const routes = Array.from({ length: 3000 }, (_, i) => ({
      routespec: `/user/u${i}/`,
      target: backend.url,
      data: {},
    }));
    await table.apply({ set: routes });
    await table.close();
    await withProxy("toml", async ({ proxy, publicUrl }) => {
      // traefik came up on the fixed part alone: the fallback serves the table meanwhile.
      assert.equal((await hit(`${publicUrl}/user/u2999/x`)).backend, "big");
      assert.equal((await hit(`${publicUrl}/user/u0/`)).backend, "big");
      // traefik gets the routes in its own file and takes them over.
      await waitFor(
        async () =>
          (await proxy.api.get("/api/http/routers/router__2Fuser_2Fu2999_2F@file")).status === 200,
        "traefik's router of the last route",
        60_000,
      );
      // The routes file is still the table, with its records.
      assert.match(
        await Deno.readTextFile(path),
        /\[jupyterhub\.routes\.router__2Fuser_2Fu2999_2F\]/,
      );
    }, path);
  } finally {
    await backend.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("file provider: a traefik that keeps failing to restart runs as one instance at a time", async () => {
  let configPath = "";
  await withProxy("toml", async ({ proxy, publicUrl, backends: [a] }) => {
    await addRoute(proxy, { routespec: "/user/k/", target: a.url });
    configPath = proxy.traefik!.configPath;
    const port = Number(new URL(publicUrl).port);
    Deno.kill(proxy.traefik!.pid, "SIGKILL");
    // Hold traefik's public port: every restart fails until it is free again.
    let listener: Deno.Listener | undefined;
    await waitFor(() => {
      try {
        listener = Deno.listen({ hostname: "127.0.0.1", port });
        return true;
      } catch {
        return false;
      }
    }, "the public port");
    let most = 0;
    const deadline = Date.now() + 3_000;
    while (Date.now() < deadline) {
      most = Math.max(most, (await traefikPids(configPath)).length);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    listener!.close();
    assert.ok(proxy.traefik!.restarts >= 2, `${proxy.traefik!.restarts} restarts`);
    assert.ok(most <= 1, `${most} traefik instances at once`);
    await waitFor(
      async () => (await hit(publicUrl + "/user/k/")).backend === "a",
      "routes again",
      30_000,
    );
    assert.equal((await traefikPids(configPath)).length, 1);
  });
  assert.deepEqual(await traefikPids(configPath), []);
});
