/**
 * Interop with the Python jupyterhub-traefik-proxy 2.1 (installed in .tools/venv): both write
 * and read the same redis store.
 */
import assert from "node:assert/strict";
import { addRoute, getAllRoutes, type Proxy, startProxy } from "../mod.ts";
import { freePort, hit, startBackend } from "./helpers.ts";
import { startRedis } from "./stores.ts";

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
    await proxy.add_route("/py/route/", cfg["target"], {"from": "python", "flag": True})
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

Deno.test({
  name: "Python proxy interop: its routes are listed and served here, ours are listed there",
  ignore: !(await hasPythonProxy()),
  async fn() {
    const redis = await startRedis();
    const backend = startBackend("shared");
    const port = freePort();
    const apiPort = freePort();
    let proxy: Proxy | undefined;
    try {
      proxy = await startProxy({
        provider: { kind: "redis", url: redis.url },
        publicAddress: `127.0.0.1:${port}`,
        apiAddress: `127.0.0.1:${apiPort}`,
        apiPassword: "interop-pw",
      });
      await addRoute(proxy, {
        routespec: "/ours/",
        target: backend.url,
        data: { user: "ours", hub: true },
      });
      const out = await new Deno.Command(PYTHON, {
        args: [
          "-c",
          SCRIPT,
          JSON.stringify({
            redis_url: redis.url,
            api_url: `http://127.0.0.1:${apiPort}`,
            username: "jupyterhub",
            password: "interop-pw",
            target: backend.url,
          }),
        ],
      }).output();
      const stderr = new TextDecoder().decode(out.stderr);
      assert.equal(out.code, 0, stderr);
      const stdout = new TextDecoder().decode(out.stdout).trim().split("\n").pop()!;
      const seenByPython = JSON.parse(stdout);
      assert.equal(seenByPython["/ours/"].target, backend.url, "ours listed by Python");
      assert.equal(seenByPython["/ours/"].data.user, "ours");
      assert.equal(seenByPython["/py/route/"].data.from, "python");

      const routes = await getAllRoutes(proxy);
      const theirs = routes.get("/py/route/");
      assert.equal(theirs?.target, backend.url, "Python's route listed here");
      assert.deepEqual(theirs?.data, { from: "python", flag: "true" }, "as Python stores it");
      assert.deepEqual(routes.get("/ours/")?.data, { user: "ours", hub: true }, "types kept");
      assert.equal((await hit(`http://127.0.0.1:${port}/py/route/x`)).backend, "shared");
    } finally {
      await proxy?.stop();
      await backend.close();
      await redis.stop();
    }
  },
});
