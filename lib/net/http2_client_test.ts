import assert from "node:assert/strict";
import { joinBytes } from "../core/bytes.ts";
import { encodeHeaders, type HeaderField } from "./_hpack.ts";
import {
  ERROR_CODE,
  FLAG,
  FRAME,
  type FrameToSend,
  parseSettings,
  readUint32,
  SETTING,
  settingsPayload,
  uint32Payload,
} from "./_http2_frame.ts";
import {
  http2Connect,
  type Http2Connection,
  http2Connection,
  Http2Error,
  type Http2Stream,
} from "./http2_client.ts";
import { makePki } from "../../tests/pki.ts";
import { silentServer } from "../../tests/helpers.ts";
import {
  fakeHttp2Server as fakeServer,
  type FakeServer,
  goAway,
  type Peer,
  resetStream,
  within,
} from "../../tests/http2_peer.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A client connected to a fresh fake server, after the SETTINGS exchange; all closed after. */
async function withPeer(
  test: (client: Http2Connection, peer: Peer, server: FakeServer) => Promise<void>,
  settings: [number, number][] = [],
): Promise<void> {
  const server = fakeServer();
  let client: Http2Connection | undefined;
  try {
    // http2Connect resolves once the server's SETTINGS arrived.
    const connecting = http2Connect({ hostname: "127.0.0.1", port: server.port });
    const peer = await server.peer(0);
    await peer.handshake(settings);
    client = await within(connecting, 5_000);
    // The client has applied the server's SETTINGS once it acknowledges them.
    const ack = await peer.next(FRAME.SETTINGS);
    assert.equal(ack.flags, FLAG.ACK);
    await within(test(client, peer, server), 10_000); // a stall fails instead of hanging
  } finally {
    client?.close();
    if (client) await client.closed;
    await server.close();
  }
}

const concat = (...parts: Uint8Array[]) => joinBytes(parts);

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

function headers(
  stream: number,
  fields: HeaderField[],
  flags: number = FLAG.END_HEADERS,
): FrameToSend {
  return { type: FRAME.HEADERS, flags, stream, payload: encodeHeaders(fields) };
}

function data(stream: number, bytes: Uint8Array | string, flags: number = 0): FrameToSend {
  const payload = typeof bytes === "string" ? encoder.encode(bytes) : bytes;
  return { type: FRAME.DATA, flags, stream, payload };
}

function windowUpdate(stream: number, increment: number): FrameToSend {
  return { type: FRAME.WINDOW_UPDATE, flags: 0, stream, payload: uint32Payload(increment) };
}

function get(path = "/", authority = "example"): HeaderField[] {
  return [[":method", "GET"], [":scheme", "http"], [":authority", authority], [":path", path]];
}

function post(path = "/", authority = "example"): HeaderField[] {
  return [[":method", "POST"], [":scheme", "http"], [":authority", authority], [":path", path]];
}

/** The whole response body. */
async function readAll(stream: Http2Stream): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for (let part; (part = await stream.read()) !== undefined;) parts.push(part);
  return concat(...parts);
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function isHttp2Error(check: (error: Http2Error) => void) {
  return (error: unknown) => {
    assert.ok(error instanceof Http2Error, `not an Http2Error: ${error}`);
    check(error);
    return true;
  };
}

// ---------------------------------------------------------------------------------------------
// Against a real HTTP/2 server: Deno.serve over TLS (h2 by ALPN).

Deno.test("http2Connect speaks HTTP/2 to Deno.serve over TLS", async (t) => {
  const pki = await makePki();
  const read = (path: string) => Deno.readTextFileSync(path);
  const ports = new Set<number>();
  const big = new Uint8Array(6 * 1024 * 1024).map((_, i) => (i * 7 + (i >> 16)) & 0xff);
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    cert: read(pki.server.cert),
    key: read(pki.server.key),
    onListen() {},
  }, async (request, info) => {
    ports.add(info.remoteAddr.port);
    const path = new URL(request.url).pathname;
    if (path === "/big") return new Response(big);
    const body = new Uint8Array(await request.arrayBuffer());
    return new Response(body, {
      status: 201,
      headers: { "x-method": request.method, "x-length": String(body.length), "x-path": path },
    });
  });
  const port = server.addr.port;
  const authority = `127.0.0.1:${port}`;
  const headersOf = (path: string): HeaderField[] => [
    [":method", "POST"],
    [":scheme", "https"],
    [":authority", authority],
    [":path", path],
    ["content-type", "application/octet-stream"],
  ];
  let client: Http2Connection | undefined;
  try {
    client = await http2Connect({ hostname: "127.0.0.1", port, tls: { caCerts: [read(pki.ca)] } });
    const connection = client;
    assert.equal(connection.usable, true);

    await t.step("a small POST body is echoed back", async () => {
      const stream = await connection.request({
        headers: headersOf("/echo"),
        body: encoder.encode("hello, h2"),
        end: true,
      });
      const fields = await stream.response();
      assert.equal(fields.find(([name]) => name === ":status")?.[1], "201");
      assert.equal(fields.find(([name]) => name === "x-method")?.[1], "POST");
      assert.equal(fields.find(([name]) => name === "x-length")?.[1], "9");
      assert.equal(decoder.decode(await readAll(stream)), "hello, h2");
    });

    await t.step("a 1 MiB upload is sent past the initial windows and echoed in full", async () => {
      const body = big.subarray(0, 1024 * 1024);
      const stream = await connection.request({ headers: headersOf("/echo"), body, end: true });
      const fields = await within(stream.response(), 10_000);
      assert.equal(fields.find(([name]) => name === "x-length")?.[1], String(body.length));
      const echoed = await within(readAll(stream), 10_000);
      assert.equal(echoed.length, body.length);
      assert.ok(equal(echoed, body), "the echoed bytes differ");
    });

    await t.step("a 6 MiB download needs the client's window credits", async () => {
      const stream = await connection.request({
        headers: [[":method", "GET"], [":scheme", "https"], [":authority", authority], [
          ":path",
          "/big",
        ]],
        end: true,
      });
      const body = await within(readAll(stream), 10_000);
      assert.equal(body.length, big.length);
      assert.ok(equal(body, big), "the downloaded bytes differ");
    });

    await t.step("50 concurrent requests on one connection are each answered", async () => {
      const answers = await within(
        Promise.all(Array.from({ length: 50 }, async (_, i) => {
          const stream = await connection.request({
            headers: headersOf(`/echo/${i}`),
            body: encoder.encode(`request ${i} `.repeat(i + 1)),
            end: true,
          });
          const fields = await stream.response();
          return {
            path: fields.find(([name]) => name === "x-path")?.[1],
            body: decoder.decode(await readAll(stream)),
          };
        })),
        10_000,
      );
      answers.forEach((answer, i) => {
        assert.equal(answer.path, `/echo/${i}`);
        assert.equal(answer.body, `request ${i} `.repeat(i + 1));
      });
      assert.equal(ports.size, 1, "every request went over the one connection");
      assert.equal(connection.usable, true);
    });

    await t.step("a certificate from another CA is refused at connect", async () => {
      await assert.rejects(
        http2Connect({ hostname: "127.0.0.1", port, tls: { caCerts: [read(pki.otherCa)] } }),
        (error: unknown) => {
          assert.ok(error instanceof Error);
          assert.match(error.message, /certificate|issuer/i);
          return true;
        },
      );
    });

    await t.step("a TLS server that does not agree on h2 by ALPN is refused", async () => {
      const listener = Deno.listenTls({
        hostname: "127.0.0.1",
        port: 0,
        cert: read(pki.server.cert),
        key: read(pki.server.key),
      }); // no ALPN
      const serving = (async () => {
        const conn = await listener.accept();
        try {
          await conn.handshake();
          await conn.read(new Uint8Array(16)); // until the client closes
        } catch {
          // closed
        } finally {
          conn.close();
        }
      })();
      try {
        await assert.rejects(
          http2Connect({
            hostname: "127.0.0.1",
            port: listener.addr.port,
            tls: { caCerts: [read(pki.ca)] },
          }),
          isHttp2Error((error) => assert.match(error.message, /does not speak HTTP\/2/)),
        );
      } finally {
        await within(serving, 5_000);
        listener.close();
      }
    });
  } finally {
    client?.close();
    await client?.closed;
    await server.shutdown();
    await pki.remove();
  }
});

// ---------------------------------------------------------------------------------------------
// Against a hand-written server.

Deno.test("http2Connect gives up a TLS handshake that does not end when its signal aborts", async () => {
  const peer = silentServer();
  try {
    const abort = new AbortController();
    const reason = new Error("too slow");
    const timer = setTimeout(() => abort.abort(reason), 50);
    try {
      await assert.rejects(
        within(
          http2Connect({
            hostname: "127.0.0.1",
            port: peer.port,
            tls: {},
            signal: abort.signal,
          }),
          5_000,
        ),
        (error) => error === reason,
      );
    } finally {
      clearTimeout(timer);
    }
    assert.equal(peer.accepted.length, 1);
  } finally {
    await peer.close();
  }
});

Deno.test("http2Connection sends the preface and its SETTINGS, and acknowledges the server's", async () => {
  const server = fakeServer();
  let client: Http2Connection | undefined;
  try {
    client = http2Connection(await Deno.connect({ hostname: "127.0.0.1", port: server.port }));
    const peer = await server.peer(0);
    const settings = await peer.next(FRAME.SETTINGS);
    assert.ok(peer.preface, "the connection preface came first");
    assert.equal(peer.frames[0], settings, "SETTINGS is the first frame");
    assert.equal(settings.flags, 0);
    assert.equal(settings.stream, 0);
    assert.deepEqual(parseSettings(settings.payload), [
      [SETTING.ENABLE_PUSH, 0],
      [SETTING.INITIAL_WINDOW_SIZE, 4 * 1024 * 1024],
    ]);
    const update = await peer.next(FRAME.WINDOW_UPDATE);
    assert.equal(update.stream, 0);
    assert.equal(readUint32(update.payload, 0), 4 * 1024 * 1024 - 65_535);
    assert.equal(peer.received(FRAME.SETTINGS).length, 1, "no ACK before the server's SETTINGS");
    let ready = false;
    void client.ready.then(() => ready = true);
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(ready, false, "not ready before the server's SETTINGS");

    await peer.send({
      type: FRAME.SETTINGS,
      flags: 0,
      stream: 0,
      payload: settingsPayload([[SETTING.MAX_CONCURRENT_STREAMS, 100], [
        SETTING.HEADER_TABLE_SIZE,
        0,
      ]]),
    });
    const ack = await peer.next(FRAME.SETTINGS);
    assert.equal(ack.flags, FLAG.ACK);
    assert.equal(ack.stream, 0);
    assert.equal(ack.payload.length, 0);
    await within(client.ready, 1_000);

    // The server's own ACK is not acknowledged: a PING after it comes back with nothing before.
    await peer.send(
      { type: FRAME.SETTINGS, flags: FLAG.ACK, stream: 0, payload: new Uint8Array() },
      { type: FRAME.PING, flags: 0, stream: 0, payload: new Uint8Array(8) },
    );
    await peer.next(FRAME.PING);
    assert.equal(peer.received(FRAME.SETTINGS).length, 2);
  } finally {
    client?.close();
    await client?.closed;
    await server.close();
  }
});

Deno.test("http2 client: a header block in HEADERS (padded) + CONTINUATION, padded DATA, trailers", async () => {
  await withPeer(async (client, peer) => {
    const request = get("/split", "example:80");
    const stream = await client.request({ headers: request, end: true });
    assert.equal(stream.id, 1);
    const received = await peer.next(FRAME.HEADERS, 1);
    assert.deepEqual(received.fields, request);
    assert.equal(received.flags, FLAG.END_HEADERS | FLAG.END_STREAM, "bodiless: END_STREAM");

    const block = encodeHeaders([
      [":status", "200"],
      ["content-type", "text/plain"],
      ["x-long", "v".repeat(40)],
    ]);
    const cut = 10;
    const padding = 7;
    const body = encoder.encode("the body");
    const trailerBlock = encodeHeaders([["grpc-status", "0"], ["x-trailer", "yes"]]);
    await peer.send(
      {
        type: FRAME.HEADERS,
        flags: FLAG.PADDED,
        stream: 1,
        payload: concat(Uint8Array.of(padding), block.subarray(0, cut), new Uint8Array(padding)),
      },
      { type: FRAME.CONTINUATION, flags: 0, stream: 1, payload: block.subarray(cut, cut + 5) },
      {
        type: FRAME.CONTINUATION,
        flags: FLAG.END_HEADERS,
        stream: 1,
        payload: block.subarray(cut + 5),
      },
      {
        type: FRAME.DATA,
        flags: FLAG.PADDED,
        stream: 1,
        payload: concat(Uint8Array.of(3), body, Uint8Array.of(0xee, 0xee, 0xee)),
      },
      {
        // trailers with a priority (5 bytes to skip) and padding
        type: FRAME.HEADERS,
        flags: FLAG.END_HEADERS | FLAG.END_STREAM | FLAG.PRIORITY | FLAG.PADDED,
        stream: 1,
        payload: concat(
          Uint8Array.of(2),
          Uint8Array.of(0, 0, 0, 0, 16),
          trailerBlock,
          Uint8Array.of(0, 0),
        ),
      },
    );
    assert.deepEqual(await stream.response(), [
      [":status", "200"],
      ["content-type", "text/plain"],
      ["x-long", "v".repeat(40)],
    ]);
    assert.equal(decoder.decode(await readAll(stream)), "the body");
    assert.deepEqual(stream.trailers, [["grpc-status", "0"], ["x-trailer", "yes"]]);
    assert.equal(client.usable, true);
    assert.equal(peer.received(FRAME.GOAWAY).length, 0);
  });
});

Deno.test("http2 client: 1xx informational header blocks are skipped", async () => {
  await withPeer(async (client, peer) => {
    const stream = await client.request({ headers: get(), end: true });
    await peer.next(FRAME.HEADERS, 1);
    await peer.send(
      headers(1, [[":status", "100"]]),
      headers(1, [[":status", "103"], ["link", "</style.css>; rel=preload"]]),
      headers(1, [[":status", "404"], ["x-real", "1"]]),
      data(1, "missing", FLAG.END_STREAM),
    );
    assert.deepEqual(await stream.response(), [[":status", "404"], ["x-real", "1"]]);
    assert.equal(decoder.decode(await readAll(stream)), "missing");
    assert.deepEqual(stream.trailers, []);
  });
});

Deno.test("http2 client: response() and read() waiting at the same time both settle", async () => {
  await withPeer(async (client, peer) => {
    const stream = await client.request({ headers: get(), end: true });
    await peer.next(FRAME.HEADERS, 1);
    const fields = stream.response();
    const first = stream.read();
    const second = stream.read();
    await peer.send(headers(1, [[":status", "200"]]));
    await delay(20);
    await peer.send(data(1, "body", FLAG.END_STREAM));
    const [got, chunk, end] = await within(Promise.all([fields, first, second]), 5_000);
    assert.deepEqual(got, [[":status", "200"]]);
    assert.deepEqual([chunk, end].map((part) => part && decoder.decode(part)), ["body", undefined]);
  });
});

Deno.test("http2 client: a PING from the server is answered with an ACK of the same bytes", async () => {
  await withPeer(async (_client, peer) => {
    const opaque = Uint8Array.of(1, 2, 3, 4, 250, 251, 252, 253);
    await peer.send({ type: FRAME.PING, flags: 0, stream: 0, payload: opaque });
    const pong = await peer.next(FRAME.PING);
    assert.equal(pong.flags, FLAG.ACK);
    assert.equal(pong.stream, 0);
    assert.deepEqual([...pong.payload], [...opaque]);
    // a PING ACK from the server is not answered
    await peer.send({ type: FRAME.PING, flags: FLAG.ACK, stream: 0, payload: new Uint8Array(8) });
    await peer.send({ type: FRAME.PING, flags: 0, stream: 0, payload: new Uint8Array(8).fill(9) });
    const second = await peer.next(FRAME.PING);
    assert.deepEqual([...second.payload], new Array(8).fill(9));
    assert.equal(peer.received(FRAME.PING).length, 2);
  });
});

Deno.test("http2 client: GOAWAY fails the streams above its last stream, lets the others finish", async () => {
  await withPeer(async (client, peer) => {
    const first = await client.request({ headers: get("/1"), end: true });
    const second = await client.request({ headers: get("/3"), end: true });
    assert.equal(first.id, 1);
    assert.equal(second.id, 3);
    await peer.next(FRAME.HEADERS, 3);
    await peer.send(goAway(1, ERROR_CODE.NO_ERROR));
    await assert.rejects(
      second.response(),
      isHttp2Error((error) => {
        assert.equal(error.unprocessed, true);
        assert.equal(error.code, ERROR_CODE.NO_ERROR);
      }),
    );
    assert.equal(client.usable, false);
    await assert.rejects(
      client.request({ headers: get("/5"), end: true }),
      isHttp2Error((error) => assert.equal(error.unprocessed, true)),
    );
    // stream 1 is still answered
    await peer.send(headers(1, [[":status", "200"]]), data(1, "one", FLAG.END_STREAM));
    assert.deepEqual(await first.response(), [[":status", "200"]]);
    assert.equal(decoder.decode(await readAll(first)), "one");
    // with no stream left, the connection ends
    const reason = await within(client.closed, 5_000);
    assert.ok(reason instanceof Http2Error);
    assert.equal(peer.received(FRAME.HEADERS, 5).length, 0, "nothing sent after GOAWAY");
  });
});

Deno.test("http2 client: RST_STREAM fails its stream; REFUSED_STREAM is unprocessed, CANCEL not", async () => {
  await withPeer(async (client, peer) => {
    const refused = await client.request({ headers: get("/1"), end: true });
    const cancelled = await client.request({
      headers: post("/3"),
      body: encoder.encode("x"),
      end: false,
    });
    const untouched = await client.request({ headers: get("/5"), end: true });
    await peer.next(FRAME.HEADERS, 5);
    await peer.send(
      resetStream(1, ERROR_CODE.REFUSED_STREAM),
      resetStream(3, ERROR_CODE.CANCEL),
    );
    await assert.rejects(
      refused.response(),
      isHttp2Error((error) => {
        assert.equal(error.code, ERROR_CODE.REFUSED_STREAM);
        assert.equal(error.unprocessed, true);
      }),
    );
    await assert.rejects(
      cancelled.read(),
      isHttp2Error((error) => {
        assert.equal(error.code, ERROR_CODE.CANCEL);
        assert.equal(error.unprocessed, false);
      }),
    );
    await assert.rejects(cancelled.write(encoder.encode("more")), Http2Error);
    // the connection and its other streams go on
    assert.equal(client.usable, true);
    await peer.send(headers(5, [[":status", "204"]], FLAG.END_HEADERS | FLAG.END_STREAM));
    assert.deepEqual(await untouched.response(), [[":status", "204"]]);
    assert.equal(await untouched.read(), undefined);
    // the client did not answer the resets with resets of its own
    assert.equal(peer.received(FRAME.RST_STREAM).length, 0);
  });
});

Deno.test("http2 client: the server closing the socket fails open streams and resolves closed", async () => {
  await withPeer(async (client, peer) => {
    const stream = await client.request({ headers: get(), end: true });
    const waiting = await client.request({ headers: get(), end: true });
    await peer.next(FRAME.HEADERS, 3);
    await peer.send(headers(1, [[":status", "200"]]), data(1, "partial"));
    assert.deepEqual(await stream.response(), [[":status", "200"]]);
    peer.close();
    const reason = await within(client.closed, 5_000);
    assert.ok(reason instanceof Http2Error);
    assert.match(reason.message, /closed the connection/);
    assert.equal(client.usable, false);
    assert.equal(decoder.decode((await stream.read())!), "partial", "what came is still read");
    await assert.rejects(stream.read(), (error) => error === reason);
    await assert.rejects(waiting.response(), (error) => error === reason);
    // A new request is refused before anything is sent: it could go on another connection.
    await assert.rejects(
      client.request({ headers: get(), end: true }),
      isHttp2Error((error) => {
        assert.equal(error.unprocessed, true);
        assert.match(error.message, /closed the connection/);
      }),
    );
  });
});

Deno.test("http2 client: a stream's send window (INITIAL_WINDOW_SIZE 10) limits its DATA", async () => {
  await withPeer(async (client, peer) => {
    const body = encoder.encode("abcdefghijklmnopqrstuvwxy"); // 25 bytes
    const stream = await client.request({ headers: post("/upload"), body, end: true });
    const head = await peer.next(FRAME.HEADERS, 1);
    assert.equal(head.flags, FLAG.END_HEADERS, "the body follows");
    const first = await peer.next(FRAME.DATA, 1);
    assert.equal(decoder.decode(first.payload), "abcdefghij");
    assert.equal(first.flags, 0);
    await delay(50);
    assert.equal(peer.received(FRAME.DATA).length, 1, "nothing more before a WINDOW_UPDATE");

    await peer.send(windowUpdate(1, 10));
    const second = await peer.next(FRAME.DATA, 1);
    assert.equal(decoder.decode(second.payload), "klmnopqrst");
    assert.equal(second.flags, 0);
    await delay(50);
    assert.equal(peer.received(FRAME.DATA).length, 2);

    // a window update of the connection alone does not let the stream send more
    await peer.send(windowUpdate(0, 1000));
    await delay(50);
    assert.equal(peer.received(FRAME.DATA).length, 2);

    await peer.send(windowUpdate(1, 10));
    const third = await peer.next(FRAME.DATA, 1);
    assert.equal(decoder.decode(third.payload), "uvwxy");
    assert.equal(third.flags, FLAG.END_STREAM);
    for (const frame of peer.received(FRAME.DATA)) assert.ok(frame.payload.length <= 10);

    await peer.send(headers(1, [[":status", "200"]], FLAG.END_HEADERS | FLAG.END_STREAM));
    assert.deepEqual(await stream.response(), [[":status", "200"]]);
  }, [[SETTING.INITIAL_WINDOW_SIZE, 10]]);
});

Deno.test("http2 client: a SETTINGS change of INITIAL_WINDOW_SIZE applies to open streams", async () => {
  await withPeer(async (client, peer) => {
    const stream = await client.request({ headers: post(), end: false });
    await stream.write(encoder.encode("0123456789"));
    assert.equal(decoder.decode((await peer.next(FRAME.DATA, 1)).payload), "0123456789");
    const writing = stream.write(encoder.encode("ABCDEFGHIJKLMNO"), { end: true });
    await delay(50);
    assert.equal(peer.received(FRAME.DATA).length, 1);
    // the window grows by 20 - 10
    await peer.send({
      type: FRAME.SETTINGS,
      flags: 0,
      stream: 0,
      payload: settingsPayload([[SETTING.INITIAL_WINDOW_SIZE, 20]]),
    });
    const more = await peer.next(FRAME.DATA, 1);
    assert.equal(decoder.decode(more.payload), "ABCDEFGHIJ");
    await delay(50);
    assert.equal(peer.received(FRAME.DATA).length, 2);
    await peer.send(windowUpdate(1, 5));
    const last = await peer.next(FRAME.DATA, 1);
    assert.equal(decoder.decode(last.payload), "KLMNO");
    assert.equal(last.flags, FLAG.END_STREAM);
    await within(writing, 5_000);
    await assert.rejects(stream.write(encoder.encode("late")), /ended/);
  }, [[SETTING.INITIAL_WINDOW_SIZE, 10]]);
});

Deno.test("http2 client: the connection's send window (65,535) limits DATA until a WINDOW_UPDATE on stream 0", async () => {
  await withPeer(async (client, peer) => {
    const body = new Uint8Array(70_000).map((_, i) => i & 0xff);
    await client.request({ headers: post(), body, end: true });
    let sent = 0;
    while (sent < 65_535) sent += (await peer.next(FRAME.DATA, 1)).payload.length;
    assert.equal(sent, 65_535);
    await delay(50);
    assert.equal(
      peer.received(FRAME.DATA).reduce((sum, frame) => sum + frame.payload.length, 0),
      65_535,
    );
    await peer.send(windowUpdate(0, 10_000));
    const rest = await peer.next(FRAME.DATA, 1);
    assert.equal(rest.payload.length, 70_000 - 65_535);
    assert.equal(rest.flags, FLAG.END_STREAM);
    const frames = peer.received(FRAME.DATA);
    for (const frame of frames) assert.ok(frame.payload.length <= 16_384, "within MAX_FRAME_SIZE");
    assert.ok(equal(concat(...frames.map((frame) => frame.payload)), body));
  }, [[SETTING.INITIAL_WINDOW_SIZE, 1 << 20]]);
});

Deno.test("http2 client: received DATA (with padding) is credited back in WINDOW_UPDATEs", async () => {
  await withPeer(async (client, peer) => {
    const stream = await client.request({ headers: get(), end: true });
    await peer.next(FRAME.HEADERS, 1);
    await peer.send(headers(1, [[":status", "200"]]));
    // 64 frames of 16,384 bytes (one padded: its padding counts too) = 1 MiB
    const frames: FrameToSend[] = [];
    for (let i = 0; i < 64; i++) {
      const payload = new Uint8Array(16_384).fill(i);
      if (i === 0) payload[0] = 100; // PADDED: 1 + 16,283 bytes of data + 100 of padding
      frames.push(data(1, payload, i === 0 ? FLAG.PADDED : 0));
    }
    await peer.send(...frames);
    // The connection's window as the data arrives; the stream's only as it is read.
    const connectionUpdate = await peer.next(FRAME.WINDOW_UPDATE, 0);
    assert.equal(readUint32(connectionUpdate.payload, 0), 1024 * 1024);
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(peer.received(FRAME.WINDOW_UPDATE, 1).length, 0, "nothing read yet");
    const reading = readAll(stream);
    const streamUpdate = await peer.next(FRAME.WINDOW_UPDATE, 1);
    assert.equal(readUint32(streamUpdate.payload, 0), 1024 * 1024);
    await peer.send(data(1, "", FLAG.END_STREAM));
    const body = await reading;
    assert.equal(body.length, 1024 * 1024 - 101);
    assert.equal(body[0], 0);
    assert.equal(body[16_283], 1);
  });
});

Deno.test("http2 client: cancel() sends RST_STREAM CANCEL and fails what waits", async () => {
  await withPeer(async (client, peer) => {
    const stream = await client.request({ headers: post(), body: encoder.encode("x"), end: false });
    await peer.next(FRAME.DATA, 1);
    const reason = new Error("no longer wanted");
    const waiting = stream.response();
    stream.cancel(reason);
    await assert.rejects(waiting, (error) => error === reason);
    await assert.rejects(stream.read(), (error) => error === reason);
    const reset = await peer.next(FRAME.RST_STREAM, 1);
    assert.equal(readUint32(reset.payload, 0), ERROR_CODE.CANCEL);
    stream.cancel(); // again: nothing more is sent
    // frames for the cancelled stream that were under way are ignored
    await peer.send(headers(1, [[":status", "200"]]), data(1, "late", FLAG.END_STREAM));
    await peer.send({ type: FRAME.PING, flags: 0, stream: 0, payload: new Uint8Array(8) });
    await peer.next(FRAME.PING);
    assert.equal(peer.received(FRAME.RST_STREAM).length, 1);
    assert.equal(peer.received(FRAME.GOAWAY).length, 0);
    assert.equal(client.usable, true);
  });
});

Deno.test("http2 client: an AbortSignal aborted mid-request cancels the stream", async () => {
  await withPeer(async (client, peer) => {
    const abort = new AbortController();
    const stream = await client.request({ headers: get(), end: true, signal: abort.signal });
    await peer.next(FRAME.HEADERS, 1);
    await peer.send(headers(1, [[":status", "200"]]));
    await stream.response();
    const reading = stream.read();
    const reason = new Error("the caller gave up");
    abort.abort(reason);
    await assert.rejects(reading, (error) => error === reason);
    const reset = await peer.next(FRAME.RST_STREAM, 1);
    assert.equal(readUint32(reset.payload, 0), ERROR_CODE.CANCEL);
    // a signal already aborted: no stream at all
    await assert.rejects(
      client.request({ headers: get(), end: true, signal: abort.signal }),
      (error) => error === reason,
    );
    await delay(20);
    assert.equal(peer.received(FRAME.HEADERS).length, 1);
  });
});

Deno.test("http2 client: MAX_CONCURRENT_STREAMS makes a request wait for a free stream", async () => {
  await withPeer(async (client, peer) => {
    const first = await client.request({ headers: get("/a"), end: true });
    let opened = false;
    const second = client.request({ headers: get("/b"), end: true }).then((stream) => {
      opened = true;
      return stream;
    });
    await peer.next(FRAME.HEADERS, 1);
    await delay(50);
    assert.equal(opened, false);
    assert.equal(peer.received(FRAME.HEADERS).length, 1);
    await peer.send(headers(1, [[":status", "200"]], FLAG.END_HEADERS | FLAG.END_STREAM));
    await first.response();
    const stream = await within(second, 5_000);
    assert.equal(stream.id, 3);
    const head = await peer.next(FRAME.HEADERS, 3);
    assert.equal(head.fields?.find(([name]) => name === ":path")?.[1], "/b");
    await peer.send(headers(3, [[":status", "200"]], FLAG.END_HEADERS | FLAG.END_STREAM));
    assert.deepEqual(await stream.response(), [[":status", "200"]]);
  }, [[SETTING.MAX_CONCURRENT_STREAMS, 1]]);
});

Deno.test("http2 client: a PUSH_PROMISE is a protocol error (GOAWAY, connection closed)", async () => {
  await withPeer(async (client, peer) => {
    const stream = await client.request({ headers: get(), end: true });
    await peer.next(FRAME.HEADERS, 1);
    await peer.send({
      type: FRAME.PUSH_PROMISE,
      flags: FLAG.END_HEADERS,
      stream: 1,
      payload: concat(uint32Payload(2), encodeHeaders(get("/pushed"))),
    });
    const goaway = await peer.next(FRAME.GOAWAY);
    assert.equal(readUint32(goaway.payload, 4), ERROR_CODE.PROTOCOL_ERROR);
    const reason = await within(client.closed, 5_000);
    assert.ok(reason instanceof Http2Error);
    assert.equal(reason.code, ERROR_CODE.PROTOCOL_ERROR);
    await assert.rejects(stream.response(), (error) => error === reason);
  });
});

Deno.test("http2 client: bad settings and window updates from the server end the connection once", async () => {
  const cases: [string, FrameToSend, number][] = [
    [
      "a maximum frame size below 16,384",
      {
        type: FRAME.SETTINGS,
        flags: 0,
        stream: 0,
        payload: settingsPayload([[SETTING.MAX_FRAME_SIZE, 100]]),
      },
      ERROR_CODE.PROTOCOL_ERROR,
    ],
    ["a WINDOW_UPDATE of 0", windowUpdate(0, 0), ERROR_CODE.PROTOCOL_ERROR],
    ["a window above 2^31-1", windowUpdate(0, 0x7fffffff), ERROR_CODE.FLOW_CONTROL_ERROR],
  ];
  for (const [what, frame, code] of cases) {
    await withPeer(async (client, peer) => {
      const stream = await client.request({ headers: get(), end: true });
      await peer.next(FRAME.HEADERS, 1);
      // The bad frame, then a PING that must not be answered: nothing after it is looked at.
      await peer.send(frame, {
        type: FRAME.PING,
        flags: 0,
        stream: 0,
        payload: new Uint8Array(8),
      });
      const goaway = await peer.next(FRAME.GOAWAY);
      assert.equal(readUint32(goaway.payload, 4), code, what);
      const reason = await within(client.closed, 5_000);
      assert.ok(reason instanceof Http2Error, what);
      assert.equal(reason.code, code, what);
      await assert.rejects(stream.response(), (error) => error === reason);
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(peer.received(FRAME.PING).length, 0, what);
      assert.equal(peer.received(FRAME.GOAWAY).length, 1, what);
    });
  }
});

Deno.test("http2 client: a request waiting for a free stream ends when its signal aborts", async () => {
  await withPeer(async (client, peer) => {
    await client.request({ headers: get("/a"), end: true });
    await peer.next(FRAME.HEADERS, 1);
    const controller = new AbortController();
    const waiting = client.request({ headers: get("/b"), end: true, signal: controller.signal });
    await delay(20);
    controller.abort(new Error("gave up"));
    await assert.rejects(within(waiting, 1_000), /gave up/);
    assert.equal(peer.received(FRAME.HEADERS).length, 1, "the second request was never sent");
  }, [[SETTING.MAX_CONCURRENT_STREAMS, 1]]);
});

Deno.test("http2 client: two writes on one stream go out one after the other", async () => {
  await withPeer(async (client, peer) => {
    const stream = await client.request({ headers: post(), end: false });
    await peer.next(FRAME.HEADERS, 1);
    // 15 bytes each with a window of 10: the first write waits, the second must not cut in.
    const writes = [
      stream.write(encoder.encode("aaaaaaaaaaaaaaa")),
      stream.write(encoder.encode("bbbbbbbbbbbbbbb"), { end: true }),
    ];
    for (let frame = await peer.next(FRAME.DATA, 1);; frame = await peer.next(FRAME.DATA, 1)) {
      if (frame.flags & FLAG.END_STREAM) break;
      await peer.send(windowUpdate(1, 10));
    }
    await within(Promise.all(writes), 5_000);
    const sent = peer.received(FRAME.DATA, 1).map((f) => decoder.decode(f.payload)).join("");
    assert.equal(sent, "aaaaaaaaaaaaaaabbbbbbbbbbbbbbb");
  }, [[SETTING.INITIAL_WINDOW_SIZE, 10]]);
});

Deno.test("http2 client: a response that ends before the request ends the request (RST_STREAM)", async () => {
  await withPeer(async (client, peer) => {
    const stream = await client.request({ headers: post(), body: encoder.encode("x"), end: false });
    await peer.next(FRAME.DATA, 1);
    await peer.send(headers(1, [[":status", "200"]], FLAG.END_HEADERS | FLAG.END_STREAM));
    assert.deepEqual(await stream.response(), [[":status", "200"]]);
    const reset = await peer.next(FRAME.RST_STREAM, 1);
    assert.equal(readUint32(reset.payload, 0), ERROR_CODE.CANCEL);
    await assert.rejects(stream.write(encoder.encode("more")), /has ended/);
  });
});

Deno.test("http2 client: a WINDOW_UPDATE of 0 on a stream resets that stream only", async () => {
  await withPeer(async (client, peer) => {
    const bad = await client.request({ headers: get("/a"), end: true });
    const good = await client.request({ headers: get("/b"), end: true });
    await peer.next(FRAME.HEADERS, 3);
    await peer.send(windowUpdate(1, 0));
    const reset = await peer.next(FRAME.RST_STREAM, 1);
    assert.equal(readUint32(reset.payload, 0), ERROR_CODE.PROTOCOL_ERROR);
    await assert.rejects(bad.response(), isHttp2Error((e) => assert.equal(e.code, 1)));
    await peer.send(headers(3, [[":status", "204"]], FLAG.END_HEADERS | FLAG.END_STREAM));
    assert.deepEqual(await good.response(), [[":status", "204"]]);
    assert.equal(client.usable, true);
  });
});

Deno.test("http2 client: a server that stops answering is sent a PING, then dropped", async () => {
  const server = fakeServer();
  let client: Http2Connection | undefined;
  try {
    const connecting = http2Connect({ hostname: "127.0.0.1", port: server.port, keepAliveMs: 100 });
    const peer = await server.peer(0);
    await peer.handshake();
    client = await within(connecting, 5_000);
    await delay(300);
    assert.equal(peer.received(FRAME.PING).length, 0, "no PING while no stream is open");
    await client.request({ headers: get(), end: true });
    const ping = await peer.next(FRAME.PING);
    assert.equal(ping.flags, 0);
    // An answer keeps it: the ACK counts as a frame from the server.
    await peer.send({ type: FRAME.PING, flags: FLAG.ACK, stream: 0, payload: ping.payload });
    await delay(120);
    assert.equal(client.usable, true);
    const reason = await within(client.closed, 2_000); // nothing more: dropped
    assert.match(reason.message, /answered nothing/);
  } finally {
    client?.close();
    await server.close();
  }
});

Deno.test("http2 client: a GOAWAY sends a request waiting for a free stream elsewhere at once", async () => {
  await withPeer(async (client, peer) => {
    const open = await client.request({ headers: get("/a"), end: true });
    await peer.next(FRAME.HEADERS, 1);
    const waiting = client.request({ headers: get("/b"), end: true });
    await delay(20);
    // Stream 1 goes on; nothing new is taken.
    await peer.send(goAway(1, ERROR_CODE.NO_ERROR));
    await assert.rejects(
      within(waiting, 1_000),
      (error) => error instanceof Http2Error && error.unprocessed,
    );
    await peer.send(headers(1, [[":status", "200"]], FLAG.END_HEADERS | FLAG.END_STREAM));
    assert.deepEqual(await open.response(), [[":status", "200"]]);
  }, [[SETTING.MAX_CONCURRENT_STREAMS, 1]]);
});

Deno.test("http2 client: a stream the server answered is not unprocessed, whatever ends it", async () => {
  await withPeer(async (client, peer) => {
    const refused = await client.request({ headers: get("/a"), end: true });
    await peer.next(FRAME.HEADERS, 1);
    await peer.send(
      headers(1, [[":status", "200"]], FLAG.END_HEADERS),
      resetStream(1, ERROR_CODE.REFUSED_STREAM),
    );
    await refused.response().catch(() => {});
    await assert.rejects(
      refused.read(),
      (error) => error instanceof Http2Error && !error.unprocessed,
    );
    // Data before a GOAWAY that excludes the stream (which a server should not send) also counts.
    const late = await client.request({ headers: get("/b"), end: true });
    await peer.next(FRAME.HEADERS, 3);
    await peer.send(
      headers(3, [[":status", "200"]], FLAG.END_HEADERS),
      { type: FRAME.DATA, flags: 0, stream: 3, payload: new Uint8Array([1]) },
      goAway(1, ERROR_CODE.NO_ERROR),
    );
    await assert.rejects(
      (async () => {
        while (await late.read() !== undefined) { /* drain */ }
      })(),
      (error) => error instanceof Http2Error && !error.unprocessed,
    );
  });
});
