/**
 * The proxy's own redis client (providers/_redis_client.ts) against a real redis-server:
 * commands, pipelines, scripts, authentication, publish/subscribe, and a restart of the server.
 */

import assert from "node:assert/strict";
import { redisClient, RespError } from "../providers/_redis_client.ts";
import { redisStore } from "../providers/redis.ts";
import { StoreError } from "../lib/core/errors.ts";
import { freePort, waitFor } from "./helpers.ts";
import { makePki } from "./pki.ts";
import { startRedis } from "./stores.ts";

const local = (port: number) => ({ hostname: "127.0.0.1", port });

Deno.test("redis client: commands, a pipeline with an error reply, a large reply", async () => {
  const server = await startRedis();
  const client = redisClient(local(server.port));
  try {
    await client.connect();
    assert.equal(await client.send(["SET", "k", "v é"]), "OK");
    assert.equal(await client.send(["GET", "k"]), "v é");
    assert.equal(await client.send(["GET", "missing"]), null);
    await assert.rejects(client.send(["INCR", "k"]), RespError);
    const replies = await client.pipeline([["MULTI"], ["SET", "a", "1"], ["INCR", "a"], ["EXEC"]]);
    assert.deepEqual(replies, ["OK", "QUEUED", "QUEUED", ["OK", 2]]);
    const mixed = await client.pipeline([["INCR", "k"], ["GET", "a"]]);
    assert.ok(mixed[0] instanceof RespError);
    assert.equal(mixed[1], "2");
    // 10,000 keys written by a script and listed back in one reply.
    await client.send([
      "EVAL",
      "for i = 1, 10000 do redis.call('SET', 'big/' .. i, string.rep('x', 50)) end",
      "0",
    ]);
    const keys = await client.send(["KEYS", "big/*"]) as string[];
    assert.equal(keys.length, 10_000);
    // A reply that looks like a pub/sub message is a reply on a connection that subscribed to
    // nothing.
    await client.send(["RPUSH", "list", "message", "c", "x"]);
    assert.deepEqual(await client.send(["LRANGE", "list", "0", "-1"]), ["message", "c", "x"]);
    // Many commands at once keep their order.
    const values = await Promise.all(
      Array.from({ length: 500 }, (_, i) => client.send(["ECHO", String(i)])),
    );
    assert.deepEqual(values, Array.from({ length: 500 }, (_, i) => String(i)));
  } finally {
    await client.quit();
    await server.stop();
  }
});

Deno.test("redis client: AUTH with an ACL user, refused credentials, SELECT", async () => {
  const server = await startRedis({ user: { name: "hub", password: "s3cret" } });
  const wrong = redisClient({ ...local(server.port), username: "hub", password: "nope" });
  const right = redisClient({ ...local(server.port), username: "hub", password: "s3cret", db: 3 });
  try {
    const started = Date.now();
    await assert.rejects(wrong.connect(), (error: Error) => {
      assert.ok(error instanceof RespError, String(error));
      assert.match(error.message, /WRONGPASS|invalid/);
      return true;
    });
    assert.equal(wrong.isReady, false);
    assert.ok(Date.now() - started < 2_000, "refused credentials are not tried again");
    await right.connect();
    await right.send(["SET", "in3", "yes"]);
    assert.equal(await right.send(["ACL", "WHOAMI"]), "hub");
    const other = redisClient({ ...local(server.port), username: "hub", password: "s3cret" });
    await other.connect();
    assert.equal(await other.send(["GET", "in3"]), null); // database 0
    await other.quit();
  } finally {
    wrong.destroy();
    await right.quit();
    await server.stop();
  }
});

Deno.test("redis client: subscriptions and commands come back after a restart", async () => {
  const server = await startRedis();
  const client = redisClient(local(server.port));
  const subscriber = client.duplicate();
  const events: string[] = [];
  const messages: string[] = [];
  try {
    await client.connect();
    subscriber.on("end", () => events.push("end")).on("ready", () => events.push("ready"));
    await subscriber.connect();
    await subscriber.subscribe("c", (message) => messages.push(`c ${message}`));
    await subscriber.pSubscribe("p*", (message, channel) => messages.push(`${channel} ${message}`));
    await client.publish("c", "one");
    await client.publish("p1", "two");
    await waitFor(() => messages.length === 2, "messages", 5_000);
    assert.deepEqual(messages, ["c one", "p1 two"]);

    Deno.kill(server.pid, "SIGTERM"); // our own redis-server; restart() starts it again
    await waitFor(() => !client.isReady && !subscriber.isReady, "connections lost", 5_000);
    // While redis is down a command fails at once instead of waiting.
    await assert.rejects(client.send(["PING"]), /not connected/);
    await server.restart();
    await waitFor(() => client.isReady && subscriber.isReady, "reconnected", 10_000);
    // The subscriber subscribed again before it said it was ready.
    await client.publish("c", "three");
    await client.publish("p2", "four");
    await waitFor(() => messages.length === 4, "messages after the restart", 5_000);
    assert.deepEqual(messages.slice(2), ["c three", "p2 four"]);
    assert.deepEqual(events, ["ready", "end", "ready"]);
  } finally {
    await subscriber.quit();
    await client.quit();
    await server.stop();
  }
});

Deno.test("redis client: connect gives up after connectTimeoutMs; quit stops reconnecting", async () => {
  const client = redisClient({ ...local(freePort()), connectTimeoutMs: 700 }); // nothing there
  const started = Date.now();
  await assert.rejects(client.connect(), /refused|connect/i);
  assert.ok(Date.now() - started >= 600, "kept trying until the timeout");
  client.destroy();

  const server = await startRedis();
  const other = redisClient(local(server.port));
  await other.connect();
  await other.quit();
  assert.equal(other.isOpen, false);
  await server.stop();
  // Nothing reconnects after quit: no timer is left (the test sanitizer checks).
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.equal(other.isReady, false);
});

Deno.test("redis client: rediss:// verifies the server's certificate at connect", async () => {
  const pki = await makePki();
  const server = await startRedis({ tls: { ...pki.server, ca: pki.ca } });
  const trusted = redisClient({
    ...local(server.port),
    tls: true,
    caCerts: [await Deno.readTextFile(pki.ca)],
  });
  const untrusted = redisClient({ ...local(server.port), tls: true, connectTimeoutMs: 2_000 });
  try {
    await trusted.connect();
    assert.equal(await trusted.send(["PING"]), "PONG");
    // An unknown issuer fails the connection itself, not the first command after "ready".
    const readies: number[] = [];
    untrusted.on("ready", () => readies.push(Date.now()));
    await assert.rejects(untrusted.connect(), /certificate|issuer/i);
    assert.deepEqual(readies, []);
  } finally {
    untrusted.destroy();
    await trusted.quit();
    await server.stop();
    await pki.remove();
  }
});

// A TCP server that answers the first connection like redis (PONG to anything) until told to
// drop it, and closes every later connection at once.
function flakyServer() {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted: Deno.Conn[] = [];
  (async () => {
    for await (const conn of listener) {
      accepted.push(conn);
      if (accepted.length > 1) {
        conn.close();
        continue;
      }
      (async () => {
        const buffer = new Uint8Array(1024);
        try {
          while (await conn.read(buffer) !== null) {
            await conn.write(new TextEncoder().encode("+PONG\r\n"));
          }
        } catch {
          // dropped
        }
      })();
    }
  })().catch(() => {});
  return {
    port: (listener.addr as Deno.NetAddr).port,
    accepted,
    dropFirst: () => accepted[0].close(),
    close: () => listener.close(),
  };
}

Deno.test("redis client: a server that hangs up at once is retried with backoff, one chain", async () => {
  const server = flakyServer();
  const client = redisClient({ ...local(server.port), connectTimeoutMs: 1_000 });
  const events: string[] = [];
  client.on("end", () => events.push("end")).on("ready", () => events.push("ready"));
  try {
    await client.connect();
    server.dropFirst();
    await new Promise((resolve) => setTimeout(resolve, 1_600));
    // 100, 200, 400, 800 ms apart: about four attempts, not a tight loop or a doubling storm.
    const attempts = server.accepted.length - 1;
    assert.ok(attempts >= 3 && attempts <= 6, `${attempts} reconnection attempts in 1.6 s`);
    assert.deepEqual(events, ["ready", "end"]); // never ready again
    assert.equal(client.isReady, false);
  } finally {
    client.destroy();
    server.close();
  }
});

Deno.test("redis client: refused AUTH after a reconnect is retried until it passes", async () => {
  const server = await startRedis({ password: "one" });
  const admin = redisClient({ ...local(server.port), password: "one" });
  const client = redisClient({ ...local(server.port), password: "one" });
  const errors: string[] = [];
  try {
    await admin.connect();
    await client.connect();
    client.on("error", (error) => errors.push(error.message));
    await admin.send(["CONFIG", "SET", "requirepass", "two"]);
    await admin.send(["CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes"]);
    await waitFor(
      () => errors.some((message) => /WRONGPASS|invalid/.test(message)),
      "refusal",
      5_000,
    );
    assert.equal(client.isReady, false);
    await admin.send(["CONFIG", "SET", "requirepass", "one"]);
    await waitFor(() => client.isReady, "reconnected with the old password", 10_000);
    assert.equal(await client.send(["PING"]), "PONG");
    assert.ok(errors.length < 12, `${errors.length} errors: backoff, not a storm`);
  } finally {
    await client.quit();
    await admin.quit();
    await server.stop();
  }
});

Deno.test("redis store over rediss:// trusts the CA of --redis-ca-file, and refuses one without TLS", async () => {
  const pki = await makePki();
  const server = await startRedis({ tls: { ...pki.server, ca: pki.ca } });
  try {
    const store = await redisStore({ url: server.url, caFile: pki.ca, connectTimeoutMs: 3_000 });
    try {
      await store.apply({
        set: [{ routespec: "/user/tls/", target: "http://127.0.0.1:9000", data: {} }],
      });
      assert.equal((await store.getRoute("/user/tls/"))?.target, "http://127.0.0.1:9000");
    } finally {
      await store.close();
    }
    await assert.rejects(
      redisStore({ url: server.url, connectTimeoutMs: 1_000 }), // Deno's own roots: refused
      StoreError,
    );
    await assert.rejects(
      redisStore({ url: server.url.replace("rediss:", "redis:"), caFile: pki.ca }),
      /not TLS: use a rediss:\/\/ URL/,
    );
  } finally {
    await server.stop();
    await pki.remove();
  }
});
