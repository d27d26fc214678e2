/**
 * Routes' last_activity from real traffic through the CLI: requests traefik serves (its access
 * log), websockets relayed through this process (every message counts while they stay open),
 * `?inactive_since=`, the file beside the routes file, and two replicas on one redis.
 */

import assert from "node:assert/strict";
import { api, type Cli, startCli } from "./cli_helpers.ts";
import { waitFor } from "./helpers.ts";
import { startRedis } from "./stores.ts";

/** A backend that answers 200 (404 under `/missing`) and echoes websocket messages. */
function startEchoBackend(): { url: string; close(): Promise<void> } {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (request) => {
    if (request.headers.get("upgrade")?.toLowerCase() === "websocket") {
      const { socket, response } = Deno.upgradeWebSocket(request);
      socket.onmessage = (event) => socket.send(event.data);
      return response;
    }
    const missing = new URL(request.url).pathname.includes("/missing");
    return new Response(missing ? "no" : "ok", { status: missing ? 404 : 200 });
  });
  return { url: `http://127.0.0.1:${server.addr.port}`, close: () => server.shutdown() };
}

async function lastActivity(cli: Cli, path: string): Promise<number> {
  const response = await api(cli, "GET", path);
  assert.equal(response.status, 200);
  const body = await response.json();
  return Date.parse(body.last_activity);
}

async function addRoute(cli: Cli, path: string, target: string): Promise<void> {
  const response = await api(cli, "POST", path, { target });
  assert.equal(response.status, 201, await response.text());
}

async function get(url: string): Promise<number> {
  const response = await fetch(url);
  await response.body?.cancel();
  return response.status;
}

/** A websocket to `url`, open. */
async function openSocket(url: string): Promise<WebSocket> {
  const socket = new WebSocket(url);
  await new Promise((resolve, reject) => {
    socket.onopen = resolve;
    socket.onerror = reject;
  });
  return socket;
}

async function closeSocket(socket: WebSocket): Promise<void> {
  const closed = new Promise((resolve) => socket.onclose = resolve);
  socket.close();
  await closed;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

Deno.test("traffic traefik serves moves a route's last_activity; 404s and idle routes stay", async () => {
  const backend = startEchoBackend();
  // Without the fallback, a route answers 201 only once traefik serves it: every request below
  // goes through traefik's own router for it.
  const cli = await startCli(["--no-fallback", "--activity-interval", "1"]);
  try {
    await addRoute(cli, "/user/busy", backend.url);
    await addRoute(cli, "/user/idle", backend.url);
    const added = await lastActivity(cli, "/user/busy");
    const idle = await lastActivity(cli, "/user/idle");
    await sleep(1_100);
    assert.equal(await get(`${cli.publicUrl}/user/idle/missing`), 404);
    await sleep(1_500);
    assert.equal(await lastActivity(cli, "/user/idle"), idle, "a 404 is no activity");
    const before = Date.now();
    assert.equal(await get(`${cli.publicUrl}/user/busy/tree`), 200);
    await waitFor(
      async () => await lastActivity(cli, "/user/busy") > added,
      "last_activity of /user/busy moved",
      5_000,
    );
    assert.ok(await lastActivity(cli, "/user/busy") >= before - 1_000);
    // inactive_since: exactly the routes with no activity since then.
    const since = new Date(before - 200).toISOString();
    const response = await api(cli, "GET", `?inactive_since=${since}`);
    assert.deepEqual(Object.keys(await response.json()), ["/user/idle"]);
    assert.equal(await lastActivity(cli, "/user/idle"), idle);
  } finally {
    await cli.stop();
    await backend.close();
  }
});

Deno.test("an open websocket that keeps sending moves last_activity; one that is quiet does not", async () => {
  const backend = startEchoBackend();
  const cli = await startCli(["--activity-interval", "1"]);
  try {
    await addRoute(cli, "/user/ws", backend.url);
    await addRoute(cli, "/user/quiet", backend.url);
    const socket = await openSocket(`ws://127.0.0.1:${cli.port}/user/ws/api/kernels/1/channels`);
    const quiet = await openSocket(`ws://127.0.0.1:${cli.port}/user/quiet/terminals/1`);
    try {
      await sleep(1_500);
      const quietAt = await lastActivity(cli, "/user/quiet");
      const opened = await lastActivity(cli, "/user/ws");
      const echoes: string[] = [];
      socket.onmessage = (event) => echoes.push(event.data);
      for (let i = 0; i < 6; i++) {
        socket.send(`message ${i}`);
        await sleep(500);
      }
      assert.equal(echoes.length, 6, "every message came back through the relay");
      await waitFor(
        async () => await lastActivity(cli, "/user/ws") >= opened + 2_000,
        "last_activity of /user/ws moved while the websocket stays open",
        5_000,
      );
      assert.equal(socket.readyState, WebSocket.OPEN);
      assert.equal(await lastActivity(cli, "/user/quiet"), quietAt);
    } finally {
      await closeSocket(socket);
      await closeSocket(quiet);
    }
  } finally {
    await cli.stop();
    await backend.close();
  }
});

Deno.test("with --no-websocket-activity traefik relays websockets and one counts when it closes", async () => {
  const backend = startEchoBackend();
  const cli = await startCli(["--no-websocket-activity", "--activity-interval", "1"]);
  try {
    await addRoute(cli, "/user/ws", backend.url);
    // Until traefik has the route, the fallback serves it (and counts what it relays); traefik
    // takes a route over well within 2 s here.
    await sleep(2_000);
    const socket = await openSocket(`ws://127.0.0.1:${cli.port}/user/ws/channels`);
    await sleep(1_100);
    const opened = await lastActivity(cli, "/user/ws");
    for (let i = 0; i < 4; i++) {
      socket.send(`message ${i}`);
      await sleep(400);
    }
    await sleep(1_500);
    assert.equal(await lastActivity(cli, "/user/ws"), opened, "no count while it is open");
    await closeSocket(socket);
    await waitFor(
      async () => await lastActivity(cli, "/user/ws") > opened,
      "last_activity of /user/ws moved when the websocket closed",
      5_000,
    );
  } finally {
    await cli.stop();
    await backend.close();
  }
});

Deno.test("the file provider keeps activity beside its routes file, across a restart", async () => {
  const backend = startEchoBackend();
  const dir = await Deno.makeTempDir({ prefix: "jhtp-activity-" });
  const file = `${dir}/routes.toml`;
  const flags = ["--dynamic-config-file", file, "--activity-interval", "1"];
  let cli = await startCli(flags);
  try {
    await addRoute(cli, "/user/a", backend.url);
    const added = await lastActivity(cli, "/user/a");
    await sleep(1_100);
    const routesFile = await Deno.readTextFile(file);
    assert.equal(await get(`${cli.publicUrl}/user/a/`), 200);
    await waitFor(
      async () => await lastActivity(cli, "/user/a") > added,
      "activity written",
      5_000,
    );
    const moved = await lastActivity(cli, "/user/a");
    const saved = async () =>
      JSON.parse(await Deno.readTextFile(`${file}.activity.json`).catch(() => "{}"));
    await waitFor(async () => Date.parse((await saved())["/user/a/"]) === moved, "saved", 5_000);
    assert.equal(await Deno.readTextFile(file), routesFile, "traefik's file is not written");
    await cli.stop();
    cli = await startCli(flags);
    assert.equal(await lastActivity(cli, "/user/a"), moved);
    assert.equal((await api(cli, "DELETE", "/user/a")).status, 204);
    const left = JSON.parse(await Deno.readTextFile(`${file}.activity.json`));
    assert.deepEqual(left, {});
  } finally {
    await cli.stop();
    await backend.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("two replicas on one redis: traffic through either moves the shared last_activity", async () => {
  const backend = startEchoBackend();
  const redis = await startRedis();
  const flags = ["--provider", "redis", "--redis-url", redis.url, "--activity-interval", "1"];
  const a = await startCli(flags);
  const b = await startCli(flags);
  try {
    await addRoute(a, "/user/shared", backend.url);
    await waitFor(
      async () => (await api(b, "GET", "/user/shared")).status === 200,
      "replica B has the route",
      5_000,
    );
    // Traffic through B, then through A: each time the other replica sees it.
    const legs = [
      { via: b, seenBy: a, what: "A sees the activity of traffic through B" },
      { via: a, seenBy: b, what: "B sees the activity of traffic through A" },
    ];
    let since = await lastActivity(a, "/user/shared");
    for (const { via, seenBy, what } of legs) {
      await sleep(1_100);
      assert.equal(await get(`${via.publicUrl}/user/shared/`), 200);
      await waitFor(async () => await lastActivity(seenBy, "/user/shared") > since, what, 5_000);
      since = await lastActivity(seenBy, "/user/shared");
    }
    assert.equal((await api(b, "DELETE", "/user/shared")).status, 204);
  } finally {
    await a.stop();
    await b.stop();
    await redis.stop();
    await backend.close();
  }
});
