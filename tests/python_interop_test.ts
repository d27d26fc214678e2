/**
 * Interop with the Python jupyterhub-traefik-proxy 2.1 (installed in .tools/venv): both write
 * and read the same redis store.
 */
import assert from "node:assert/strict";
import { addRoute, getAllRoutes, type RunningProxy, startProxy } from "../mod.ts";
import { freePort, hit, rawGet, startBackend, waitFor } from "./helpers.ts";
import { type RedisTraefik, startRedisTraefik } from "./redis_traefik.ts";
import { hasConsul, startConsul, startRedis } from "./stores.ts";

const PYTHON = new URL("../.tools/venv/bin/python", import.meta.url).pathname;

const SCRIPT = `
import asyncio, json, sys
from jupyterhub_traefik_proxy.redis import TraefikRedisProxy

cfg = json.loads(sys.argv[1])

async def main():
    proxy = TraefikRedisProxy(
        redis_url=cfg["redis_url"],
        traefik_api_url=cfg["api_url"],
        traefik_api_username=cfg["username"],
        traefik_api_password=cfg["password"],
        should_start=False,
        traefik_entrypoint="http",
        check_route_timeout=20,
    )
    if cfg["add"]:
        await proxy.add_route("/py/route/", cfg["target"], {"from": "python", "flag": True})
        # JupyterHub's routespec for the user "p+q!": quote(name, safe="@~")
        await proxy.add_route("/user/p%2Bq%21/", cfg["target"], {"user": "p+q!"})
    print(json.dumps(await proxy.get_all_routes()))

asyncio.run(main())
`;

async function hasPythonProxy(): Promise<boolean> {
  try {
    const out = await new Deno.Command(PYTHON, {
      args: ["-c", "import jupyterhub_traefik_proxy.redis"],
    }).output();
    return out.code === 0;
  } catch {
    return false;
  }
}

// The Python proxy's replica has a traefik of its own that reads redis (started here as its
// operator would); ours feeds its traefik from a file rendered from redis, or lets it read redis.
for (const feedTraefik of [true, false]) {
  Deno.test({
    name: `Python proxy interop (${
      feedTraefik ? "our traefik fed from a file" : "our traefik reads redis"
    }): its routes are listed and served here, ours there, one record per route`,
    ignore: !(await hasPythonProxy()),
    async fn() {
      const redis = await startRedis();
      const backend = startBackend("shared");
      const port = freePort();
      const apiPort = freePort();
      let proxy: RunningProxy | undefined;
      let pythonTraefik: RedisTraefik | undefined;
      try {
        pythonTraefik = await startRedisTraefik(redis.port);
        const theirApi = pythonTraefik.apiAddress;
        proxy = await startProxy({
          provider: { kind: "redis", url: redis.url },
          publicAddress: `127.0.0.1:${port}`,
          apiAddress: `127.0.0.1:${apiPort}`,
          feedTraefik,
        });
        await addRoute(proxy, {
          routespec: "/ours/",
          target: backend.url,
          data: { user: "ours", hub: true },
        });
        // aiohttp's spelling of the hub's /user/o%2Bk%21/
        await addRoute(proxy, { routespec: "/user/o+k!/", target: backend.url });
        const python = async (add: boolean) => {
          const out = await new Deno.Command(PYTHON, {
            args: [
              "-c",
              SCRIPT,
              JSON.stringify({
                redis_url: redis.url,
                api_url: `http://${theirApi}`,
                username: "",
                password: "",
                target: backend.url,
                add,
              }),
            ],
          }).output();
          const stderr = new TextDecoder().decode(out.stderr);
          assert.equal(out.code, 0, stderr);
          return JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").pop()!);
        };
        const seenByPython = await python(true);
        assert.equal(seenByPython["/ours/"].target, backend.url, "ours listed by Python");
        assert.equal(seenByPython["/ours/"].data.user, "ours");
        assert.equal(seenByPython["/py/route/"].data.from, "python");

        const routes = await getAllRoutes(proxy);
        const theirs = routes.get("/py/route/");
        assert.equal(theirs?.target, backend.url, "Python's route listed here");
        assert.deepEqual(theirs?.data, { from: "python", flag: "true" }, "as Python stores it");
        assert.deepEqual(routes.get("/ours/")?.data, { user: "ours", hub: true }, "types kept");
        // Python's writes reach our traefik through our watch of redis; ours reach its traefik.
        await waitFor(
          async () => (await hit(`http://127.0.0.1:${port}/py/route/x`)).backend === "shared",
          "our traefik serves the Python proxy's route",
        );
        assert.equal((await hit(`${pythonTraefik.publicUrl}/ours/x`)).backend, "shared");

        // Reserved characters: both name a route as the hub computes it, so one record per route.
        assert.equal(seenByPython["/user/o%2Bk%21/"]?.target, backend.url, "ours, hub's spelling");
        assert.equal(routes.get("/user/p%2Bq%21/")?.target, backend.url, "theirs, same spelling");
        const other = startBackend("other");
        try {
          await addRoute(proxy, { routespec: "/user/p+q!/", target: other.url });
          const after = await python(false);
          assert.deepEqual(
            Object.keys(after).filter((key) => key.includes("p%2Bq")),
            ["/user/p%2Bq%21/"],
            "replaced in place, not added beside",
          );
          assert.equal(after["/user/p%2Bq%21/"].target, other.url);
          for (const path of ["/user/p+q!/x", "/user/p%2Bq%21/x", "/user/p%2bq!"]) {
            const result = await rawGet(`http://127.0.0.1:${port}`, path, "127.0.0.1");
            assert.equal(result.backend, "other", path);
          }
        } finally {
          await other.close();
        }
      } finally {
        await proxy?.stop();
        await pythonTraefik?.stop();
        await backend.close();
        await redis.stop();
      }
    },
  });
}

const CONSUL_SCRIPT = `
import asyncio, json, sys
from jupyterhub_traefik_proxy.consul import TraefikConsulProxy

cfg = json.loads(sys.argv[1])

async def main():
    proxy = TraefikConsulProxy(
        consul_url=cfg["consul_url"],
        traefik_api_url=cfg["api_url"],
        traefik_api_username="",
        traefik_api_password="",
        should_start=False,
        traefik_entrypoint="http",
        check_route_timeout=20,
    )
    await proxy.add_route("/py/consul/", cfg["target"], {"from": "python"})
    print(json.dumps(await proxy.get_all_routes()))

asyncio.run(main())
`;

async function hasPythonConsul(): Promise<boolean> {
  try {
    const out = await new Deno.Command(PYTHON, {
      args: ["-c", "import jupyterhub_traefik_proxy.consul, consul"],
    }).output();
    return out.code === 0 && await hasConsul();
  } catch {
    return false;
  }
}

Deno.test({
  name: "Python proxy interop on consul: its routes are listed and served here, ours there",
  ignore: !(await hasPythonConsul()),
  async fn() {
    const consul = await startConsul();
    const backend = startBackend("shared");
    const port = freePort();
    let proxy: RunningProxy | undefined;
    let pythonTraefik: RedisTraefik | undefined;
    try {
      pythonTraefik = await startRedisTraefik(0, "/api/overview", {
        providers: {
          consul: { endpoints: [consul.url.replace("http://", "")], rootKey: "traefik" },
        },
      });
      proxy = await startProxy({
        provider: { kind: "consul", url: consul.url },
        publicAddress: `127.0.0.1:${port}`,
        apiAddress: `127.0.0.1:${freePort()}`,
      });
      await addRoute(proxy, { routespec: "/ours/", target: backend.url, data: { user: "ours" } });
      const out = await new Deno.Command(PYTHON, {
        args: [
          "-c",
          CONSUL_SCRIPT,
          JSON.stringify({
            consul_url: consul.url,
            api_url: `http://${pythonTraefik.apiAddress}`,
            target: backend.url,
          }),
        ],
      }).output();
      assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
      const seenByPython = JSON.parse(
        new TextDecoder().decode(out.stdout).trim().split("\n").pop()!,
      );
      assert.equal(seenByPython["/ours/"].target, backend.url, "ours listed by Python");
      assert.equal(seenByPython["/ours/"].data.user, "ours");
      const routes = await getAllRoutes(proxy);
      assert.equal(routes.get("/py/consul/")?.target, backend.url, "Python's route listed here");
      assert.deepEqual(routes.get("/py/consul/")?.data, { from: "python" });
      await waitFor(
        async () => (await hit(`http://127.0.0.1:${port}/py/consul/x`)).backend === "shared",
        "our traefik serves the Python proxy's route",
      );
      assert.equal((await hit(`${pythonTraefik.publicUrl}/ours/x`)).backend, "shared");
    } finally {
      await proxy?.stop();
      await pythonTraefik?.stop();
      await backend.close();
      await consul.stop();
    }
  },
});
