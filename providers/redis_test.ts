import assert from "node:assert/strict";
import { redisProviderConfig, redisTarget } from "./redis.ts";
import { StoreError } from "../lib/core/errors.ts";

Deno.test("redis URLs give the client target and traefik's provider section", () => {
  assert.deepEqual(redisTarget({ url: "redis://u:p%40ss@127.0.0.1:6380/2" }), {
    endpoint: "127.0.0.1:6380",
    tls: false,
    username: "u",
    password: "p@ss",
    db: 2,
  });
  assert.deepEqual(redisProviderConfig({ url: "rediss://127.0.0.1", traefikPrefix: "/tk/" }), {
    endpoints: ["127.0.0.1:6379"],
    rootKey: "tk",
    db: 0,
    tls: {},
  });
  assert.deepEqual(
    redisProviderConfig({ url: "rediss://10.0.0.1:6380", caFile: "/etc/ca.pem" }).tls,
    { ca: "/etc/ca.pem" },
  );
  assert.throws(() => redisTarget({ url: "http://x" }), StoreError);
});
