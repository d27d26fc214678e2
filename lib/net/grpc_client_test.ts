import assert from "node:assert/strict";
import { joinBytes } from "../core/bytes.ts";
import { encodeHeaders, type HeaderField } from "./_hpack.ts";
import {
  ERROR_CODE,
  FLAG,
  FRAME,
  type FrameToSend,
  readUint32,
  uint32Payload,
} from "./_http2_frame.ts";
import { GRPC_STATUS, grpcChannel, GrpcError, messageFrames } from "./grpc_client.ts";
import {
  fakeHttp2Server,
  type FakeServer,
  goAway,
  resetStream,
  within,
} from "../../tests/http2_peer.ts";
import { freePort, silentServer } from "../../tests/helpers.ts";

const fakeServer = () => fakeHttp2Server({ handshake: true });

const encoder = new TextEncoder();
const decoder = new TextDecoder();

const concat = (...parts: Uint8Array[]) => joinBytes(parts);

/** A gRPC message on the wire: flag 0, big-endian length, the bytes. */
function framed(message: Uint8Array | string): Uint8Array {
  const bytes = typeof message === "string" ? encoder.encode(message) : message;
  return concat(Uint8Array.of(0), uint32Payload(bytes.length), bytes);
}

function headers(stream: number, fields: HeaderField[], flags: number): FrameToSend {
  return { type: FRAME.HEADERS, flags, stream, payload: encodeHeaders(fields) };
}

const OK_HEADERS: HeaderField[] = [[":status", "200"], ["content-type", "application/grpc"]];

/** A whole gRPC response: headers, each message in a DATA frame, trailers. */
function response(stream: number, messages: string[], trailers: HeaderField[]): FrameToSend[] {
  return [
    headers(stream, OK_HEADERS, FLAG.END_HEADERS),
    ...messages.map((message) => ({
      type: FRAME.DATA,
      flags: 0,
      stream,
      payload: framed(message),
    })),
    headers(stream, trailers, FLAG.END_HEADERS | FLAG.END_STREAM),
  ];
}

function isGrpcError(check: (error: GrpcError) => void) {
  return (error: unknown) => {
    assert.ok(error instanceof GrpcError, `not a GrpcError: ${error}`);
    assert.equal(error.name, "GrpcError");
    check(error);
    return true;
  };
}

/** A channel to a fresh fake server; both closed after `test`. */
async function withChannel(
  test: (channel: ReturnType<typeof grpcChannel>, server: FakeServer) => Promise<void>,
): Promise<void> {
  const server = fakeServer();
  const channel = grpcChannel({ url: `http://127.0.0.1:${server.port}` });
  try {
    await within(test(channel, server), 10_000); // a stall fails instead of hanging
  } finally {
    channel.close();
    await server.close();
  }
}

// ---------------------------------------------------------------------------------------------
// messageFrames

Deno.test("messageFrames reassembles a message split at every byte position", () => {
  const message = Uint8Array.from({ length: 300 }, (_, i) => (i * 31) & 0xff);
  const wire = framed(message);
  for (let cut = 0; cut <= wire.length; cut++) {
    const frames = messageFrames();
    frames.push(wire.subarray(0, cut));
    if (cut < wire.length) {
      assert.equal(frames.take(), undefined, `only ${cut} bytes`);
      assert.equal(frames.size, cut);
    }
    frames.push(wire.subarray(cut));
    assert.deepEqual(frames.take(), message, `cut at ${cut}`);
    assert.equal(frames.size, 0);
    assert.equal(frames.take(), undefined);
  }
  // and one byte at a time
  const frames = messageFrames();
  wire.forEach((byte, i) => {
    assert.equal(frames.take(), undefined, `after ${i} bytes`);
    frames.push(Uint8Array.of(byte));
  });
  assert.deepEqual(frames.take(), message);
  assert.equal(frames.size, 0);
});

Deno.test("messageFrames takes several messages from one chunk, and an empty one", () => {
  const frames = messageFrames();
  const chunk = concat(framed("first"), framed(""), framed("second"), framed("thi"));
  frames.push(chunk.subarray(0, chunk.length - 1));
  assert.equal(decoder.decode(frames.take()), "first");
  assert.deepEqual(frames.take(), new Uint8Array());
  assert.equal(decoder.decode(frames.take()), "second");
  assert.equal(frames.take(), undefined, "the last one is a byte short");
  assert.equal(frames.size, 5 + 2);
  frames.push(chunk.subarray(chunk.length - 1));
  assert.equal(decoder.decode(frames.take()), "thi");
  assert.equal(frames.size, 0);
});

Deno.test("messageFrames refuses a compressed message", () => {
  const frames = messageFrames();
  frames.push(concat(framed("ok"), Uint8Array.of(1, 0, 0, 0, 1, 42)));
  assert.equal(decoder.decode(frames.take()), "ok");
  assert.throws(
    () => frames.take(),
    isGrpcError((error) => {
      assert.equal(error.code, GRPC_STATUS.UNKNOWN);
      assert.match(error.message, /compressed/);
    }),
  );
});

// ---------------------------------------------------------------------------------------------
// unary calls

Deno.test("grpc unary: sends the request as gRPC and returns the response message", async () => {
  await withChannel(async (channel, server) => {
    const call = channel.unary("/etcdserverpb.KV/Range", encoder.encode("request bytes"), {
      metadata: [["token", "secret-token"], ["x-extra", "1"]],
    });
    const peer = await server.peer(0);
    const head = await peer.next(FRAME.HEADERS, 1);
    assert.deepEqual(head.fields, [
      [":method", "POST"],
      [":scheme", "http"],
      [":authority", `127.0.0.1:${server.port}`],
      [":path", "/etcdserverpb.KV/Range"],
      ["content-type", "application/grpc"],
      ["te", "trailers"],
      ["token", "secret-token"],
      ["x-extra", "1"],
    ]);
    assert.equal(head.flags & FLAG.END_STREAM, 0, "the body follows the headers");
    const body = await peer.next(FRAME.DATA, 1);
    assert.deepEqual(body.payload, framed("request bytes"));
    assert.equal(body.flags, FLAG.END_STREAM);
    await peer.send(...response(1, ["response bytes"], [["grpc-status", "0"]]));
    assert.equal(decoder.decode(await within(call, 5_000)), "response bytes");
  });
});

Deno.test("grpc unary: a message split over DATA frames, the status in the trailers", async () => {
  await withChannel(async (channel, server) => {
    const call = channel.unary("/a.B/C", new Uint8Array());
    const peer = await server.peer(0);
    const body = await peer.next(FRAME.DATA, 1);
    assert.deepEqual([...body.payload], [0, 0, 0, 0, 0], "an empty message is its prefix");
    const wire = framed("x".repeat(1000));
    await peer.send(
      headers(1, OK_HEADERS, FLAG.END_HEADERS),
      { type: FRAME.DATA, flags: 0, stream: 1, payload: wire.subarray(0, 3) },
      { type: FRAME.DATA, flags: 0, stream: 1, payload: wire.subarray(3, 600) },
      { type: FRAME.DATA, flags: 0, stream: 1, payload: wire.subarray(600) },
      headers(1, [["grpc-status", "0"], ["grpc-message", ""]], FLAG.END_HEADERS | FLAG.END_STREAM),
    );
    assert.equal(decoder.decode(await within(call, 5_000)), "x".repeat(1000));
  });
});

Deno.test("grpc unary: a trailers-only error status with a percent-encoded message", async () => {
  await withChannel(async (channel, server) => {
    const call = channel.unary("/a.B/C", encoder.encode("q"));
    const peer = await server.peer(0);
    await peer.next(FRAME.DATA, 1);
    await peer.send(headers(1, [
      ...OK_HEADERS,
      ["grpc-status", "5"],
      ["grpc-message", "not%20found"],
    ], FLAG.END_HEADERS | FLAG.END_STREAM));
    await assert.rejects(
      within(call, 5_000),
      isGrpcError((error) => {
        assert.equal(error.code, 5);
        assert.equal(error.message, "not found");
        assert.equal(error.unprocessed, false);
      }),
    );
  });
});

Deno.test("grpc unary: an error status in the trailers after a message still fails the call", async () => {
  await withChannel(async (channel, server) => {
    const call = channel.unary("/a.B/C", encoder.encode("q"));
    const peer = await server.peer(0);
    await peer.next(FRAME.DATA, 1);
    await peer.send(...response(1, ["partial answer"], [["grpc-status", "7"]]));
    await assert.rejects(
      within(call, 5_000),
      isGrpcError((error) => {
        assert.equal(error.code, GRPC_STATUS.PERMISSION_DENIED);
        assert.equal(error.message, "gRPC status 7");
      }),
    );
  });
});

Deno.test("grpc unary: an HTTP status other than 200 maps to a gRPC code", async () => {
  const cases: [status: string, code: number][] = [
    ["503", GRPC_STATUS.UNAVAILABLE],
    ["502", GRPC_STATUS.UNAVAILABLE],
    ["401", GRPC_STATUS.UNAUTHENTICATED],
    ["403", GRPC_STATUS.PERMISSION_DENIED],
    ["404", GRPC_STATUS.UNKNOWN],
  ];
  await withChannel(async (channel, server) => {
    for (const [i, [status, code]] of cases.entries()) {
      const id = 1 + 2 * i;
      const call = channel.unary("/a.B/C", encoder.encode("q"));
      const peer = await server.peer(0);
      await peer.next(FRAME.DATA, id);
      await peer.send(
        headers(id, [[":status", status], ["content-type", "text/plain"]], FLAG.END_HEADERS),
        { type: FRAME.DATA, flags: FLAG.END_STREAM, stream: id, payload: encoder.encode("no") },
      );
      await assert.rejects(
        within(call, 5_000),
        isGrpcError((error) => {
          assert.equal(error.code, code, `HTTP ${status}`);
          assert.match(error.message, new RegExp(`HTTP ${status}`));
        }),
      );
    }
    assert.equal(server.peers.length, 1);
  });
});

Deno.test("grpc unary: a response without grpc-status is an error", async () => {
  await withChannel(async (channel, server) => {
    const call = channel.unary("/a.B/C", encoder.encode("q"));
    const peer = await server.peer(0);
    await peer.next(FRAME.DATA, 1);
    await peer.send(
      headers(1, OK_HEADERS, FLAG.END_HEADERS),
      { type: FRAME.DATA, flags: FLAG.END_STREAM, stream: 1, payload: framed("answer") },
    );
    await assert.rejects(
      within(call, 5_000),
      isGrpcError((error) => {
        assert.equal(error.code, GRPC_STATUS.UNKNOWN);
        assert.match(error.message, /no gRPC status/);
      }),
    );
  });
});

Deno.test("grpc unary: a response that ends inside a message is an error", async () => {
  await withChannel(async (channel, server) => {
    const call = channel.unary("/a.B/C", encoder.encode("q"));
    const peer = await server.peer(0);
    await peer.next(FRAME.DATA, 1);
    await peer.send(
      headers(1, OK_HEADERS, FLAG.END_HEADERS),
      { type: FRAME.DATA, flags: 0, stream: 1, payload: framed("answer").subarray(0, 8) },
      headers(1, [["grpc-status", "0"]], FLAG.END_HEADERS | FLAG.END_STREAM),
    );
    await assert.rejects(
      within(call, 5_000),
      isGrpcError((error) => {
        assert.equal(error.code, GRPC_STATUS.UNKNOWN);
        assert.match(error.message, /inside a message/);
      }),
    );
  });
});

Deno.test("grpc unary: a refused port is UNAVAILABLE and unprocessed", async () => {
  const port = freePort(); // nothing listens there
  const channel = grpcChannel({ url: `http://127.0.0.1:${port}` });
  try {
    await assert.rejects(
      channel.unary("/a.B/C", encoder.encode("q")),
      isGrpcError((error) => {
        assert.equal(error.unprocessed, true);
        assert.equal(error.code, GRPC_STATUS.UNAVAILABLE);
        assert.match(error.message, /cannot connect/);
      }),
    );
  } finally {
    channel.close();
  }
});

Deno.test("grpc: a TLS handshake that does not finish gives up after connectTimeoutMs", async () => {
  const peer = silentServer();
  const channel = grpcChannel({
    url: `https://127.0.0.1:${peer.port}`,
    connectTimeoutMs: 100,
  });
  try {
    const started = Date.now();
    await assert.rejects(
      within(channel.unary("/a.B/C", encoder.encode("q")), 5_000),
      isGrpcError((error) => {
        assert.equal(error.unprocessed, true);
        assert.equal(error.code, GRPC_STATUS.UNAVAILABLE);
        assert.match(error.message, /within 100 ms/);
      }),
    );
    assert.ok(Date.now() - started < 2_000);
    assert.equal(peer.accepted.length, 1);
  } finally {
    channel.close();
    await peer.close();
  }
});

// ---------------------------------------------------------------------------------------------
// streams

Deno.test("grpc stream: messages via next(), then undefined after status 0; send() reaches the server", async () => {
  await withChannel(async (channel, server) => {
    const stream = await channel.stream("/etcdserverpb.Watch/Watch", encoder.encode("create"), {
      metadata: [["token", "t"]],
    });
    const peer = await server.peer(0);
    const head = await peer.next(FRAME.HEADERS, 1);
    assert.equal(head.flags & FLAG.END_STREAM, 0);
    assert.deepEqual(head.fields?.find(([name]) => name === ":path"), [
      ":path",
      "/etcdserverpb.Watch/Watch",
    ]);
    assert.deepEqual(head.fields?.find(([name]) => name === "token"), ["token", "t"]);
    const first = await peer.next(FRAME.DATA, 1);
    assert.deepEqual(first.payload, framed("create"));
    assert.equal(first.flags & FLAG.END_STREAM, 0, "the stream stays open");

    await stream.send(encoder.encode("progress"));
    const second = await peer.next(FRAME.DATA, 1);
    assert.deepEqual(second.payload, framed("progress"));
    assert.equal(second.flags & FLAG.END_STREAM, 0);

    await peer.send(
      headers(1, OK_HEADERS, FLAG.END_HEADERS),
      // two messages in one DATA frame
      { type: FRAME.DATA, flags: 0, stream: 1, payload: concat(framed("one"), framed("two")) },
    );
    assert.equal(decoder.decode(await within(stream.next(), 5_000)), "one");
    assert.equal(decoder.decode(await within(stream.next(), 5_000)), "two");
    const third = stream.next();
    await peer.send(headers(1, [["grpc-status", "0"]], FLAG.END_HEADERS | FLAG.END_STREAM));
    assert.equal(await within(third, 5_000), undefined);
  });
});

Deno.test("grpc stream: an error status ends next() with a GrpcError", async () => {
  await withChannel(async (channel, server) => {
    const stream = await channel.stream("/a.B/C", encoder.encode("x"));
    const peer = await server.peer(0);
    await peer.next(FRAME.DATA, 1);
    await peer.send(...response(1, ["m"], [["grpc-status", "16"], ["grpc-message", "bad token"]]));
    assert.equal(decoder.decode(await within(stream.next(), 5_000)), "m");
    await assert.rejects(
      within(stream.next(), 5_000),
      isGrpcError((error) => {
        assert.equal(error.code, GRPC_STATUS.UNAUTHENTICATED);
        assert.equal(error.message, "bad token");
      }),
    );
  });
});

Deno.test("grpc stream: cancel() resets the stream and next() fails", async () => {
  await withChannel(async (channel, server) => {
    const stream = await channel.stream("/a.B/C", encoder.encode("x"));
    const peer = await server.peer(0);
    await peer.next(FRAME.DATA, 1);
    const waiting = stream.next();
    const reason = new Error("done watching");
    stream.cancel(reason);
    await assert.rejects(
      waiting,
      isGrpcError((error) => {
        assert.equal(error.cause, reason);
        assert.equal(error.message, "done watching");
        assert.equal(error.code, GRPC_STATUS.CANCELLED);
      }),
    );
    await assert.rejects(
      stream.next(),
      isGrpcError((error) => assert.equal(error.code, GRPC_STATUS.CANCELLED)),
    );
    const reset = await peer.next(FRAME.RST_STREAM, 1);
    assert.deepEqual([...reset.payload], [0, 0, 0, 8]); // CANCEL
  });
});

Deno.test("grpc: an aborted signal resets the call's stream; it fails with the signal's reason", async () => {
  await withChannel(async (channel, server) => {
    const abort = new AbortController();
    const stream = await channel.stream("/a.B/C", encoder.encode("x"), { signal: abort.signal });
    const peer = await server.peer(0);
    await peer.next(FRAME.DATA, 1);
    await peer.send(headers(1, OK_HEADERS, FLAG.END_HEADERS));
    const waiting = stream.next();
    // The connection is alive (a PING answered after the headers): an abort keeps it.
    await peer.send({ type: FRAME.PING, flags: 0, stream: 0, payload: new Uint8Array(8) });
    await peer.next(FRAME.PING);
    const reason = new Error("the watch is established again");
    abort.abort(reason);
    await assert.rejects(waiting, (error) => error === reason);
    await assert.rejects(stream.send(encoder.encode("more")), (error) => error === reason);
    const reset = await peer.next(FRAME.RST_STREAM, 1);
    assert.deepEqual([...reset.payload], [0, 0, 0, 8]); // CANCEL

    // a unary call the same way, on the same connection
    const unaryAbort = new AbortController();
    const call = channel.unary("/a.B/D", encoder.encode("y"), { signal: unaryAbort.signal });
    await peer.next(FRAME.DATA, 3);
    await peer.send({ type: FRAME.PING, flags: 0, stream: 0, payload: new Uint8Array(8) });
    await peer.next(FRAME.PING);
    const unaryReason = new Error("timed out");
    unaryAbort.abort(unaryReason);
    await assert.rejects(call, (error) => error === unaryReason);
    await peer.next(FRAME.RST_STREAM, 3);
    assert.equal(server.peers.length, 1);
  });
});

// ---------------------------------------------------------------------------------------------
// the channel's connection

Deno.test("grpc channel: calls share a connection, and a new one is made after it ended", async () => {
  await withChannel(async (channel, server) => {
    const unary = async (peerIndex: number, id: number, answer: string) => {
      const call = channel.unary("/a.B/C", encoder.encode("q"));
      const peer = await server.peer(peerIndex);
      await peer.next(FRAME.DATA, id);
      await peer.send(...response(id, [answer], [["grpc-status", "0"]]));
      assert.equal(decoder.decode(await within(call, 5_000)), answer);
      return peer;
    };
    const first = await unary(0, 1, "a");
    await unary(0, 3, "b");
    assert.equal(server.peers.length, 1, "the second call shares the connection");

    // The server closes its side; the client closes its own once it notices.
    await first.conn.closeWrite();
    await within(first.done, 5_000);
    const second = await unary(1, 1, "c");
    assert.equal(server.peers.length, 2, "a new connection after the first ended");

    // GOAWAY while a stream is open: that stream goes on, but the connection takes no new
    // calls; the next goes on a third one.
    const open = await channel.stream("/a.B/Watch", encoder.encode("w"));
    await second.next(FRAME.DATA, 3);
    await second.send(goAway(3, 0));
    await second.send({ type: FRAME.PING, flags: 0, stream: 0, payload: new Uint8Array(8) });
    await second.next(FRAME.PING); // the client has seen the GOAWAY
    await unary(2, 1, "d");
    assert.equal(server.peers.length, 3);
    await second.send(...response(3, ["still here"], [["grpc-status", "0"]]));
    assert.equal(decoder.decode(await open.next()), "still here");
    assert.equal(await open.next(), undefined);
    await within(second.done, 5_000); // the client closed it once its last stream ended
  });
});

Deno.test("grpc channel: a call after close() fails without connecting", async () => {
  await withChannel(async (channel, server) => {
    channel.close();
    await assert.rejects(
      channel.unary("/a.B/C", encoder.encode("q")),
      isGrpcError((error) => assert.equal(error.code, GRPC_STATUS.CANCELLED)),
    );
    assert.equal(server.peers.length, 0);
  });
});

Deno.test("grpc unary: a 200 response without gRPC's content type is an error", async () => {
  await withChannel(async (channel, server) => {
    const call = channel.unary("/a.B/C", encoder.encode("q"));
    const peer = await server.peer(0);
    await peer.next(FRAME.DATA, 1);
    await peer.send(
      headers(1, [[":status", "200"], ["content-type", "text/html"]], FLAG.END_HEADERS),
      { type: FRAME.DATA, flags: 0, stream: 1, payload: framed("answer") },
    );
    await assert.rejects(
      within(call, 5_000),
      isGrpcError((error) => assert.match(error.message, /content type/)),
    );
    // The stream the client no longer reads is reset.
    const reset = await peer.next(FRAME.RST_STREAM, 1);
    assert.equal(readUint32(reset.payload, 0), ERROR_CODE.CANCEL);
  });
});

Deno.test("grpc channel: a call timed out on a silent connection drops it; on a live one, not", async () => {
  await withChannel(async (channel, server) => {
    // The server answers a PING (the connection is alive) but not the call.
    const live = new AbortController();
    const first = channel.unary("/a.B/C", encoder.encode("q"), { signal: live.signal });
    const peer = await server.peer(0);
    await peer.next(FRAME.DATA, 1);
    await peer.send({ type: FRAME.PING, flags: 0, stream: 0, payload: new Uint8Array(8) });
    await peer.next(FRAME.PING);
    live.abort(new Error("timed out"));
    await assert.rejects(within(first, 5_000), /timed out/);
    // Now a call the server does not answer, with nothing else from it.
    const silent = new AbortController();
    const second = channel.unary("/a.B/C", encoder.encode("q"), { signal: silent.signal });
    await peer.next(FRAME.DATA, 3);
    assert.equal(server.peers.length, 1, "the live connection was kept");
    silent.abort(new Error("timed out"));
    await assert.rejects(within(second, 5_000), /timed out/);
    const call = channel.unary("/a.B/C", encoder.encode("q"));
    const fresh = await server.peer(1);
    await fresh.next(FRAME.DATA, 1);
    await fresh.send(...response(1, ["fresh"], [["grpc-status", "0"]]));
    assert.equal(decoder.decode(await within(call, 5_000)), "fresh");
    assert.equal(server.peers.length, 2);
  });
});

Deno.test("grpc channel: a call refused unprocessed is tried once more, on a new connection", async () => {
  await withChannel(async (channel, server) => {
    // The first connection goes away before processing the call; the second answers it.
    const call = channel.unary("/a.B/C", encoder.encode("q"));
    const first = await server.peer(0);
    await first.next(FRAME.DATA, 1);
    await first.send(goAway(0));
    const second = await server.peer(1);
    await second.next(FRAME.DATA, 1);
    await second.send(...response(1, ["retried"], [["grpc-status", "0"]]));
    assert.equal(decoder.decode(await call), "retried");

    // A stream refused on a connection that stays up: tried again on it.
    const refusedOnce = channel.unary("/a.B/C", encoder.encode("q"));
    await second.next(FRAME.DATA, 3);
    await second.send(resetStream(3, ERROR_CODE.REFUSED_STREAM));
    await second.next(FRAME.DATA, 5);
    await second.send(...response(5, ["again"], [["grpc-status", "0"]]));
    assert.equal(decoder.decode(await refusedOnce), "again");

    // Refused twice: the call fails unprocessed, for its caller to go elsewhere; no third try.
    const twice = channel.unary("/a.B/C", encoder.encode("q"));
    await second.next(FRAME.DATA, 7);
    await second.send(goAway(0));
    const third = await server.peer(2);
    await third.next(FRAME.DATA, 1);
    await third.send(goAway(0));
    await assert.rejects(twice, isGrpcError((error) => assert.ok(error.unprocessed)));
    assert.equal(server.peers.length, 3);
  });
});

Deno.test("grpc channel: a call that fails after it was processed is not tried again", async () => {
  await withChannel(async (channel, server) => {
    const call = channel.unary("/a.B/C", encoder.encode("q"));
    const peer = await server.peer(0);
    await peer.next(FRAME.DATA, 1);
    await peer.send(resetStream(1, 0x2)); // INTERNAL_ERROR
    await assert.rejects(call, isGrpcError((error) => assert.ok(!error.unprocessed)));
    assert.equal(peer.received(FRAME.HEADERS).length, 1, "sent once");
    assert.equal(server.peers.length, 1);
  });
});
