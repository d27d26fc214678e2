import { frameDecoder } from "./_ws_frames.ts";
import { joinBytes } from "../core/bytes.ts";
import assert from "node:assert/strict";
import { TargetError } from "../core/errors.ts";
import { forward, type ForwardOptions } from "./forward.ts";
import { upstreamPool } from "./upstream_pool.ts";

type Handler = (request: Request) => Response | Promise<Response>;

interface Proxied {
  /** Port of the front server, whose handler calls `forward`. */
  front: number;
  /** Port of the backend. */
  backend: number;
}

const LISTEN = { hostname: "127.0.0.1", port: 0, onListen() {} } as const;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Runs `test` with a backend and a front server forwarding every request to it. */
async function withProxy(
  backend: Handler,
  test: (ports: Proxied) => Promise<void>,
  options: { targetPath?: string; forward?: ForwardOptions } = {},
): Promise<void> {
  const back = Deno.serve(LISTEN, backend);
  const target = `http://127.0.0.1:${back.addr.port}${options.targetPath ?? ""}`;
  const front = Deno.serve(
    { ...LISTEN, automaticCompression: false },
    (request) => forward(request, target, options.forward),
  );
  try {
    await test({ front: front.addr.port, backend: back.addr.port });
  } finally {
    await front.shutdown();
    await back.shutdown();
  }
}

/** A free loopback port: nothing listens on it. */
function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  return port;
}

interface RawResponse {
  status: number;
  /** Header fields as received, names lower-cased, in order, repeated names repeated. */
  fields: [string, string][];
  body: Uint8Array;
}

function indexOfBlankLine(bytes: Uint8Array): number {
  for (let i = 0; i + 3 < bytes.length; i++) {
    if (bytes[i] === 13 && bytes[i + 1] === 10 && bytes[i + 2] === 13 && bytes[i + 3] === 10) {
      return i;
    }
  }
  return -1;
}

function parseFields(lines: string[]): [string, string][] {
  return lines.map((line) => {
    const colon = line.indexOf(":");
    return [line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()];
  });
}

/**
 * Sends `head` (and `body`) as written on one connection and reads the whole response, so the
 * test sees the bytes on the wire, not what `fetch` makes of them.
 */
async function rawRequest(port: number, head: string, body?: Uint8Array): Promise<RawResponse> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(encoder.encode(head.replaceAll("\n", "\r\n") + "\r\n"));
    if (body !== undefined) await conn.write(body);
    const chunks: Uint8Array[] = [];
    const buffer = new Uint8Array(65536);
    while (true) {
      const n = await conn.read(buffer);
      if (n === null) break;
      chunks.push(buffer.slice(0, n));
    }
    const all = joinBytes(chunks);
    const end = indexOfBlankLine(all);
    const lines = decoder.decode(all.subarray(0, end)).split("\r\n");
    return {
      status: Number(lines[0].split(" ")[1]),
      fields: parseFields(lines.slice(1)),
      body: all.slice(end + 4),
    };
  } finally {
    conn.close();
  }
}

function values(response: RawResponse, name: string): string[] {
  return response.fields.filter(([field]) => field === name).map(([, value]) => value);
}

/**
 * A backend speaking raw HTTP/1.1: reads one request head per connection, hands it to
 * `respond` with the connection, then closes the connection.
 */
async function withRawBackend(
  respond: (conn: Deno.Conn, head: string) => Promise<void>,
  test: (port: number) => Promise<void>,
): Promise<void> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const served: Promise<void>[] = [];
  const accepting = (async () => {
    for await (const conn of listener) {
      served.push((async () => {
        try {
          const buffer = new Uint8Array(65536);
          const chunks: Uint8Array[] = [];
          while (indexOfBlankLine(joinBytes(chunks)) < 0) {
            const n = await conn.read(buffer);
            if (n === null) return;
            chunks.push(buffer.slice(0, n));
          }
          const all = joinBytes(chunks);
          await respond(conn, decoder.decode(all.subarray(0, indexOfBlankLine(all))));
        } catch {
          // the proxy went away first
        } finally {
          try {
            conn.close();
          } catch {
            // closed already
          }
        }
      })());
    }
  })();
  try {
    await test(listener.addr.port);
  } finally {
    listener.close();
    await accepting.catch(() => {});
    await Promise.all(served);
  }
}

Deno.test("forward keeps the raw path and query and prepends the target's path", async () => {
  let seen = "";
  const backend = (request: Request) => {
    seen = request.url.slice(request.url.indexOf("/", "http://".length));
    return new Response("ok");
  };
  const cases: [string, string, string][] = [
    // target path, request target, upstream request target
    ["", "/user/a%24b/api?x=1", "/user/a%24b/api?x=1"],
    ["", "/user/a%2Fb%2fc/?q=a+b&r=%2F&s=%7e~", "/user/a%2Fb%2fc/?q=a+b&r=%2F&s=%7e~"],
    ["", "/user/caf%C3%A9/%40home", "/user/caf%C3%A9/%40home"],
    ["", "/", "/"],
    ["", "/user/a\\b?x=\\", "/user/a%5Cb?x=\\"],
    ["/prefix", "/user/a%24b/api?x=1", "/prefix/user/a%24b/api?x=1"],
    ["/prefix/", "/user/a/", "/prefix/user/a/"],
  ];
  for (const [targetPath, path, expected] of cases) {
    await withProxy(backend, async ({ front }) => {
      const response = await rawRequest(
        front,
        `GET ${path} HTTP/1.1\nHost: hub.example\nConnection: close\n`,
      );
      assert.equal(response.status, 200, path);
      assert.equal(seen, expected, `${targetPath} + ${path}`);
    }, { targetPath });
  }
});

Deno.test("forward passes Host, X-Forwarded-* and end-to-end headers and drops hop-by-hop ones", async () => {
  let seen: Record<string, string> = {};
  await withProxy((request) => {
    seen = Object.fromEntries(request.headers);
    return new Response("ok");
  }, async ({ front }) => {
    const response = await rawRequest(
      front,
      [
        "GET /user/a/api HTTP/1.1",
        "Host: hub.example",
        "User-Agent: test-agent",
        "Accept: application/json",
        "Accept-Language: fr",
        "Accept-Encoding: gzip, br",
        "Cookie: jupyterhub-session-id=abc; _xsrf=x",
        "Authorization: token secret",
        "X-Forwarded-For: 10.0.0.7",
        "X-Forwarded-Host: hub.example",
        "X-Forwarded-Port: 443",
        "X-Forwarded-Proto: https",
        "X-Forwarded-Server: traefik-1",
        "X-Real-Ip: 10.0.0.7",
        "X-Custom: kept",
        "Connection: close, X-Named-By-Connection",
        "X-Named-By-Connection: dropped",
        "Keep-Alive: timeout=5",
        "Proxy-Connection: keep-alive",
        "TE: trailers",
        "Trailer: x-checksum",
        "",
      ].join("\n"),
    );
    assert.equal(response.status, 200);
  });
  assert.deepEqual(seen, {
    host: "hub.example",
    "user-agent": "test-agent",
    accept: "application/json",
    "accept-language": "fr",
    "accept-encoding": "gzip, br",
    cookie: "jupyterhub-session-id=abc; _xsrf=x",
    authorization: "token secret",
    "x-forwarded-for": "10.0.0.7",
    "x-forwarded-host": "hub.example",
    "x-forwarded-port": "443",
    "x-forwarded-proto": "https",
    "x-forwarded-server": "traefik-1",
    "x-real-ip": "10.0.0.7",
    "x-custom": "kept",
  });
});

Deno.test("forward drops hop-by-hop response headers and keeps Set-Cookie headers apart", async () => {
  await withRawBackend(async (conn) => {
    await conn.write(encoder.encode(
      [
        "HTTP/1.1 200 OK",
        "Content-Type: text/plain",
        "Content-Length: 2",
        "Set-Cookie: a=1; Path=/",
        "Set-Cookie: b=2; HttpOnly",
        "Connection: keep-alive, X-Hop",
        "X-Hop: dropped",
        "Keep-Alive: timeout=5",
        "Proxy-Connection: keep-alive",
        "X-Kept: yes",
        "",
        "ok",
      ].join("\r\n"),
    ));
  }, async (port) => {
    const front = Deno.serve(LISTEN, (request) => forward(request, `http://127.0.0.1:${port}`));
    try {
      const response = await rawRequest(
        front.addr.port,
        "GET / HTTP/1.1\nHost: hub.example\nConnection: close\n",
      );
      assert.equal(response.status, 200);
      assert.deepEqual(values(response, "set-cookie"), ["a=1; Path=/", "b=2; HttpOnly"]);
      assert.deepEqual(values(response, "x-kept"), ["yes"]);
      assert.deepEqual(values(response, "x-hop"), []);
      assert.deepEqual(values(response, "keep-alive"), []);
      assert.deepEqual(values(response, "proxy-connection"), []);
      // the only Connection field is the front server's own, for this request's `close`
      assert.deepEqual(values(response, "connection"), ["close"]);
      assert.equal(decoder.decode(response.body), "ok");
    } finally {
      await front.shutdown();
    }
  });
});

Deno.test("forward keeps an upload's Content-Length, and chunked uploads stay chunked", async () => {
  let seen: { length: string | null; chunked: string | null; body: string } | undefined;
  await withProxy(async (request) => {
    seen = {
      length: request.headers.get("content-length"),
      chunked: request.headers.get("transfer-encoding"),
      body: await request.text(),
    };
    return new Response("ok");
  }, async ({ front }) => {
    await rawRequest(
      front,
      "POST /upload HTTP/1.1\nHost: hub.example\nContent-Length: 11\nConnection: close\n",
      encoder.encode("hello world"),
    );
    assert.deepEqual(seen, { length: "11", chunked: null, body: "hello world" });
    await rawRequest(
      front,
      "POST /upload HTTP/1.1\nHost: hub.example\nTransfer-Encoding: chunked\nConnection: close\n",
      encoder.encode("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"),
    );
    assert.deepEqual(seen, { length: null, chunked: "chunked", body: "hello world" });
  });
});

const MiB = 1024 * 1024;
const TOTAL_MIB = 50;
/** At most this much may be in flight between the two ends: the proxy does not buffer. */
const IN_FLIGHT = 16 * MiB;

/** 1 MiB of noise; chunk `i` is a copy with `i` in its first byte. */
const NOISE = (() => {
  const noise = new Uint8Array(MiB);
  for (let i = 0; i < MiB; i += 65536) crypto.getRandomValues(noise.subarray(i, i + 65536));
  return noise;
})();

function chunk(i: number): Uint8Array {
  const copy = NOISE.slice();
  copy[0] = i;
  return copy;
}

/** An order-sensitive checksum, updated chunk by chunk. */
function checksum(hash: number, bytes: Uint8Array): number {
  for (let i = 0; i < bytes.length; i++) hash = (Math.imul(hash, 31) + bytes[i]) >>> 0;
  return hash;
}

const EXPECTED_CHECKSUM = (() => {
  let hash = 0;
  for (let i = 0; i < TOTAL_MIB; i++) hash = checksum(hash, chunk(i));
  return hash;
})();

/** Counts bytes at the receiving end; the sender waits on it to keep IN_FLIGHT bounded. */
class Progress {
  received = 0;
  #waiters: (() => void)[] = [];
  add(n: number): void {
    this.received += n;
    for (const wake of this.#waiters.splice(0)) wake();
  }
  /** Resolves once `received` is at least `bytes`; rejects after 5 s without it. */
  async atLeast(bytes: number): Promise<void> {
    const deadline = Date.now() + 5_000;
    while (this.received < bytes) {
      if (Date.now() > deadline) {
        throw new Error(`stalled at ${this.received} bytes: is the proxy buffering the body?`);
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        timer = setTimeout(resolve, 100);
      });
      clearTimeout(timer);
    }
  }
}

/** 50 MiB, produced only while less than IN_FLIGHT is unread at the other end. */
function paced(progress: Progress): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream({
    async pull(controller) {
      if (i === TOTAL_MIB) return controller.close();
      await progress.atLeast(i * MiB - IN_FLIGHT);
      controller.enqueue(chunk(i++));
    },
  }, { highWaterMark: 0 });
}

async function consume(
  body: ReadableStream<Uint8Array>,
  progress: Progress,
): Promise<{ bytes: number; hash: number }> {
  let hash = 0;
  for await (const bytes of body) {
    hash = checksum(hash, bytes);
    progress.add(bytes.length);
  }
  return { bytes: progress.received, hash };
}

Deno.test("forward streams a 50 MiB upload without buffering it", async () => {
  const progress = new Progress();
  await withProxy(async (request) => {
    return Response.json(await consume(request.body!, progress));
  }, async ({ front }) => {
    const response = await fetch(`http://127.0.0.1:${front}/upload`, {
      method: "PUT",
      body: paced(progress),
    });
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { bytes: TOTAL_MIB * MiB, hash: EXPECTED_CHECKSUM });
  });
});

Deno.test("forward streams a 50 MiB download without buffering it, with its Content-Length", async () => {
  const progress = new Progress();
  await withProxy(() => {
    return new Response(paced(progress), {
      headers: {
        "content-type": "application/octet-stream",
        "content-length": String(TOTAL_MIB * MiB),
      },
    });
  }, async ({ front }) => {
    const response = await fetch(`http://127.0.0.1:${front}/download`);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("content-length"), String(TOTAL_MIB * MiB));
    assert.deepEqual(await consume(response.body!, progress), {
      bytes: TOTAL_MIB * MiB,
      hash: EXPECTED_CHECKSUM,
    });
  });
});

Deno.test("forward passes a gzip response byte for byte and does not compress others", async () => {
  const text = "<p>hello, jupyter</p>\n".repeat(200);
  const gzip = new Uint8Array(
    await new Response(new Blob([text]).stream().pipeThrough(new CompressionStream("gzip")))
      .arrayBuffer(),
  );
  let acceptEncoding: string | null = null;
  await withProxy((request) => {
    acceptEncoding = request.headers.get("accept-encoding");
    if (new URL(request.url).pathname === "/plain") {
      return new Response(text, { headers: { "content-type": "text/html" } });
    }
    return new Response(gzip, {
      headers: { "content-type": "text/html", "content-encoding": "gzip", vary: "Accept-Encoding" },
    });
  }, async ({ front }) => {
    const head = "Host: hub.example\nAccept-Encoding: gzip, deflate, br\nConnection: close\n";
    const compressed = await rawRequest(front, `GET /gzip HTTP/1.1\n${head}`);
    assert.equal(acceptEncoding, "gzip, deflate, br");
    assert.deepEqual(values(compressed, "content-encoding"), ["gzip"]);
    assert.deepEqual(values(compressed, "content-length"), [String(gzip.length)]);
    assert.deepEqual(compressed.body, gzip);

    const plain = await rawRequest(front, `GET /plain HTTP/1.1\n${head}`);
    assert.deepEqual(values(plain, "content-encoding"), []);
    assert.equal(decoder.decode(plain.body), text);
  });
});

Deno.test("forward passes redirects to the client instead of following them", async () => {
  await withProxy((request) => {
    if (new URL(request.url).pathname === "/elsewhere") return new Response("followed");
    return new Response(null, {
      status: 302,
      headers: { location: "/elsewhere?next=%2Fuser%2Fa", "set-cookie": "oauth_state=s" },
    });
  }, async ({ front }) => {
    const response = await fetch(`http://127.0.0.1:${front}/user/a/`, { redirect: "manual" });
    assert.equal(response.status, 302);
    assert.equal(response.headers.get("location"), "/elsewhere?next=%2Fuser%2Fa");
    assert.deepEqual(response.headers.getSetCookie(), ["oauth_state=s"]);
    await response.body?.cancel();
  });
});

Deno.test("forward passes HEAD, 204, 304 and OPTIONS, PUT, PATCH and DELETE through", async () => {
  await withProxy(async (request) => {
    const path = new URL(request.url).pathname;
    if (path === "/no-content") return new Response(null, { status: 204 });
    if (path === "/not-modified") {
      return new Response(null, { status: 304, headers: { etag: '"v1"' } });
    }
    if (request.method === "HEAD" || request.method === "GET") {
      return new Response("x".repeat(1234), { headers: { "content-type": "text/plain" } });
    }
    return new Response(`${request.method} ${await request.text()}`);
  }, async ({ front }) => {
    const head = await rawRequest(
      front,
      "HEAD /file HTTP/1.1\nHost: hub.example\nConnection: close\n",
    );
    assert.equal(head.status, 200);
    assert.deepEqual(values(head, "content-length"), ["1234"]);
    assert.equal(head.body.length, 0);

    const getWithBody = await rawRequest(
      front,
      "GET /file HTTP/1.1\nHost: hub.example\nContent-Length: 4\nConnection: close\n",
      encoder.encode("junk"),
    );
    assert.equal(getWithBody.status, 200);

    const noContent = await fetch(`http://127.0.0.1:${front}/no-content`);
    assert.equal(noContent.status, 204);
    assert.equal(noContent.body, null);

    const notModified = await fetch(`http://127.0.0.1:${front}/not-modified`, {
      headers: { "if-none-match": '"v1"' },
    });
    assert.equal(notModified.status, 304);
    assert.equal(notModified.headers.get("etag"), '"v1"');
    assert.equal(notModified.body, null);

    for (const method of ["OPTIONS", "PUT", "PATCH", "DELETE"]) {
      const body = method === "OPTIONS" ? undefined : `${method.toLowerCase()} body`;
      const response = await fetch(`http://127.0.0.1:${front}/api/contents/a.ipynb`, {
        method,
        body,
      });
      assert.equal(response.status, 200);
      assert.equal(await response.text(), `${method} ${body ?? ""}`);
    }
  });
});

Deno.test("forward answers an unreachable target with onUnreachable, a 503 by default", async () => {
  const port = closedPort();
  const byDefault = await forward(
    new Request("http://hub.example/user/a/"),
    `http://127.0.0.1:${port}`,
  );
  assert.equal(byDefault.status, 503);
  assert.equal(byDefault.headers.get("content-type"), "text/plain; charset=utf-8");
  assert.match(await byDefault.text(), /cannot be reached/);

  const seen: unknown[] = [];
  const options: ForwardOptions = {
    onUnreachable: (request, error) => {
      seen.push(new URL(request.url).pathname, error instanceof Error);
      return new Response("starting", { status: 502 });
    },
  };
  const custom = await forward(
    new Request("http://hub.example/user/a/"),
    `http://127.0.0.1:${port}`,
    options,
  );
  assert.equal(custom.status, 502);
  assert.equal(await custom.text(), "starting");
  assert.deepEqual(seen, ["/user/a/", true]);

  const unknownHost = await forward(
    new Request("http://hub.example/"),
    "http://no-such-host.invalid:8888",
  );
  assert.equal(unknownHost.status, 503);
  await unknownHost.body?.cancel();
});

Deno.test("forward ends the client's response when the target resets mid-stream", async () => {
  await withRawBackend(async (conn) => {
    await conn.write(encoder.encode(
      "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 1000000\r\n\r\n",
    ));
    await conn.write(new Uint8Array(1000));
    // the connection closes 999,000 bytes short
  }, async (port) => {
    const front = Deno.serve(LISTEN, (request) => forward(request, `http://127.0.0.1:${port}`));
    try {
      const response = await fetch(`http://127.0.0.1:${front.addr.port}/big`);
      assert.equal(response.status, 200);
      await assert.rejects(response.arrayBuffer());
      // the front server still serves
      const again = await fetch(`http://127.0.0.1:${front.addr.port}/big`);
      await assert.rejects(again.arrayBuffer());
    } finally {
      await front.shutdown();
    }
  });
});

Deno.test("forward aborts the upstream request when the client goes away", async () => {
  let cancelled!: () => void;
  const streamCancelled = new Promise<void>((resolve) => cancelled = resolve);
  let aborted!: () => void;
  const requestAborted = new Promise<void>((resolve) => aborted = resolve);
  let waiting!: () => void;
  const backendWaiting = new Promise<void>((resolve) => waiting = resolve);
  await withProxy((request) => {
    if (new URL(request.url).pathname === "/slow-headers") {
      waiting();
      return new Promise((resolve) => {
        request.signal.addEventListener("abort", () => {
          aborted();
          resolve(new Response("too late"));
        });
      });
    }
    return new Response(
      new ReadableStream({
        start(controller) {
          controller.enqueue(encoder.encode("first"));
        },
        cancel() {
          cancelled();
        },
      }),
    );
  }, async ({ front }) => {
    const during = new AbortController();
    const response = await fetch(`http://127.0.0.1:${front}/slow-body`, { signal: during.signal });
    const reader = response.body!.getReader();
    assert.equal(decoder.decode((await reader.read()).value), "first");
    during.abort();
    await reader.read().catch(() => {});
    await within(streamCancelled, "the backend's response stream was not cancelled");

    const before = new AbortController();
    const pending = fetch(`http://127.0.0.1:${front}/slow-headers`, { signal: before.signal });
    await backendWaiting;
    before.abort();
    await assert.rejects(pending);
    await within(requestAborted, "the backend's request was not aborted");
  });
});

async function within(promise: Promise<void>, failure: string, ms = 3_000): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      promise,
      new Promise<never>((_, reject) => timer = setTimeout(() => reject(new Error(failure)), ms)),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Resolves with the next event of `type` on `socket`. */
function next<K extends keyof WebSocketEventMap>(
  socket: WebSocket,
  type: K,
): Promise<WebSocketEventMap[K]> {
  return new Promise((resolve) => socket.addEventListener(type, resolve, { once: true }));
}

const KERNEL_PROTOCOL = "v1.kernel.websocket.jupyter.org";

Deno.test("forward relays a WebSocket: headers, subprotocol, text, binary and closes", async () => {
  const handshakes: Record<string, string>[] = [];
  const backendCloses: { code: number; reason: string }[] = [];
  const backendClosed: Promise<void>[] = [];
  await withProxy((request) => {
    const headers = Object.fromEntries(request.headers);
    handshakes.push({ ...headers, path: request.url.slice(request.url.indexOf("/", 7)) });
    const offered = (headers["sec-websocket-protocol"] ?? "").split(",").map((p) => p.trim());
    const { socket, response } = Deno.upgradeWebSocket(request, {
      protocol: offered.includes(KERNEL_PROTOCOL) ? KERNEL_PROTOCOL : undefined,
    });
    socket.binaryType = "arraybuffer";
    socket.onmessage = (event) => {
      if (event.data === "close 4002") socket.close(4002, "server bye");
      else if (event.data === "close 1001") socket.close(1001, "restarting");
      else if (typeof event.data === "string") socket.send(`echo ${event.data}`);
      else socket.send(new Uint8Array(event.data).reverse());
    };
    backendClosed.push(
      next(socket, "close").then((event) => {
        backendCloses.push({ code: event.code, reason: event.reason });
      }),
    );
    return response;
  }, async ({ front }) => {
    const url = `ws://127.0.0.1:${front}/user/a/api/kernels/k1/channels?session_id=s%2F1`;
    const open = () => {
      const socket = new WebSocket(url, {
        protocols: ["nope", KERNEL_PROTOCOL],
        headers: {
          cookie: "jupyterhub-session-id=abc; _xsrf=x",
          origin: "http://hub.example",
          "x-forwarded-proto": "https",
          "x-real-ip": "10.0.0.7",
        },
      });
      socket.binaryType = "arraybuffer";
      return socket;
    };

    // messages both ways, and a close from the client
    const client = open();
    await next(client, "open");
    assert.equal(client.protocol, KERNEL_PROTOCOL);
    client.send("hello");
    assert.equal((await next(client, "message")).data, "echo hello");
    client.send(new Uint8Array([1, 2, 3, 250]));
    assert.deepEqual(
      new Uint8Array((await next(client, "message")).data),
      Uint8Array.of(250, 3, 2, 1),
    );
    const clientClosed = next(client, "close");
    client.close(4001, "client bye");
    await clientClosed;
    await backendClosed[0];
    assert.deepEqual(backendCloses[0], { code: 4001, reason: "client bye" });

    const handshake = handshakes[0];
    assert.equal(handshake.path, "/user/a/api/kernels/k1/channels?session_id=s%2F1");
    assert.equal(handshake.host, `127.0.0.1:${front}`);
    assert.equal(handshake.cookie, "jupyterhub-session-id=abc; _xsrf=x");
    assert.equal(handshake.origin, "http://hub.example");
    assert.equal(handshake["x-forwarded-proto"], "https");
    assert.equal(handshake["x-real-ip"], "10.0.0.7");
    assert.equal(handshake["sec-websocket-protocol"], `nope, ${KERNEL_PROTOCOL}`);

    // closes from the server, with a code of the app's and with 1001
    for (
      const [command, code, reason] of [[4002, "server bye"], [1001, "restarting"]].map((
        [code, reason],
      ) => [`close ${code}`, code, reason] as const)
    ) {
      const socket = open();
      await next(socket, "open");
      const closed = next(socket, "close");
      socket.send(command);
      const event = await closed;
      assert.deepEqual({ code: event.code, reason: event.reason }, { code, reason }, command);
    }
    await Promise.all(backendClosed);
  });
});

Deno.test("forward answers a WebSocket upgrade the target refuses or cannot take", async () => {
  await withProxy(() => new Response("no kernel", { status: 404 }), async ({ front }) => {
    const refused = new WebSocket(`ws://127.0.0.1:${front}/user/a/api/kernels/gone/channels`);
    const refusedClosed = next(refused, "close");
    const refusal = await next(refused, "error");
    assert.match((refusal as ErrorEvent).message, /Invalid status code: 404/);
    await refusedClosed;

    const port = closedPort();
    const front2 = Deno.serve(LISTEN, (request) => forward(request, `http://127.0.0.1:${port}`));
    try {
      const unreachable = new WebSocket(`ws://127.0.0.1:${front2.addr.port}/user/a/`);
      const unreachableClosed = next(unreachable, "close");
      const failure = await next(unreachable, "error");
      assert.match((failure as ErrorEvent).message, /Invalid status code: 503/);
      await unreachableClosed;
    } finally {
      await front2.shutdown();
    }
  });
});

Deno.test("forward rejects a target that is not an http(s) URL", async () => {
  await assert.rejects(
    forward(new Request("http://hub.example/"), "ftp://127.0.0.1:21"),
    TargetError,
  );
});

Deno.test("forward reports activity for answers below 300 and every websocket message", async () => {
  let activity = 0;
  await withProxy(
    (request) => {
      if (request.headers.get("upgrade") === "websocket") {
        const { socket, response } = Deno.upgradeWebSocket(request);
        socket.onmessage = (event) => socket.send(event.data);
        return response;
      }
      const path = new URL(request.url).pathname;
      return new Response(path, {
        status: path === "/missing" ? 404 : path === "/moved" ? 302 : 200,
      });
    },
    async ({ front }) => {
      for (const [path, counted] of [["/ok", 1], ["/missing", 0], ["/moved", 0]] as const) {
        const before = activity;
        const response = await fetch(`http://127.0.0.1:${front}${path}`, { redirect: "manual" });
        await response.body?.cancel();
        assert.equal(activity - before, counted, path);
      }
      const before = activity;
      const socket = new WebSocket(`ws://127.0.0.1:${front}/ws`);
      const echoes: string[] = [];
      await new Promise((resolve) => socket.onopen = resolve);
      const three = new Promise<void>((resolve) => {
        socket.onmessage = (event) => {
          echoes.push(event.data);
          if (echoes.length === 3) resolve();
        };
      });
      for (const text of ["a", "b", "c"]) socket.send(text);
      await three;
      const closed = new Promise((resolve) => socket.onclose = resolve);
      socket.close();
      await closed;
      // The upgrade, three messages to the target and three back.
      assert.equal(activity - before, 7);
    },
    { forward: { onActivity: () => activity++ } },
  );
});

Deno.test("forward holds a WebSocket's target back while the client does not read, and loses nothing", async () => {
  let sent = 0;
  const messages = 64; // 64 MiB, far more than the relay may hold
  await withProxy((request) => {
    const { socket, response } = Deno.upgradeWebSocket(request);
    socket.onopen = async () => {
      // As fast as the connection takes them: the target's own buffer stays under 1 MiB.
      while (sent < messages && socket.readyState === WebSocket.OPEN) {
        if (socket.bufferedAmount < 1024 * 1024) {
          const message = new Uint8Array(1024 * 1024);
          new DataView(message.buffer).setUint32(0, sent++);
          socket.send(message);
        } else await new Promise((resolve) => setTimeout(resolve, 2));
      }
    };
    return response;
  }, async ({ front }) => {
    // A client that completes the handshake and then reads nothing for a second.
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: front });
    try {
      await conn.write(new TextEncoder().encode(
        "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
      ));
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      // The relay read only what the client's socket could take (1 MiB and the connections'
      // buffers); reading everything as it came, it held all 64 MiB within a few ms.
      assert.ok(sent < 24, `the target sent ${sent} MiB to a client that reads nothing`);
      // Once the client reads, every message arrives, whole and in order.
      const decoder = frameDecoder({ maxPayload: 2 * 1024 * 1024 });
      const buffer = new Uint8Array(256 * 1024);
      let head: Uint8Array = new Uint8Array(0);
      while (indexOfBlankLine(head) < 0) {
        const read = await conn.read(buffer);
        assert.ok(read !== null);
        head = joinBytes([head, buffer.subarray(0, read)]);
      }
      const end = indexOfBlankLine(head) + 4;
      const seen: number[] = [];
      for (const frame of decoder.push(head.slice(end))) {
        seen.push(new DataView(frame.payload.buffer).getUint32(0));
      }
      while (seen.length < messages) {
        const read = await conn.read(buffer);
        assert.ok(read !== null, `the connection ended after ${seen.length} messages`);
        for (const frame of decoder.push(buffer.slice(0, read))) {
          assert.equal(frame.payload.length, 1024 * 1024);
          seen.push(new DataView(frame.payload.buffer, frame.payload.byteOffset).getUint32(0));
        }
      }
      assert.deepEqual(seen, Array.from({ length: messages }, (_, i) => i));
    } finally {
      conn.close();
    }
  });
});

Deno.test("forward drops a WebSocket whose target reads nothing, while the target keeps sending", async () => {
  // A target that completes the handshake, then sends a message every few ms and reads nothing.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const served = (async () => {
    const conn = await listener.accept();
    const head = new Uint8Array(4096);
    const read = await conn.read(head);
    const key =
      /sec-websocket-key: *(\S+)/i.exec(new TextDecoder().decode(head.subarray(0, read!)))![1];
    const digest = await crypto.subtle.digest(
      "SHA-1",
      new TextEncoder().encode(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"),
    );
    const accept = btoa(String.fromCharCode(...new Uint8Array(digest)));
    await conn.write(new TextEncoder().encode(
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        `Sec-WebSocket-Accept: ${accept}\r\n\r\n`,
    ));
    try {
      for (let i = 0; i < 2_000; i++) {
        await conn.write(Uint8Array.of(0x81, 1, 0x78)); // "x"
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
    } catch {
      // the proxy ended the connection
    } finally {
      conn.close();
    }
  })();
  const front = Deno.serve(
    { ...LISTEN, automaticCompression: false },
    (request) => forward(request, `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`),
  );
  try {
    const client = new WebSocket(`ws://127.0.0.1:${front.addr.port}/ws`);
    await next(client, "open");
    const closed = next(client, "close");
    const chunk = new Uint8Array(1024 * 1024);
    for (let i = 0; i < 40 && client.readyState === WebSocket.OPEN; i++) {
      client.send(chunk);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const event = await closed;
    assert.equal(event.code, 1011);
    assert.match(event.reason, /does not read/);
    await served;
  } finally {
    listener.close();
    await front.shutdown();
  }
});

Deno.test("forward keeps connections to http targets in its pool and reuses them", async () => {
  const ports = new Set<number>();
  const back = Deno.serve(LISTEN, (_request, info) => {
    ports.add(info.remoteAddr.port);
    return new Response("ok");
  });
  const pool = upstreamPool();
  try {
    const target = `http://127.0.0.1:${back.addr.port}`;
    for (let i = 0; i < 5; i++) {
      const response = await forward(new Request("http://hub.example/user/a/"), target, { pool });
      assert.equal(await response.text(), "ok");
    }
    assert.equal(ports.size, 1);
    assert.equal(pool.idle, 1);
  } finally {
    pool.close();
    await back.shutdown();
  }
});

Deno.test("forward answers 502 to a response head it cannot pass on, and passes octets in values", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const answers: Record<string, Uint8Array> = {
    "/bad": new TextEncoder().encode("HTTP/1.1 200 OK\r\nno colon\r\n\r\n"),
    "/octets": new Uint8Array([
      ...new TextEncoder().encode("HTTP/1.1 200 OK\r\ncontent-length: 2\r\nx-name: caf"),
      0xe9,
      ...new TextEncoder().encode("\r\n\r\nok"),
    ]),
  };
  const serving = (async () => {
    for await (const conn of listener) {
      const buf = new Uint8Array(4096);
      const n = await conn.read(buf);
      const path = decoder.decode(buf.subarray(0, n ?? 0)).split(" ")[1];
      await conn.write(answers[path]);
      conn.close();
    }
  })();
  try {
    const target = `http://127.0.0.1:${listener.addr.port}`;
    const bad = await forward(new Request("http://hub.example/bad"), target);
    assert.equal(bad.status, 502);
    assert.match(await bad.text(), /502 Bad Gateway: not a header field/);
    const octets = await forward(new Request("http://hub.example/octets"), target);
    assert.equal(octets.headers.get("x-name"), "caf\u00e9");
    assert.equal(await octets.text(), "ok");
  } finally {
    listener.close();
    await serving.catch(() => {});
  }
});

Deno.test("forward sends a GET without the length of a body it does not have", async () => {
  const seen: (string | null)[] = [];
  await withProxy((request) => {
    seen.push(request.headers.get("content-length"));
    return new Response(new URL(request.url).pathname);
  }, async ({ front }) => {
    // Deno.serve drops a GET's body; a length passed on would take the next request's bytes.
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: front });
    const first = "GET /one HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello";
    await conn.write(new TextEncoder().encode(first));
    let text = "";
    const buf = new Uint8Array(4096);
    while (!text.includes("/one")) text += decoder.decode(buf.subarray(0, (await conn.read(buf))!));
    await conn.write(
      new TextEncoder().encode("GET /two HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"),
    );
    for (let n; (n = await conn.read(buf)) !== null;) text += decoder.decode(buf.subarray(0, n));
    conn.close();
    assert.match(text, /\/two/);
  });
  assert.deepEqual(seen, [null, null]);
});

Deno.test("forward rejects a target that is not a URL, and answers 400 to a bad body length", async () => {
  await assert.rejects(
    forward(new Request("http://hub.example/"), "http://[not-a-host"),
    TargetError,
  );
  const response = await forward(
    new Request("http://hub.example/", {
      method: "POST",
      body: "x",
      headers: { "content-length": "1, 2" },
    }),
    "http://127.0.0.1:9",
  );
  assert.equal(response.status, 400);
  await response.body?.cancel();
  // the same length twice is that length: on to the target (nothing listens there: 503)
  const twice = await forward(
    new Request("http://hub.example/", {
      method: "POST",
      body: "x",
      headers: { "content-length": "1, 1" },
    }),
    "http://127.0.0.1:9",
  );
  assert.equal(twice.status, 503);
  await twice.body?.cancel();
  await assert.rejects(forward(new Request("http://hub.example/"), "https://[bad"), TargetError);
});
