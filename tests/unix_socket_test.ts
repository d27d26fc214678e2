/**
 * `--socket` and `--api-socket`, as JupyterHub 6 passes them for `http+unix://` URLs: real
 * traefik behind the relayed public socket, the REST API on its own socket; and the start-up
 * errors of bad paths and files (one line, exit 1, nothing left behind).
 */
import assert from "node:assert/strict";
import { api, SHIM, startCli } from "./cli_helpers.ts";
import { freePort, streamedBody, waitFor } from "./helpers.ts";
import { maskedFrame, upgrade, writeAll } from "./ws_client.ts";

const UPLOAD_BYTES = 50 * 1024 * 1024;

async function accepts(path: string): Promise<boolean> {
  try {
    (await Deno.connect({ transport: "unix", path })).close();
    return true;
  } catch {
    return false;
  }
}

async function exists(path: string): Promise<boolean> {
  return await Deno.lstat(path).then(() => true, () => false);
}

/** The target: /upload answers the byte count, /ws echoes, anything else says hello. */
function serveTarget(): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    const url = new URL(request.url);
    if (url.pathname.endsWith("/upload")) {
      let count = 0;
      for await (const chunk of request.body!) count += chunk.byteLength;
      return new Response(String(count));
    }
    if (url.pathname.endsWith("/ws")) {
      const { socket, response } = Deno.upgradeWebSocket(request);
      socket.onmessage = (event) => socket.send(`echo: ${event.data}`);
      return response;
    }
    return new Response(`hello ${url.pathname}`);
  });
}

Deno.test("--socket/--api-socket: routes, a 50 MB upload and a websocket through the socket", async () => {
  const dir = await Deno.makeTempDir({ prefix: "jhtp-sock-" });
  const socket = `${dir}/proxy.sock`;
  const apiSocket = `${dir}/api.sock`;
  const target = serveTarget();
  const child = new Deno.Command(SHIM, {
    args: [
      "--socket",
      socket,
      "--api-socket",
      apiSocket,
      "--error-target",
      `http://127.0.0.1:${freePort()}/hub/error`,
      "--log-level",
      "info",
    ],
    env: { CONFIGPROXY_AUTH_TOKEN: "secret", TMPDIR: dir },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const publicClient = Deno.createHttpClient({ proxy: { transport: "unix", path: socket } });
  const apiClient = Deno.createHttpClient({ proxy: { transport: "unix", path: apiSocket } });
  try {
    await waitFor(async () => await accepts(socket) && await accepts(apiSocket), "the sockets");
    const added = await fetch("http://localhost/api/routes/user/s", {
      method: "POST",
      headers: { authorization: "token secret" },
      body: JSON.stringify({ target: `http://127.0.0.1:${target.addr.port}`, jupyterhub: true }),
      client: apiClient,
    });
    assert.equal(added.status, 201);
    await added.body?.cancel();
    const hello = await fetch("http://localhost/user/s/x", { client: publicClient });
    assert.equal(await hello.text(), "hello /user/s/x");

    const upload = await fetch("http://localhost/user/s/upload", {
      method: "POST",
      body: streamedBody(UPLOAD_BYTES),
      client: publicClient,
    });
    assert.equal(await upload.text(), String(UPLOAD_BYTES));

    const conn = await Deno.connect({ transport: "unix", path: socket });
    try {
      const reader = await upgrade(conn, "/user/s/ws");
      await writeAll(conn, maskedFrame(1, new TextEncoder().encode("through the socket")));
      const echo = await reader.frame();
      assert.equal(new TextDecoder().decode(echo.payload), "echo: through the socket");
    } finally {
      conn.close();
    }
  } finally {
    publicClient.close();
    apiClient.close();
    child.kill("SIGTERM");
    const status = await child.status;
    const log = await stderr;
    await target.shutdown();
    assert.equal(status.code, 0, log);
    assert.equal(await exists(socket), false, "the public socket is removed");
    assert.equal(await exists(apiSocket), false, "the API socket is removed");
    await Deno.remove(dir, { recursive: true });
  }
});

/** Runs the CLI to its end with its own TMPDIR; returns its exit code and stderr. */
async function failedStart(args: string[]): Promise<{ code: number; stderr: string }> {
  const tmp = await Deno.makeTempDir({ prefix: "jhtp-bad-" });
  try {
    const out = await new Deno.Command(SHIM, {
      // Free ports, so that only the case at hand can fail (--socket replaces --port).
      args: [
        ...args,
        ...(args.includes("--socket") ? [] : ["--port", String(freePort())]),
        "--api-port",
        String(freePort()),
      ],
      env: { CONFIGPROXY_AUTH_TOKEN: "secret", TMPDIR: tmp },
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).output();
    const left = [];
    for await (const entry of Deno.readDir(tmp)) left.push(entry.name);
    assert.deepEqual(left, [], "no work directory (and so no traefik) is left behind");
    return { code: out.code, stderr: new TextDecoder().decode(out.stderr).trim() };
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
}

Deno.test("bad paths and files: one line naming the flag and the path, exit 1", async () => {
  const dir = await Deno.makeTempDir({ prefix: "jhtp-bad-" });
  try {
    const cases: [string[], RegExp][] = [
      [["--socket", `${dir}/missing/p.sock`], /--socket: the directory of .*missing\/p\.sock/],
      [["--api-socket", `${dir}/missing/a.sock`], /--api-socket: the directory of /],
      [
        ["--ssl-key", `${dir}/none.key`, "--ssl-cert", `${dir}/none.crt`],
        /--ssl-cert .*none\.crt cannot be read/,
      ],
      [
        ["--client-ssl-key", `${dir}/none.key`, "--client-ssl-cert", `${dir}/none.crt`],
        /--client-ssl-cert .*none\.crt cannot be read/,
      ],
    ];
    await Deno.writeTextFile(`${dir}/not-pem.crt`, "hello");
    cases.push([["--client-ssl-ca", `${dir}/not-pem.crt`], /--client-ssl-ca .* is not a PEM file/]);
    for (const [args, message] of cases) {
      const { code, stderr } = await failedStart(args);
      assert.equal(code, 1, stderr);
      assert.match(stderr, message);
      assert.equal(stderr.split("\n").length, 1, stderr);
    }
    // A socket in use stays in use, and is not removed.
    const inUse = `${dir}/in-use.sock`;
    const listener = Deno.listen({ transport: "unix", path: inUse });
    try {
      const { code, stderr } = await failedStart(["--api-socket", inUse]);
      assert.equal(code, 1);
      assert.match(stderr, /--api-socket: .*in-use\.sock is in use/);
      assert.ok(await accepts(inUse));
    } finally {
      listener.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

for (const fallback of [true, false]) {
  Deno.test(
    `http+unix targets${fallback ? "" : " (--no-fallback)"}: served through a loopback relay; ` +
      "the table keeps the target as sent",
    async () => {
      const dir = await Deno.makeTempDir({ prefix: "jhtp-unix-target-" });
      const path = `${dir}/user a.sock`;
      const server = Deno.serve({ path, onListen() {} }, (request) => {
        const url = new URL(request.url);
        if (url.pathname.endsWith("/ws")) {
          const { socket, response } = Deno.upgradeWebSocket(request);
          socket.onmessage = (event) => socket.send(`echo: ${event.data}`);
          return response;
        }
        return new Response(`unix ${url.pathname}`);
      });
      const cli = await startCli(fallback ? [] : ["--no-fallback"]);
      try {
        const target = `http+unix://${encodeURIComponent(path)}`;
        const post = await api(cli, "POST", "/user/u", { target, jupyterhub: true });
        assert.equal(post.status, 201, await post.text());
        for (const delay of [0, 1500]) {
          await new Promise((resolve) => setTimeout(resolve, delay));
          const response = await fetch(`${cli.publicUrl}/user/u/x`);
          assert.equal(await response.text(), "unix /user/u/x");
        }
        const ws = new WebSocket(`ws://127.0.0.1:${cli.port}/user/u/ws`);
        const echo = await new Promise<string>((resolve, reject) => {
          ws.onopen = () => ws.send("over the socket");
          ws.onmessage = (event) => resolve(String(event.data));
          ws.onerror = () => reject(new Error("websocket failed"));
        });
        ws.close();
        assert.equal(echo, "echo: over the socket");
        const routes = await (await api(cli, "GET", "")).json();
        assert.equal(routes["/user/u"].target, target);
        const bad = await api(cli, "POST", "/user/v", { target: "http+unix://relative.sock" });
        assert.equal(bad.status, 400);
        assert.match(await bad.text(), /absolute socket path/);
      } finally {
        const code = await cli.stop();
        await server.shutdown();
        await Deno.remove(dir, { recursive: true });
        assert.equal(code, 0, cli.stderr());
      }
    },
  );
}
