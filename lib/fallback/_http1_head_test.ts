import assert from "node:assert/strict";
import {
  BadResponseError,
  headBytes,
  headEnd,
  latin1,
  parseResponseHead,
  requestHead,
} from "./_http1_head.ts";

Deno.test("parseResponseHead: the body's framing and whether the connection stays", () => {
  const rows: [string, string, string, object, boolean][] = [
    [
      "length",
      "HTTP/1.1 200 OK\r\ncontent-length: 12",
      "GET",
      { kind: "length", length: 12 },
      true,
    ],
    ["same length twice", "HTTP/1.1 200 OK\r\ncontent-length: 3, 3", "GET", {
      kind: "length",
      length: 3,
    }, true],
    ["chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked", "GET", { kind: "chunked" }, true],
    [
      "chunked wins over a length",
      "HTTP/1.1 200 OK\r\ncontent-length: 5\r\ntransfer-encoding: chunked",
      "GET",
      { kind: "chunked" },
      false,
    ],
    [
      "until the close",
      "HTTP/1.1 200 OK\r\ncontent-type: text/plain",
      "GET",
      { kind: "close" },
      false,
    ],
    ["Connection: close", "HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 0", "GET", {
      kind: "length",
      length: 0,
    }, false],
    [
      "HTTP/1.0",
      "HTTP/1.0 200 OK\r\ncontent-length: 2",
      "GET",
      { kind: "length", length: 2 },
      false,
    ],
    [
      "HTTP/1.0 keep-alive",
      "HTTP/1.0 200 OK\r\nconnection: Keep-Alive\r\ncontent-length: 2",
      "GET",
      { kind: "length", length: 2 },
      true,
    ],
    ["HEAD", "HTTP/1.1 200 OK\r\ncontent-length: 99", "HEAD", { kind: "none" }, true],
    ["204", "HTTP/1.1 204 No Content", "DELETE", { kind: "none" }, true],
    ["304", "HTTP/1.1 304 Not Modified\r\ncontent-length: 99", "GET", { kind: "none" }, true],
    ["100", "HTTP/1.1 100 Continue", "POST", { kind: "none" }, true],
    [
      "HEAD, length beside chunked",
      "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-length: 5",
      "HEAD",
      { kind: "none" },
      false,
    ],
  ];
  for (const [name, head, method, framing, keepAlive] of rows) {
    const parsed = parseResponseHead(head, method);
    assert.deepEqual(parsed.framing, framing, name);
    assert.equal(parsed.keepAlive, keepAlive, name);
  }
});

Deno.test("parseResponseHead keeps end-to-end headers in order and drops hop-by-hop ones", () => {
  const head = parseResponseHead(
    [
      "HTTP/1.1 302 Found here",
      "Set-Cookie: a=1",
      "Connection: keep-alive, X-Hop",
      "X-Hop: dropped",
      "Keep-Alive: timeout=5",
      "Location:  /hub/login \t",
      "Set-Cookie: b=2",
      "Transfer-Encoding: chunked",
      "Content-Length: 0",
    ].join("\r\n"),
    "GET",
  );
  assert.equal(head.status, 302);
  assert.equal(head.statusText, "Found here");
  assert.deepEqual(head.headers, [
    ["set-cookie", "a=1"],
    ["location", "/hub/login"],
    ["set-cookie", "b=2"],
  ]); // the length beside chunked is dropped too (RFC 9112, 6.3)
  assert.equal(parseResponseHead("HTTP/1.1 200", "GET").statusText, "");
  assert.deepEqual(
    parseResponseHead("HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\nx: 1\r\ncontent-length: 5", "GET")
      .headers,
    [["content-length", "5"], ["x", "1"]],
  );
});

Deno.test("parseResponseHead refuses heads that are not HTTP/1.x or have untrustworthy fields", () => {
  for (
    const head of [
      "HTTP/2 200 OK",
      "HTTP/1.1 20 OK",
      "HTTP/1.1 099 Early",
      "ICY 200 OK",
      "HTTP/1.1 200 OK\r\nbad header",
      "HTTP/1.1 200 OK\r\nx: 1\r\n folded",
      "HTTP/1.1 200 OK\r\nbad name: 1",
      "HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 2",
      "HTTP/1.1 200 OK\r\ncontent-length: -1",
      "HTTP/1.1 200 OK\r\ncontent-length: 1, 2",
      "HTTP/1.1 200 OK\r\ntransfer-encoding: gzip, chunked",
    ]
  ) {
    assert.throws(() => parseResponseHead(head, "GET"), BadResponseError, head);
  }
});

Deno.test("latin1 gives one character per byte, and headEnd finds the empty line", () => {
  const bytes = new Uint8Array([0x61, 0xe9, 0x80, 0xff, 0x0d, 0x0a, 0x0d, 0x0a, 0x62]);
  assert.equal(latin1(bytes, 0, 4), "a\u00e9\u0080\u00ff");
  assert.equal(latin1(bytes, 0, 1), "a");
  assert.equal(headEnd(bytes, 0, bytes.length), 4);
  assert.equal(headEnd(bytes, 0, 7), -1);
  assert.equal(headEnd(bytes, 5, bytes.length), -1);
});

Deno.test("headBytes writes one byte per character and refuses characters above U+00FF", () => {
  assert.deepEqual([...headBytes("a\u00e9")], [0x61, 0xe9]);
  assert.deepEqual([...headBytes("ab")], [0x61, 0x62]);
  assert.throws(() => headBytes("\u010a"), RangeError);
});

Deno.test("requestHead writes the fields as given and adds Host only when missing", () => {
  assert.equal(
    requestHead({ method: "GET", target: "/a?b", host: "127.0.0.1:9", fields: [["x-a", "1"]] }),
    "GET /a?b HTTP/1.1\r\nx-a: 1\r\nhost: 127.0.0.1:9\r\n\r\n",
  );
  assert.equal(
    requestHead({ method: "POST", target: "/", host: "t", fields: [["host", "hub.example"]] }),
    "POST / HTTP/1.1\r\nhost: hub.example\r\n\r\n",
  );
});
