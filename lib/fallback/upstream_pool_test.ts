import assert from "node:assert/strict";
import {
  RequestBodyError,
  UnreachableError,
  upstreamPool,
  type UpstreamResponse,
} from "./upstream_pool.ts";
import { BadResponseError } from "./_http1_head.ts";
import { makePki } from "../../tests/pki.ts";
import { silentServer } from "../../tests/helpers.ts";

const encoder = new TextEncoder();
/** One character per byte, as on the wire (windows-1252 keeps é as é). */
const bytesDecoder = new TextDecoder("latin1");

/**
 * What a raw backend does with one request head: pieces to write (a number waits that many ms,
 * null closes the connection), or "close" to close it without an answer.
 */
type Script = (head: string, connection: number) => (string | number | null)[] | "close";

interface RawBackend {
  port: number;
  /** Connections accepted so far. */
  readonly connections: number;
  /** Request heads (and bodies read with them) received, in order. */
  readonly requests: string[];
  /** Resolves when connection `n` (1-based) is closed by the other side. */
  closed(n: number): Promise<void>;
  close(): Promise<void>;
}

/** A TCP server that answers each request head with what `script` says, byte for byte. */
function rawBackend(script: Script): RawBackend {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const requests: string[] = [];
  const conns: Deno.Conn[] = [];
  const ends: Promise<void>[] = [];
  const running: Promise<void>[] = [];
  const serve = async (conn: Deno.Conn, n: number, ended: () => void) => {
    let text = "";
    const buf = new Uint8Array(65536);
    try {
      for (;;) {
        const got = await conn.read(buf);
        if (got === null) break;
        text += bytesDecoder.decode(buf.subarray(0, got));
        let at: number;
        while ((at = text.indexOf("\r\n\r\n")) >= 0) {
          const head = text.slice(0, at);
          const length = /content-length: (\d+)/i.exec(head);
          let end = at + 4 + (length ? Number(length[1]) : 0);
          if (/x-early: 1/.test(head)) {
            end = at + 4; // answered as soon as its head is in
          } else if (/transfer-encoding: chunked/i.test(head)) {
            const last = text.indexOf("\r\n0\r\n\r\n", at);
            if (last < 0 && !text.slice(at + 4).startsWith("0\r\n\r\n")) break;
            end = last < 0 ? at + 9 : last + 7;
          }
          if (text.length < end) break;
          requests.push(text.slice(0, end));
          text = text.slice(end);
          const answer = script(head, n);
          if (answer === "close") {
            conn.close();
            return;
          }
          for (const piece of answer) {
            if (piece === null) {
              conn.close();
              return;
            }
            if (typeof piece === "number") await new Promise((r) => setTimeout(r, piece));
            else await conn.write(encoder.encode(piece));
          }
        }
      }
    } catch {
      /* closed */
    } finally {
      ended();
      try {
        conn.close();
      } catch { /* closed */ }
    }
  };
  const accepting = (async () => {
    for await (const conn of listener) {
      conns.push(conn);
      let ended!: () => void;
      ends.push(new Promise((r) => ended = r));
      running.push(serve(conn, conns.length, ended));
    }
  })();
  return {
    port: listener.addr.port,
    get connections() {
      return conns.length;
    },
    requests,
    closed: (n) => ends[n - 1],
    async close() {
      try {
        listener.close();
      } catch { /* closed */ }
      await accepting.catch(() => {});
      for (const conn of conns) {
        try {
          conn.close();
        } catch { /* closed */ }
      }
      await Promise.all(running);
    },
  };
}

const ok = (body: string, extra = "") =>
  `HTTP/1.1 200 OK\r\ncontent-length: ${encoder.encode(body).length}\r\n${extra}\r\n${body}`;

function get(port: number, path = "/", method = "GET") {
  return {
    hostname: "127.0.0.1",
    port,
    method,
    head: `${method} ${path} HTTP/1.1\r\nhost: hub.example\r\n\r\n`,
    body: null,
  };
}

async function text(response: UpstreamResponse): Promise<string> {
  return await new Response(response.body).text();
}

async function withPool(
  script: Script,
  test: (backend: RawBackend, pool: ReturnType<typeof upstreamPool>) => Promise<void>,
  options: Parameters<typeof upstreamPool>[0] = {},
): Promise<void> {
  const backend = rawBackend(script);
  const pool = upstreamPool(options);
  try {
    await test(backend, pool);
  } finally {
    pool.close();
    await backend.close();
  }
}

Deno.test("upstreamPool sends requests one after another on one kept connection", async () => {
  await withPool((head) => [ok(head.split(" ")[1])], async (backend, pool) => {
    assert.equal(await text(await pool.send(get(backend.port, "/a"))), "/a");
    assert.equal(pool.idle, 1);
    assert.equal(await text(await pool.send(get(backend.port, "/b"))), "/b");
    assert.equal(backend.connections, 1);
    // two at once need two connections, both kept
    const both = await Promise.all([
      pool.send(get(backend.port, "/c")),
      pool.send(get(backend.port, "/d")),
    ]);
    assert.deepEqual(await Promise.all(both.map(text)), ["/c", "/d"]);
    assert.equal(backend.connections, 2);
    assert.equal(pool.idle, 2);
  });
});

Deno.test("upstreamPool keeps no connection with maxIdle 0, and closes idle ones after idleMs", async () => {
  await withPool((head) => [ok(head.split(" ")[1])], async (backend, pool) => {
    await text(await pool.send(get(backend.port)));
    assert.equal(pool.idle, 0);
    await backend.closed(1);
  }, { maxIdle: 0 });
  await withPool((head) => [ok(head.split(" ")[1])], async (backend, pool) => {
    await text(await pool.send(get(backend.port)));
    assert.equal(pool.idle, 1);
    await backend.closed(1);
    assert.equal(pool.idle, 0);
  }, { idleMs: 50 });
});

Deno.test("upstreamPool drops a connection the target closes while idle, and resends on a stale one", async () => {
  // The target closes each connection after its first answer: out of the pool at once.
  await withPool((_head, n) => [ok(`on ${n}`), 20, null], async (backend, pool) => {
    assert.equal(await text(await pool.send(get(backend.port))), "on 1");
    assert.equal(pool.idle, 1);
    await backend.closed(1);
    for (let i = 0; i < 50 && pool.idle > 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(pool.idle, 0);
    assert.equal(await text(await pool.send(get(backend.port))), "on 2");
  });
  // A connection closed at the moment it is reused: the request goes again on a new one.
  let answered = 0;
  await withPool(
    (_head, n) => n === 1 && answered++ > 0 ? "close" : [ok(`on ${n}`)],
    async (backend, pool) => {
      assert.equal(await text(await pool.send(get(backend.port))), "on 1");
      assert.equal(await text(await pool.send(get(backend.port))), "on 2");
      assert.equal(backend.connections, 2);
    },
  );
});

Deno.test("upstreamPool decodes chunked bodies split anywhere, with extensions and trailers", async () => {
  const pieces = [
    "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-type: text/plain\r\n\r\n",
    "5;ext=1\r\nhel",
    5,
    "lo\r\n",
    "7\r\n, world\r\n",
    5,
    "0\r\nx-checksum: 1\r\n",
    "\r\n",
  ];
  await withPool(() => pieces, async (backend, pool) => {
    const response = await pool.send(get(backend.port));
    assert.deepEqual(response.headers, [["content-type", "text/plain"]]);
    assert.equal(await text(response), "hello, world");
    assert.equal(pool.idle, 1);
    // the connection is reusable after the trailers
    assert.equal(await text(await pool.send(get(backend.port))), "hello, world");
    assert.equal(backend.connections, 1);
  });
});

Deno.test("upstreamPool streams bodies over 64 KiB and bodies delimited by the close", async () => {
  const big = "x".repeat(200_000);
  await withPool(
    (head) =>
      head.includes("/close")
        ? ["HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nuntil ", 5, "the end", null]
        : head.includes("/mid")
        ? [ok(big.slice(0, 60_000).replace(/x$/, "y"))]
        : [ok(big)],
    async (backend, pool) => {
      const mid = await pool.send(get(backend.port, "/mid")); // read whole
      assert.ok(mid.body instanceof Uint8Array);
      assert.equal(await text(mid), big.slice(0, 59_999) + "y");
      const response = await pool.send(get(backend.port, "/big"));
      assert.ok(response.body instanceof ReadableStream);
      assert.equal((await text(response)).length, big.length);
      assert.equal(pool.idle, 1);
      const closing = await pool.send(get(backend.port, "/close")); // on the same connection
      assert.equal(await text(closing), "until the end");
      assert.equal(pool.idle, 0);
      assert.equal(backend.connections, 1);
    },
  );
});

Deno.test("upstreamPool skips 1xx heads and reads no body after HEAD, 204 and 304", async () => {
  await withPool((head) => {
    if (head.startsWith("HEAD")) return ["HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n"];
    if (head.includes("/204")) return ["HTTP/1.1 204 No Content\r\n\r\n"];
    if (head.includes("/304")) return ["HTTP/1.1 304 Not Modified\r\ncontent-length: 9\r\n\r\n"];
    return [
      "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\n",
      ok("final"),
    ];
  }, async (backend, pool) => {
    assert.equal(await text(await pool.send(get(backend.port))), "final");
    const head = await pool.send(get(backend.port, "/", "HEAD"));
    assert.equal(head.body, null);
    assert.deepEqual(head.headers, [["content-length", "1000"]]);
    assert.equal((await pool.send(get(backend.port, "/204"))).status, 204);
    assert.equal((await pool.send(get(backend.port, "/304"))).body, null);
    assert.equal(await text(await pool.send(get(backend.port))), "final");
    assert.equal(backend.connections, 1);
  });
});

Deno.test("upstreamPool refuses response heads it cannot trust", async () => {
  const bad: Record<string, string> = {
    "/version": "HTTP/2.0 200 OK\r\n\r\n",
    "/field": "HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
    "/fold": "HTTP/1.1 200 OK\r\nx-a: 1\r\n  folded\r\n\r\n",
    "/lengths": "HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\nab",
    "/coding": "HTTP/1.1 200 OK\r\ntransfer-encoding: gzip\r\n\r\n",
    "/switch": "HTTP/1.1 101 Switching Protocols\r\n\r\n",
    "/huge": `HTTP/1.1 200 OK\r\nx-big: ${"a".repeat(70_000)}\r\n\r\n`,
  };
  await withPool((head) => [bad[head.split(" ")[1]]], async (backend, pool) => {
    for (const path of Object.keys(bad)) {
      await assert.rejects(pool.send(get(backend.port, path)), BadResponseError, path);
    }
    assert.equal(pool.idle, 0);
  });
});

Deno.test("upstreamPool: nothing listening, or a close before the head, is UnreachableError", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  await assert.rejects(pool0().send(get(port)), UnreachableError);
  await withPool(() => "close", async (backend, pool) => {
    await assert.rejects(pool.send(get(backend.port)), /closed before the response/);
  });
  // part of a head, then the close: something came back, so not "unreachable"
  await withPool(() => ["HTTP/1.1 200 OK\r\ncontent-le", null], async (backend, pool) => {
    await assert.rejects(pool.send(get(backend.port)), BadResponseError);
  });
  await withPool(
    () => ["HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc", null],
    async (backend, pool) => {
      await assert.rejects(pool.send(get(backend.port)), /closed in the response body/);
    },
  );
});

function pool0() {
  return upstreamPool({ maxIdle: 0 });
}

Deno.test("upstreamPool streams a request body chunked or with its length", async () => {
  await withPool((head) => [ok(head.split(" ")[1])], async (backend, pool) => {
    const body = (parts: string[]) =>
      new ReadableStream<Uint8Array>({
        start(controller) {
          for (const part of parts) controller.enqueue(encoder.encode(part));
          controller.close();
        },
      });
    await pool.send({
      ...get(backend.port, "/chunked", "POST"),
      head: "POST /chunked HTTP/1.1\r\nhost: h\r\ntransfer-encoding: chunked\r\n\r\n",
      body: body(["abc", "", "defgh"]),
    }).then(text);
    await pool.send({
      ...get(backend.port, "/length", "PUT"),
      head: "PUT /length HTTP/1.1\r\nhost: h\r\ncontent-length: 6\r\n\r\n",
      body: body(["abc", "def"]),
      length: 6,
    }).then(text);
    assert.deepEqual(backend.requests.map((r) => r.slice(r.indexOf("\r\n\r\n") + 4)), [
      "3\r\nabc\r\n5\r\ndefgh\r\n0\r\n\r\n",
      "abcdef",
    ]);
    assert.equal(backend.connections, 1);
  });
});

Deno.test("upstreamPool closes a connection whose upload the target answered before reading", async () => {
  await withPool(
    () => ["HTTP/1.1 413 Payload Too Large\r\ncontent-length: 0\r\n\r\n"],
    async (backend, pool) => {
      let cancelled = false;
      const response = await pool.send({
        ...get(backend.port, "/upload", "POST"),
        head:
          "POST /upload HTTP/1.1\r\nhost: h\r\nx-early: 1\r\ntransfer-encoding: chunked\r\n\r\n",
        body: new ReadableStream<Uint8Array>({
          pull: () => new Promise(() => {}), // a client still uploading
          cancel() {
            cancelled = true;
          },
        }),
      });
      assert.equal(response.status, 413);
      assert.equal(pool.idle, 0);
      await backend.closed(1);
      for (let i = 0; i < 50 && !cancelled; i++) await new Promise((r) => setTimeout(r, 10));
      assert.ok(cancelled);
    },
  );
});

Deno.test("upstreamPool closes the connection when the exchange is aborted or its body cancelled", async () => {
  await withPool(
    (head) => head.includes("/slow") ? [300, ok("late")] : [ok("x".repeat(100_000))],
    async (backend, pool) => {
      const abort = new AbortController();
      const sent = pool.send({ ...get(backend.port, "/slow"), signal: abort.signal });
      setTimeout(() => abort.abort(), 20);
      await assert.rejects(sent, UnreachableError);
      await backend.closed(1);
      const big = await pool.send(get(backend.port, "/big"));
      await (big.body as ReadableStream).cancel();
      await backend.closed(2);
      assert.equal(pool.idle, 0);
    },
  );
});

Deno.test("upstreamPool does not keep a connection an HTTP/1.0 target or `Connection: close` ends", async () => {
  await withPool(
    (head) =>
      head.includes("/old")
        ? ["HTTP/1.0 200 OK\r\ncontent-length: 2\r\n\r\nok"]
        : [ok("ok", "connection: close\r\n")],
    async (backend, pool) => {
      assert.equal(await text(await pool.send(get(backend.port, "/old"))), "ok");
      assert.equal(pool.idle, 0);
      assert.equal(await text(await pool.send(get(backend.port, "/new"))), "ok");
      assert.equal(pool.idle, 0);
      assert.equal(backend.connections, 2);
    },
  );
});

Deno.test("upstreamPool resends only idempotent requests without a body, always on a new connection", async () => {
  // The target closes its first connection on the second request, without an answer.
  let answered = 0;
  const script: Script = (_head, n) => n === 1 && answered++ > 0 ? "close" : [ok(`on ${n}`)];
  await withPool(script, async (backend, pool) => {
    await pool.send(get(backend.port)).then(text);
    await assert.rejects(pool.send(get(backend.port, "/", "POST")), /closed before the response/);
    assert.equal(backend.connections, 1);
  });
  // A 408 on a reused connection: the target timed it out; the GET goes again.
  await withPool(
    (_head, n) =>
      n === 1 && answered++ > 0
        ? ["HTTP/1.1 408 Request Timeout\r\nconnection: close\r\ncontent-length: 0\r\n\r\n", null]
        : [ok(`on ${n}`)],
    async (backend, pool) => {
      answered = 0;
      await pool.send(get(backend.port)).then(text);
      assert.equal(await text(await pool.send(get(backend.port))), "on 2");
      // not on a fresh connection: the 408 is the answer
    },
  );
});

Deno.test("upstreamPool sends header octets as single bytes, and ends a body that is not its length", async () => {
  await withPool((head) => [ok(head.split(" ")[1])], async (backend, pool) => {
    await pool.send({
      ...get(backend.port),
      head: "GET /o HTTP/1.1\r\nhost: h\r\nx-name: caf\u00e9\r\n\r\n",
    }).then(text);
    assert.match(backend.requests[0], /x-name: caf\u00e9\r\n/); // 0xE9, not UTF-8's C3 A9
    const short = pool.send({
      ...get(backend.port, "/short", "POST"),
      head: "POST /short HTTP/1.1\r\nhost: h\r\ncontent-length: 10\r\n\r\n",
      body: new Blob(["abc"]).stream(),
      length: 10,
    });
    await assert.rejects(short, UnreachableError);
    assert.equal(backend.requests.length, 1); // the target never had a whole request
  });
});

Deno.test("upstreamPool refuses an aborted exchange before connecting", async () => {
  await withPool(() => [ok("x")], async (backend, pool) => {
    const signal = AbortSignal.abort();
    await assert.rejects(pool.send({ ...get(backend.port), signal }), /aborted/);
    assert.equal(backend.connections, 0);
  });
});

Deno.test("upstreamPool speaks TLS to https targets, verified with the CAs given", async () => {
  const pki = await makePki();
  const read = (path: string) => Deno.readTextFileSync(path);
  const ports = new Set<number>();
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    cert: read(pki.server.cert),
    key: read(pki.server.key),
    onListen() {},
  }, async (request, info) => {
    ports.add(info.remoteAddr.port);
    return new Response(`${request.method} ${(await request.text()).length}`);
  });
  const pool = upstreamPool();
  try {
    const tls = { caCerts: [read(pki.ca)] };
    const target = { ...get(server.addr.port), tls };
    assert.equal(await text(await pool.send(target)), "GET 0");
    const post = (size: number) =>
      pool.send({
        ...target,
        method: "POST",
        head: `POST / HTTP/1.1\r\nhost: h\r\ncontent-length: ${size}\r\n\r\n`,
        body: new Blob(["x".repeat(size)]).stream(),
        length: size,
      }).then(text);
    assert.equal(await post(10), "POST 10"); // with the head in one write
    assert.equal(await post(200_000), "POST 200000"); // streamed after it
    assert.equal(ports.size, 1);
    // equal material in another object: the same connection
    assert.equal(
      await text(await pool.send({ ...target, tls: { caCerts: [read(pki.ca)] } })),
      "GET 0",
    );
    assert.equal(ports.size, 1);
    // a small body that is not its length: refused before anything is sent
    await assert.rejects(
      pool.send({
        ...target,
        method: "POST",
        head: "POST / HTTP/1.1\r\nhost: h\r\ncontent-length: 10\r\n\r\n",
        body: new Blob(["abc"]).stream(),
        length: 10,
      }),
      RequestBodyError,
    );
    assert.equal(pool.idle, 1);
    // another CA: the certificate is refused, nothing of a response came back
    const other = { ...get(server.addr.port), tls: { caCerts: [read(pki.otherCa)] } };
    await assert.rejects(pool.send(other), UnreachableError);
  } finally {
    pool.close();
    await server.shutdown();
    await pki.remove();
  }
});

Deno.test("upstreamPool gives up a TLS handshake when the exchange is aborted", async () => {
  const peer = silentServer();
  const pool = upstreamPool();
  try {
    const abort = new AbortController();
    setTimeout(() => abort.abort(), 50);
    const started = Date.now();
    await assert.rejects(
      pool.send({ ...get(peer.port), tls: {}, signal: abort.signal }),
      UnreachableError,
    );
    assert.ok(Date.now() - started < 5_000);
    // (Deno keeps the socket of a handshake it cancelled open until the target closes it.)
  } finally {
    pool.close();
    await peer.close();
  }
});
