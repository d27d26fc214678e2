// The library as a user imports it: the route functions from mod.ts, a store from the ./redis
// entry point, the traefik pieces from ./traefik, and a route confirmed through a real traefik.
import assert from "node:assert/strict";
import { addRoute, deleteRoute, getRoute } from "../mod.ts";
import { redisStore } from "../providers/redis.ts";
import {
  routeConfirmer,
  startTraefik,
  staticConfig,
  traefikApi,
  type TraefikProcess,
} from "../lib/traefik/mod.ts";
import { freePort, hit, startBackend } from "./helpers.ts";
import { startRedis } from "./stores.ts";

Deno.test("library: addRoute through a redis store is confirmed by a traefik that reads it", async () => {
  const redis = await startRedis();
  const backend = startBackend("lib");
  const workDir = await Deno.makeTempDir({ prefix: "jhtp-lib-" });
  const publicPort = freePort();
  const apiAddress = `127.0.0.1:${freePort()}`;
  const store = await redisStore({ url: redis.url });
  let traefik: TraefikProcess | undefined;
  try {
    const api = traefikApi({ url: `http://${apiAddress}` });
    traefik = await startTraefik({
      staticConfig: staticConfig({
        publicAddress: `127.0.0.1:${publicPort}`,
        apiAddress: `127.0.0.1:${freePort()}`,
        providers: { redis: { endpoints: [`127.0.0.1:${redis.port}`], rootKey: "traefik" } },
        // traefik's own API, on a private loopback entry point.
        extra: { api: { insecure: true }, entryPoints: { traefik: { address: apiAddress } } },
      }),
      workDir,
      api,
      readyPath: "/api/http/routers/jupyterhub-sentinel@redis",
    });
    const table = { store, confirm: routeConfirmer(api, { provider: "redis" }) };
    await addRoute(table, { routespec: "/user/lib/", target: backend.url, data: { user: "lib" } });
    // Confirmed means served: no waiting here.
    assert.equal((await hit(`http://127.0.0.1:${publicPort}/user/lib/x`)).backend, "lib");
    assert.deepEqual((await getRoute(table, "/user/lib"))?.data, { user: "lib" });
    assert.equal(await deleteRoute(table, "/user/lib/"), true);
    assert.equal((await hit(`http://127.0.0.1:${publicPort}/user/lib/x`)).status, 404);
  } finally {
    await traefik?.stop();
    await store.close();
    await backend.close();
    await redis.stop();
    await Deno.remove(workDir, { recursive: true });
  }
});
