// The library as a user imports it: the route functions from mod.ts, a store from the ./redis
// entry point, the traefik pieces from ./traefik, and a route confirmed through a real traefik.
import assert from "node:assert/strict";
import { addRoute, deleteRoute, getRoute } from "../mod.ts";
import { redisStore } from "../providers/redis.ts";
import { routeConfirmer } from "../lib/traefik/mod.ts";
import { hit, startBackend } from "./helpers.ts";
import { type RedisTraefik, startRedisTraefik } from "./redis_traefik.ts";
import { startRedis } from "./stores.ts";

Deno.test("library: addRoute through a redis store is confirmed by a traefik that reads it", async () => {
  const redis = await startRedis();
  const backend = startBackend("lib");
  const store = await redisStore({ url: redis.url });
  let traefik: RedisTraefik | undefined;
  try {
    traefik = await startRedisTraefik(redis.port, "/api/http/routers/jupyterhub-sentinel@redis");
    const api = traefik.api;
    const table = { store, confirm: routeConfirmer(api, { provider: "redis" }) };
    await addRoute(table, { routespec: "/user/lib/", target: backend.url, data: { user: "lib" } });
    // Confirmed means served: no waiting here.
    assert.equal((await hit(`${traefik.publicUrl}/user/lib/x`)).backend, "lib");
    assert.deepEqual((await getRoute(table, "/user/lib"))?.data, { user: "lib" });
    assert.equal(await deleteRoute(table, "/user/lib/"), true);
    assert.equal((await hit(`${traefik.publicUrl}/user/lib/x`)).status, 404);
  } finally {
    await traefik?.stop();
    await store.close();
    await backend.close();
    await redis.stop();
  }
});
