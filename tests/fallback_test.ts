// The fallback through a real traefik: a route only the fallback knows and the same route once
// traefik serves it give the same answers; a route hammered while it is added and traefik
// reloads never reaches the hub; websockets, large bodies and a target that is down.
import assert from "node:assert/strict";
import { addRoute, deleteRoute, type RunningProxy, startProxy } from "../mod.ts";
import { routerName, serviceName } from "../lib/core/names.ts";
import { startEtcd, startRedis } from "./stores.ts";
import { routeConfirmer } from "../lib/traefik/confirm.ts";
import { internalHandler } from "../lib/chp/internal_handler.ts";
import { proxyOptions } from "../lib/chp/proxy_options.ts";
import { targetTls } from "../lib/chp/config_file.ts";
import { cliSettings } from "../lib/chp/settings.ts";
import { parseFlags } from "../lib/chp/flags.ts";
import { rawRequestPath } from "../lib/core/request_path.ts";
import type { Route } from "../lib/core/types.ts";
import { freePort, rawGet, startBackend, waitFor } from "./helpers.ts";

/** A backend that answers with what it received. */
function startEcho(name: string) {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    if (req.headers.get("upgrade") === "websocket") {
      const { socket, response } = Deno.upgradeWebSocket(req);
      socket.onmessage = (event) => socket.send(event.data);
      return response;
    }
    const body = new Uint8Array(await req.arrayBuffer());
    const forwarded: Record<string, string> = {};
    for (const [key, value] of req.headers) {
      if (key.startsWith("x-forwarded-") || key === "x-real-ip") forwarded[key] = value;
    }
    return Response.json({
      backend: name,
      method: req.method,
      path: rawRequestPath(req.url),
      host: req.headers.get("host"),
      forwarded,
      bodyLength: body.length,
    }, { headers: { "set-cookie": "a=1", "x-echo": name } });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    close: () => server.shutdown(),
  };
}

interface Env {
  proxy: RunningProxy;
  publicUrl: string;
  errors: string;
}

/** A proxy composed as the CLI composes it (error pages, internal server), on a file store. */
async function withCliProxy(body: (env: Env) => Promise<void>, flags: string[] = []) {
  const port = freePort();
  const errors = startBackend("error-pages");
  const settings = cliSettings(
    parseFlags([
      "--ip",
      "127.0.0.1",
      "--port",
      String(port),
      "--error-target",
      `${errors.url}/hub/error`,
      ...flags,
    ]).values,
  );
  const internal = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    internalHandler({ errorTarget: settings.errorTarget }),
  );
  let proxy: RunningProxy | undefined;
  const tls = await targetTls(settings);
  try {
    proxy = await startProxy(proxyOptions(settings, {
      traefikApiUrl: `http://127.0.0.1:${freePort()}`,
      internalUrl: `http://127.0.0.1:${internal.addr.port}`,
      targetTls: tls,
    }));
    await body({ proxy, publicUrl: `http://127.0.0.1:${port}`, errors: errors.url });
  } finally {
    await proxy?.stop();
    await internal.shutdown();
    await errors.close();
  }
}

/** What a client sees, without what differs between two requests anyway. */
async function answer(url: string, init: RequestInit & { host?: string } = {}) {
  if (init.host) {
    const hit = await rawGet(new URL(url).origin, new URL(url).pathname, init.host);
    return { status: hit.status, backend: hit.backend, path: hit.path };
  }
  const response = await fetch(url, { redirect: "manual", ...init });
  const text = await response.text();
  let json: unknown = text;
  try {
    json = JSON.parse(text);
  } catch {
    // a page
  }
  return {
    status: response.status,
    body: json,
    cookie: response.headers.get("set-cookie"),
    echo: response.headers.get("x-echo"),
  };
}

/** A request of the contract: a path (with query), and how to send it. */
type ContractRequest = [string, RequestInit & { host?: string }];

/**
 * The answers to `requests` while only the fallback knows `routes` (traefik sends them to its
 * catch-all), then once traefik serves the routes (confirmed through its API) and the fallback
 * has forgotten them: asserted the same, and returned.
 */
async function answersBothWays(env: Env, routes: Route[], requests: ContractRequest[]) {
  const { proxy, publicUrl } = env;
  const ask = () =>
    Promise.all(requests.map(([path, init]) => answer(`${publicUrl}${path}`, init)));
  await proxy.fallback!.apply({ set: routes });
  const byFallback = await ask();
  const traefik = routeConfirmer(proxy.api, { provider: proxy.store.provider });
  for (const route of routes) await addRoute(proxy.store, route, { confirm: traefik });
  await proxy.fallback!.apply({ delete: routes.map((r) => r.routespec) });
  const byTraefik = await ask();
  assert.deepEqual(byFallback, byTraefik);
  return byTraefik;
}

Deno.test("fallback: a route served by the fallback answers as the same route served by traefik", async () => {
  const echo = startEcho("user");
  const hub = startEcho("hub");
  try {
    await withCliProxy(async (env) => {
      const { proxy, publicUrl } = env;
      await addRoute(proxy, { routespec: "/", target: hub.url });
      const routes: Route[] = [
        { routespec: "/user/alice/", target: echo.url, data: {} },
        { routespec: "/user/a%24b/", target: echo.url, data: {} },
        { routespec: "/user/c%2Fd/", target: echo.url, data: {} },
        { routespec: "/user/c/d/", target: hub.url, data: {} },
        { routespec: "h.example/user/h/", target: echo.url, data: {} },
        { routespec: "/user/gone/", target: `http://127.0.0.1:${freePort()}`, data: {} },
      ];
      const requests: ContractRequest[] = [
        ["/user/alice", {}],
        ["/user/alice/lab/tree?x=1&y=%2F", {}],
        ["/user/alice/api/contents", { method: "PUT", body: "x".repeat(100_000) }],
        ["/user/alice/api", { method: "DELETE" }],
        ["/user/alicex/", {}],
        ["/user/a$b/x", {}],
        ["/user/a%24b/x", {}],
        ["/user/h/x", { host: "h.example" }],
        ["/user/h/x", { host: "other.example" }],
        ["/user/gone/", {}],
        ["/user/nobody/", {}],
        ["/user/c%2Fd/x", {}],
        ["/user/c%2fd/x", {}],
        ["/user/c/d/x", {}],
      ];
      const byFallback = await answersBothWays(env, routes, requests);
      // And the answers are the right ones.
      const [alice, query, put, del, hubHit, literal, encoded, host, otherHost, gone, nobody] =
        byFallback as { status: number; body: Record<string, unknown>; backend?: string }[];
      assert.equal(alice.body.backend, "user");
      assert.equal(alice.body.host, new URL(publicUrl).host);
      const forwarded = alice.body.forwarded as Record<string, string>;
      assert.equal(forwarded["x-forwarded-for"], "127.0.0.1");
      assert.equal(forwarded["x-forwarded-proto"], "http");
      assert.equal(forwarded["x-forwarded-host"], new URL(publicUrl).host);
      assert.equal(query.body.path, "/user/alice/lab/tree?x=1&y=%2F");
      assert.equal(put.body.method, "PUT");
      assert.equal(put.body.bodyLength, 100_000);
      assert.equal(del.body.method, "DELETE");
      assert.equal(hubHit.body.backend, "hub");
      assert.equal(literal.body.backend, "user");
      assert.equal(encoded.body.path, "/user/a%24b/x");
      assert.equal(host.backend, "user");
      assert.equal(otherHost.backend, "hub");
      assert.equal(gone.status, 503);
      assert.equal(nobody.body.backend, "hub");
      // An encoded slash stays inside its segment in either case; a real slash does not.
      const [upper, lower, slash] = byFallback.slice(-3) as typeof byFallback;
      assert.deepEqual(
        [upper, lower, slash].map((a) => (a as { body: { backend: string } }).body.backend),
        ["user", "user", "hub"],
      );
    });
  } finally {
    await echo.close();
    await hub.close();
  }
});

Deno.test("fallback: with a tree of entry points, traefik and the fallback answer alike", async () => {
  const echo = startEcho("user");
  const hub = startEcho("hub");
  const named = startEcho("named");
  try {
    await withCliProxy(async (env) => {
      const { proxy, publicUrl } = env;
      await addRoute(proxy, { routespec: "/", target: hub.url });
      const routes: Route[] = [
        { routespec: "/user/alice/", target: echo.url, data: {} },
        { routespec: "/user/alice/server2/", target: named.url, data: {} },
        { routespec: "/user/bob/", target: echo.url, data: {} },
        { routespec: "/user/Carol/", target: echo.url, data: {} }, // stays on the public one
        { routespec: "/user/a%24b/", target: echo.url, data: {} },
        { routespec: "/user/c%2Fd/", target: echo.url, data: {} },
        { routespec: "/user/c/d/", target: named.url, data: {} },
        { routespec: "h.example/user/h/", target: echo.url, data: {} },
        { routespec: "/user/gone/", target: `http://127.0.0.1:${freePort()}`, data: {} },
        { routespec: "/services/s/", target: named.url, data: {} },
      ];
      const requests: ContractRequest[] = [
        ["/user/alice", {}],
        ["/user/alice/lab/tree?x=1&y=%2F", {}],
        ["/user/alice/api/contents", { method: "PUT", body: "x".repeat(100_000) }],
        ["/user/alice/server2", {}],
        ["/user/alice/server2/x", {}],
        ["/user/alice/server2x", {}],
        ["/user/bob/x", {}],
        ["/user/Carol/x", {}],
        ["/user/carol/x", {}],
        ["/user/a$b/x", {}],
        ["/user/a%24b/x", {}],
        ["/user/%61lice/x", {}],
        ["/user/h/x", { host: "h.example" }],
        ["/user/gone/", {}],
        ["/user/nobody/", {}],
        ["/user/", {}],
        ["/user/c%2Fd/x", {}],
        ["/user/c/d/x", {}],
        ["/services/s/x", {}],
      ];
      // Two routes under /user/ in the table, and traefik has the tree.
      const traefik = routeConfirmer(proxy.api, { provider: proxy.store.provider });
      for (const spec of ["/user/z1/", "/user/z2/"]) {
        await addRoute(proxy.store, { routespec: spec, target: named.url }, { confirm: traefik });
      }
      await waitFor(async () => {
        const raw = (await proxy.api.get("/api/rawdata")).body as { routers: object };
        return Object.keys(raw.routers).some((name) => /^jupyterhub-tree-\d+@/.test(name));
      }, "the tree in traefik");
      const byTraefik = await answersBothWays(env, routes, requests);
      const backends = byTraefik.map((a) =>
        (a as { backend?: string; body?: { backend?: string } }).backend ??
          (a as { body: { backend?: string } }).body?.backend ?? (a as { status: number }).status
      );
      // deno-fmt-ignore
      assert.deepEqual(backends, [
        "user", "user", "user", "named", "named", "user", "user", "user", "hub", "user", "user",
        "user", "user", "error-pages", "hub", "hub", "user", "named", "named",
      ]);
      assert.equal((byTraefik[13] as { status: number }).status, 503); // the target is down
      // The client's address reaches the target; the hop adds its own after it.
      const forwarded = (byTraefik[0] as { body: { forwarded: Record<string, string> } }).body
        .forwarded;
      assert.equal(forwarded["x-real-ip"], "127.0.0.1");
      assert.equal(forwarded["x-forwarded-for"].split(",")[0], "127.0.0.1");
      assert.equal(forwarded["x-forwarded-host"], new URL(publicUrl).host);
      // Routes under /user/ whose name starts with a-z or 0-9 are on a branch's entry point.
      const raw = (await proxy.api.get("/api/rawdata")).body as {
        routers: Record<string, { entryPoints: string[] }>;
      };
      const entryPointOf = (spec: string) => raw.routers[`${routerName(spec)}@file`].entryPoints;
      assert.match(entryPointOf("/user/alice/")[0], /^jupyterhub-tree-\d+$/);
      assert.deepEqual(entryPointOf("/user/alice/server2/"), entryPointOf("/user/alice/"));
      assert.notDeepEqual(entryPointOf("/user/bob/"), entryPointOf("/user/alice/"));
      assert.deepEqual(entryPointOf("/user/Carol/"), ["http"]);
      assert.deepEqual(entryPointOf("/services/s/"), ["http"]);
      // A host route goes where the requests for its path go.
      assert.match(entryPointOf("h.example/user/h/")[0], /^jupyterhub-tree-\d+$/);
      assert.equal(
        Object.keys(raw.routers).filter((name) =>
          /^jupyterhub-tree-\d+(-fallback)?@file$/.test(name)
        ).length,
        24,
      );
    }, ["--entry-tree-routes", "2"]);
  } finally {
    await echo.close();
    await hub.close();
    await named.close();
  }
});

Deno.test("fallback: traefik's short rules leave a bare path to the fallback, a named server's is traefik's", async () => {
  const echo = startEcho("user");
  const hub = startEcho("hub");
  const named = startEcho("named");
  try {
    await withCliProxy(async ({ proxy, publicUrl }) => {
      const routes: Route[] = [
        { routespec: "/", target: hub.url, data: {} },
        { routespec: "/user/alice/", target: echo.url, data: {} },
        { routespec: "/user/alice/server2/", target: named.url, data: {} },
        { routespec: "/user/bob/", target: echo.url, data: {} },
      ];
      const traefik = routeConfirmer(proxy.api, { provider: proxy.store.provider });
      for (const route of routes) await addRoute(proxy.store, route, { confirm: traefik });
      const backends = async () => {
        const paths = ["/user/bob", "/user/bob/x", "/user/alice/server2", "/user/alice/server2x"];
        return await Promise.all(paths.map(async (path) => {
          const response = await fetch(`${publicUrl}${path}`);
          return ((await response.json()) as { backend: string }).backend;
        }));
      };
      // With the fallback: every request where configurable-http-proxy would send it.
      assert.deepEqual(await backends(), ["user", "user", "named", "user"]);
      // traefik alone (the fallback forgets the routes but the root): the bare path of a route
      // nothing encloses went to the fallback; a named server's bare path is traefik's.
      await proxy.fallback!.apply({ delete: routes.slice(1).map((r) => r.routespec) });
      assert.deepEqual(await backends(), ["hub", "user", "named", "user"]);
    });
  } finally {
    await echo.close();
    await hub.close();
    await named.close();
  }
});

Deno.test("fallback: no route and no default target is the error target's 404 page", async () => {
  await withCliProxy(async ({ publicUrl }) => {
    const response = await fetch(`${publicUrl}/user/nobody/`);
    const body = await response.json();
    assert.equal(response.status, 404);
    assert.equal(body.backend, "error-pages");
    assert.equal(body.path, "/hub/error/404");
  });
});

Deno.test("fallback: --default-target takes what no route matches", async () => {
  const target = startEcho("default");
  try {
    await withCliProxy(async ({ publicUrl }) => {
      const response = await fetch(`${publicUrl}/anything/at/all`);
      assert.equal((await response.json()).backend, "default");
    }, ["--default-target", target.url]);
  } finally {
    await target.close();
  }
});

Deno.test("fallback: a route hammered while it is added never reaches the hub", async () => {
  const user = startEcho("user");
  const hub = startEcho("hub");
  try {
    // Also while traefik gets a tree of entry points: at the 10th route under /user/.
    for (const flags of [[], ["--entry-tree-routes", "10"]]) {
      await withCliProxy(async ({ proxy, publicUrl }) => {
        await addRoute(proxy, { routespec: "/", target: hub.url });
        const seen = new Map<string, number>();
        let stop = false;
        const hammer = async () => {
          while (!stop) {
            const got = await answer(`${publicUrl}/user/hammer/api/status`);
            const key = `${got.status} ${(got.body as { backend?: string }).backend}`;
            seen.set(key, (seen.get(key) ?? 0) + 1);
          }
        };
        const started = performance.now();
        await addRoute(proxy, { routespec: "/user/hammer/", target: user.url });
        const acknowledged = performance.now() - started;
        const hammers = [hammer(), hammer(), hammer(), hammer()];
        // More routes, so that traefik reloads while the hammer runs; until traefik has taken the
        // route over, and a little after.
        for (let i = 0; i < 20; i++) {
          await addRoute(proxy, { routespec: `/user/other-${i}/`, target: user.url });
        }
        const traefik = routeConfirmer(proxy.api, { provider: proxy.store.provider });
        await traefik.served([{ routespec: "/user/hammer/", target: user.url, data: {} }]);
        await new Promise((resolve) => setTimeout(resolve, 300));
        stop = true;
        await Promise.all(hammers);
        assert.deepEqual([...seen.keys()], ["200 user"], JSON.stringify([...seen]));
        assert.ok(seen.get("200 user")! > 20);
        console.log(
          `acknowledged after ${acknowledged.toFixed(1)} ms; ${seen.get("200 user")} requests`,
        );
        const raw = (await proxy.api.get("/api/rawdata")).body as { routers: object };
        const tree = Object.keys(raw.routers).some((name) => /^jupyterhub-tree-\d+@/.test(name));
        assert.equal(tree, flags.length > 0);
      }, flags);
    }
  } finally {
    await user.close();
    await hub.close();
  }
});

Deno.test("fallback: websockets, 50 MB each way, through a route only the fallback knows", async () => {
  const big = 50 * 1024 * 1024;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    if (req.headers.get("upgrade") === "websocket") {
      const { socket, response } = Deno.upgradeWebSocket(req);
      socket.onmessage = (event) => socket.send(event.data);
      return response;
    }
    if (req.method === "POST") {
      let n = 0;
      for await (const chunk of req.body!) n += chunk.length;
      return new Response(String(n));
    }
    let left = big;
    return new Response(
      new ReadableStream({
        pull(controller) {
          const n = Math.min(left, 1 << 20);
          controller.enqueue(new Uint8Array(n).fill(7));
          left -= n;
          if (left === 0) controller.close();
        },
      }),
    );
  });
  const target = `http://127.0.0.1:${server.addr.port}`;
  try {
    await withCliProxy(async ({ proxy, publicUrl }) => {
      await proxy.fallback!.apply({ set: [{ routespec: "/user/ws/", target, data: {} }] });

      const socket = new WebSocket(`${publicUrl.replace("http", "ws")}/user/ws/api/kernels`);
      const echoed = await new Promise<string>((resolve, reject) => {
        socket.onopen = () => socket.send("hello");
        socket.onmessage = (event) => resolve(String(event.data));
        socket.onerror = () => reject(new Error("websocket error"));
      });
      const closed = new Promise((resolve) => socket.onclose = resolve);
      socket.close();
      await closed;
      assert.equal(echoed, "hello");

      let sent = 0;
      const upload = await fetch(`${publicUrl}/user/ws/upload`, {
        method: "POST",
        body: new ReadableStream({
          pull(controller) {
            if (sent >= big) return controller.close();
            controller.enqueue(new Uint8Array(1 << 20));
            sent += 1 << 20;
          },
        }),
      });
      assert.equal(await upload.text(), String(big));

      const download = await fetch(`${publicUrl}/user/ws/download`);
      let received = 0;
      for await (const chunk of download.body!) received += chunk.length;
      assert.equal(received, big);
    });
  } finally {
    await server.shutdown();
  }
});

Deno.test("fallback: --no-fallback leaves every request to traefik", async () => {
  const user = startEcho("user");
  try {
    await withCliProxy(async ({ proxy, publicUrl }) => {
      assert.equal(proxy.fallback, undefined);
      await addRoute(proxy, { routespec: "/user/a/", target: user.url });
      assert.equal(
        ((await answer(`${publicUrl}/user/a/`)).body as { backend: string }).backend,
        "user",
      );
      // traefik's own catch-all: the internal server's 404 page, from the error target.
      const missing = await answer(`${publicUrl}/user/nobody/`);
      assert.equal(missing.status, 404);
      assert.equal((missing.body as { path: string }).path, "/hub/error/404");
    }, ["--no-fallback"]);
  } finally {
    await user.close();
  }
});

Deno.test("fallback with an external traefik: its catch-all router is checked at start, then routes are instant", async () => {
  const { startRedis } = await import("./stores.ts");
  const { startRedisTraefik } = await import("./redis_traefik.ts");
  const { fallbackConfig } = await import("../lib/traefik/fallback_router.ts");
  const { ConfigError } = await import("../lib/core/errors.ts");
  const redis = await startRedis();
  const user = startEcho("user");
  const hub = startEcho("hub");
  const fallbackPort = freePort();
  const traefiks: { stop(): Promise<void> }[] = [];
  try {
    // Without the catch-all router: refused, with the configuration to add.
    const bare = await startRedisTraefik(redis.port);
    traefiks.push(bare);
    await assert.rejects(
      startProxy({
        provider: { kind: "redis", url: redis.url },
        external: { apiUrl: `http://${bare.apiAddress}` },
        fallback: { port: fallbackPort },
        startTimeoutMs: 500,
      }),
      (error: Error) => error instanceof ConfigError && error.message.includes("catch-all"),
    );
    const traefik = await startRedisTraefik(redis.port, "/api/overview", {
      dynamic: fallbackConfig({ entryPoint: "http", url: `http://127.0.0.1:${fallbackPort}` }),
    });
    traefiks.push(traefik);
    const proxy = await startProxy({
      provider: { kind: "redis", url: redis.url },
      external: { apiUrl: `http://${traefik.apiAddress}` },
      fallback: { port: fallbackPort },
    });
    try {
      await addRoute(proxy, { routespec: "/", target: hub.url });
      await addRoute(proxy, { routespec: "/user/ext/", target: user.url });
      // Acknowledged means served, through the operator's traefik (its redis provider has
      // not rebuilt yet: the fallback answers).
      const got = await answer(`${traefik.publicUrl}/user/ext/x`);
      assert.equal((got.body as { backend: string }).backend, "user");
      assert.equal(
        ((await answer(`${traefik.publicUrl}/hub/`)).body as { backend: string }).backend,
        "hub",
      );
    } finally {
      await proxy.stop();
    }
  } finally {
    for (const t of traefiks) await t.stop();
    await user.close();
    await hub.close();
    await redis.stop();
  }
});

/** A CA and a certificate for 127.0.0.1 signed by it, in a temporary directory. */
async function testCertificates(dir: string) {
  const run = async (...args: string[]) => {
    const out = await new Deno.Command("openssl", { args, cwd: dir, stderr: "piped" }).output();
    if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
  };
  await run(
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    "ca.key",
    "-out",
    "ca.pem",
    "-days",
    "2",
    "-subj",
    "/CN=test-ca",
  );
  await run(
    "req",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    "server.key",
    "-out",
    "server.csr",
    "-subj",
    "/CN=127.0.0.1",
  );
  await Deno.writeTextFile(`${dir}/ext.cnf`, "subjectAltName=IP:127.0.0.1\n");
  await run(
    "x509",
    "-req",
    "-in",
    "server.csr",
    "-CA",
    "ca.pem",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-out",
    "server.pem",
    "-days",
    "2",
    "-extfile",
    "ext.cnf",
  );
  return { ca: `${dir}/ca.pem`, cert: `${dir}/server.pem`, key: `${dir}/server.key` };
}

Deno.test("fallback: https targets are reached with --client-ssl-ca (JupyterHub's internal SSL)", async () => {
  const dir = await Deno.makeTempDir();
  const files = await testCertificates(dir);
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    cert: await Deno.readTextFile(files.cert),
    key: await Deno.readTextFile(files.key),
    onListen: () => {},
  }, () => Response.json({ backend: "tls" }));
  const target = `https://127.0.0.1:${server.addr.port}`;
  try {
    for (const [flags, want] of [[["--client-ssl-ca", files.ca], 200], [[], 503]] as const) {
      await withCliProxy(async ({ proxy, publicUrl }) => {
        await proxy.fallback!.apply({ set: [{ routespec: "/user/tls/", target, data: {} }] });
        const got = await answer(`${publicUrl}/user/tls/`);
        assert.equal(got.status, want, JSON.stringify(flags));
        if (want === 200) assert.equal((got.body as { backend: string }).backend, "tls");
      }, [...flags]);
    }
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

// traefik's takeover is read from the stamp of the file it is fed: when the fallback has nothing
// pending, traefik's own API has every router; a changed target and a deletion answer once
// traefik has applied them.
for (const kind of ["file", "redis", "etcd"] as const) {
  Deno.test(`fallback, ${kind}: a takeover confirmed by the feed's stamp is traefik's own state`, async () => {
    const server = kind === "redis"
      ? await startRedis()
      : kind === "etcd"
      ? await startEtcd()
      : undefined;
    const backends = [startBackend("one"), startBackend("two")];
    let proxy: RunningProxy | undefined;
    try {
      proxy = await startProxy({
        provider: kind === "redis"
          ? { kind, url: server!.url }
          : kind === "etcd"
          ? { kind, urls: [server!.url] }
          : { kind: "file" },
        publicAddress: `127.0.0.1:${freePort()}`,
        apiAddress: `127.0.0.1:${freePort()}`,
        checkRouteTimeoutMs: 20_000,
      });
      const running = proxy;
      const routerOf = async (route: string) => {
        const name = encodeURIComponent(`${routerName(route)}@file`);
        return (await running.api.get(`/api/http/routers/${name}`)).status;
      };
      const urlOf = async (route: string) => {
        const name = encodeURIComponent(`${serviceName(route)}@file`);
        const { status, body } = await running.api.get(`/api/http/services/${name}`);
        if (status !== 200) return status;
        return (body as { loadBalancer: { servers: { url: string }[] } }).loadBalancer.servers[0]
          .url;
      };
      const specs = Array.from({ length: 20 }, (_, i) => `/user/t${i}/`);
      await Promise.all(
        specs.map((spec) => addRoute(running, { routespec: spec, target: backends[0].url })),
      );
      await waitFor(() => running.fallback!.pending === 0, "the takeover of 20 routes", 20_000);
      for (const spec of specs) {
        assert.equal(await routerOf(spec), 200, spec);
        assert.equal(await urlOf(spec), backends[0].url, spec);
      }
      // A new target answers once traefik has it, and so does a deletion.
      await addRoute(running, { routespec: specs[0], target: backends[1].url });
      assert.equal(await urlOf(specs[0]), backends[1].url);
      await deleteRoute(running, specs[1]);
      assert.equal(await routerOf(specs[1]), 404);
    } finally {
      await proxy?.stop();
      for (const backend of backends) await backend.close();
      await server?.stop();
    }
  });
}
