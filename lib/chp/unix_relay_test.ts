import assert from "node:assert/strict";
import { ConfigError } from "../core/errors.ts";
import { checkSocketPath, type UnixRelay, unixRelay } from "./unix_relay.ts";
import { maskedFrame, Reader, upgrade, writeAll } from "../../tests/ws_client.ts";
import { streamedBody } from "../../tests/helpers.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const UPLOAD_BYTES = 50 * 1024 * 1024;

/** The HTTP target: /hello, /upload (answers the byte count) and /ws (a websocket echo). */
function serveTarget(): Deno.HttpServer<Deno.NetAddr> {
  let hellos = 0;
  return Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    const url = new URL(request.url);
    if (url.pathname === "/upload") {
      let count = 0;
      for await (const chunk of request.body!) count += chunk.byteLength;
      return new Response(String(count));
    }
    if (url.pathname === "/ws") {
      const { socket, response } = Deno.upgradeWebSocket(request);
      socket.onopen = () => socket.send("hello from the server");
      socket.onmessage = (event) => socket.send(`echo: ${event.data}`);
      return response;
    }
    hellos += 1;
    return new Response(`hello ${hellos}`);
  });
}

/** Runs `fn` with a temp dir, the HTTP target and a relay to it; stops them all afterwards. */
async function withRelay(
  fn: (relay: UnixRelay, server: Deno.HttpServer<Deno.NetAddr>) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir();
  const server = serveTarget();
  try {
    const relay = await unixRelay({
      path: `${dir}/proxy.sock`,
      target: { hostname: "127.0.0.1", port: server.addr.port },
    });
    try {
      await fn(relay, server);
    } finally {
      await relay.close();
    }
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
}

async function readToEnd(conn: Deno.Conn): Promise<string> {
  let text = "";
  const chunk = new Uint8Array(64 * 1024);
  for (let n; (n = await conn.read(chunk)) !== null;) {
    text += decoder.decode(chunk.subarray(0, n));
  }
  return text;
}

function rejectsWithConfigError(pattern: RegExp): (error: unknown) => boolean {
  return (error) => {
    assert.ok(error instanceof ConfigError, String(error));
    assert.match(error.message, pattern);
    assert.doesNotMatch(error.message, /\n/);
    return true;
  };
}

Deno.test("unixRelay relays a plain GET made with fetch over the socket", async () => {
  await withRelay(async (relay) => {
    const client = Deno.createHttpClient({ proxy: { transport: "unix", path: relay.path } });
    try {
      const response = await fetch("http://localhost/hello", { client });
      assert.equal(response.status, 200);
      assert.equal(await response.text(), "hello 1");
    } finally {
      client.close();
    }
  });
});

Deno.test("unixRelay keeps a connection alive for two requests", async () => {
  await withRelay(async (relay) => {
    const conn = await Deno.connect({ transport: "unix", path: relay.path });
    try {
      const reader = new Reader(conn);
      const request = encoder.encode("GET /hello HTTP/1.1\r\nHost: localhost\r\n\r\n");
      await writeAll(conn, request);
      const first = await reader.response();
      await writeAll(conn, request);
      const second = await reader.response();
      assert.deepEqual([first.status, first.body, second.status, second.body], [
        200,
        "hello 1",
        200,
        "hello 2",
      ]);
      assert.equal(relay.connections, 1);
    } finally {
      conn.close();
    }
  });
});

Deno.test("unixRelay passes a streamed 50 MB upload whole", async () => {
  await withRelay(async (relay) => {
    const client = Deno.createHttpClient({ proxy: { transport: "unix", path: relay.path } });
    try {
      const response = await fetch("http://localhost/upload", {
        method: "POST",
        body: streamedBody(UPLOAD_BYTES),
        client,
      });
      assert.equal(await response.text(), String(UPLOAD_BYTES));
    } finally {
      client.close();
    }
  });
});

Deno.test("unixRelay carries a websocket upgrade and text frames both ways", async () => {
  await withRelay(async (relay) => {
    const conn = await Deno.connect({ transport: "unix", path: relay.path });
    try {
      // The handshake, its 101 and its accept key checked.
      const reader = await upgrade(conn, "/ws");

      const greeting = await reader.frame();
      assert.deepEqual([greeting.opcode, decoder.decode(greeting.payload)], [
        1,
        "hello from the server",
      ]);
      await writeAll(conn, maskedFrame(1, encoder.encode("hi from the client")));
      const echo = await reader.frame();
      assert.deepEqual([echo.opcode, decoder.decode(echo.payload)], [
        1,
        "echo: hi from the client",
      ]);

      await writeAll(conn, maskedFrame(8, new Uint8Array([0x03, 0xe8])));
      const close = await reader.frame();
      assert.equal(close.opcode, 8);
    } finally {
      conn.close();
    }
  });
});

Deno.test("unixRelay half-closes: the target sees the end and still answers", async () => {
  const dir = await Deno.makeTempDir();
  const target = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const served = (async () => {
    const conn = await target.accept();
    try {
      const got = await readToEnd(conn);
      await writeAll(conn, encoder.encode(`got ${got.length} bytes`));
    } finally {
      conn.close();
    }
  })();
  const relay = await unixRelay({
    path: `${dir}/proxy.sock`,
    target: { hostname: "127.0.0.1", port: target.addr.port },
    mode: 0o600,
  });
  try {
    assert.equal((await Deno.lstat(relay.path)).mode! & 0o777, 0o600);
    const conn = await Deno.connect({ transport: "unix", path: relay.path });
    try {
      await writeAll(conn, encoder.encode("x".repeat(100_000)));
      await conn.closeWrite();
      assert.equal(await readToEnd(conn), "got 100000 bytes");
    } finally {
      conn.close();
    }
    await served;
  } finally {
    await relay.close();
    target.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("unixRelay closes the client when the target cannot be reached", async () => {
  const dir = await Deno.makeTempDir();
  const free = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = free.addr.port;
  free.close();
  const relay = await unixRelay({
    path: `${dir}/proxy.sock`,
    target: { hostname: "127.0.0.1", port },
  });
  try {
    const conn = await Deno.connect({ transport: "unix", path: relay.path });
    try {
      await writeAll(conn, encoder.encode("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"));
      // Closed with the request unread, so the end may come as a reset rather than EOF.
      await readToEnd(conn).then(
        (text) => assert.equal(text, ""),
        (error) => assert.ok(error instanceof Deno.errors.ConnectionReset, String(error)),
      );
    } finally {
      conn.close();
    }
  } finally {
    await relay.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("checkSocketPath rejects a missing directory, a non-socket and a socket in use", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await assert.rejects(
      checkSocketPath(`${dir}/missing/proxy.sock`, "--socket"),
      rejectsWithConfigError(
        /^--socket: the directory of .*\/missing\/proxy\.sock does not exist; create .*\/missing /,
      ),
    );

    const file = `${dir}/file`;
    await Deno.writeTextFile(file, "keep me");
    await assert.rejects(
      checkSocketPath(file, "--api-socket"),
      rejectsWithConfigError(/^--api-socket: .*\/file exists and is not a socket; move it away/),
    );
    await assert.rejects(
      unixRelay({ path: file, target: { hostname: "127.0.0.1", port: 1 } }),
      rejectsWithConfigError(/^--socket: .*\/file exists and is not a socket/),
    );
    assert.equal(await Deno.readTextFile(file), "keep me");
    await assert.rejects(
      checkSocketPath(`${file}/proxy.sock`, "--socket"),
      rejectsWithConfigError(/^--socket: .*\/file, the directory of .*, is not a directory/),
    );

    await assert.rejects(
      checkSocketPath(dir, "--socket"),
      rejectsWithConfigError(/exists and is not a socket/),
    );
    assert.ok((await Deno.stat(dir)).isDirectory);

    const path = `${dir}/proxy.sock`;
    const relay = await unixRelay({ path, target: { hostname: "127.0.0.1", port: 1 } });
    try {
      await assert.rejects(
        checkSocketPath(path, "--api-socket"),
        rejectsWithConfigError(/^--api-socket: .*\/proxy\.sock is in use by another process; stop/),
      );
      await assert.rejects(
        unixRelay({ path, target: { hostname: "127.0.0.1", port: 1 }, flag: "--api-socket" }),
        rejectsWithConfigError(/^--api-socket: .*\/proxy\.sock is in use/),
      );
      assert.ok((await Deno.lstat(path)).isSocket);
    } finally {
      await relay.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("checkSocketPath removes a stale socket file and unixRelay listens there", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/proxy.sock`;
  try {
    await leaveStaleSocket(path);
    assert.ok((await Deno.lstat(path)).isSocket);
    await checkSocketPath(path, "--socket");
    await assert.rejects(Deno.lstat(path), Deno.errors.NotFound);

    await leaveStaleSocket(path);
    const relay = await unixRelay({ path, target: { hostname: "127.0.0.1", port: 1 } });
    await relay.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/**
 * Leaves a socket file nobody listens on, as a killed process does. (Deno removes the file when
 * a unix listener is closed, so closing one in this process leaves nothing behind.)
 */
async function leaveStaleSocket(path: string): Promise<void> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `Deno.listen({ transport: "unix", path: ${JSON.stringify(path)} }); console.log("ready");` +
      "setInterval(() => {}, 1000);",
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  try {
    assert.equal((await lines.read()).value?.trim(), "ready");
    child.kill("SIGKILL");
  } finally {
    await lines.cancel();
    await child.status;
  }
}

Deno.test("close removes the socket file, ends open connections and is idempotent", async () => {
  await withRelay(async (relay) => {
    const conn = await Deno.connect({ transport: "unix", path: relay.path });
    try {
      const reader = new Reader(conn);
      await writeAll(conn, encoder.encode("GET /hello HTTP/1.1\r\nHost: localhost\r\n\r\n"));
      assert.equal((await reader.response()).body, "hello 1");
      assert.equal(relay.connections, 1);

      await Promise.all([relay.close(), relay.close()]);
      assert.equal(relay.connections, 0);
      assert.equal(await readToEnd(conn), "");
    } finally {
      conn.close();
    }
    await assert.rejects(Deno.lstat(relay.path), Deno.errors.NotFound);
    await assert.rejects(Deno.connect({ transport: "unix", path: relay.path }));
    await relay.close();
  });
});
