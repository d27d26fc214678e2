import assert from "node:assert/strict";
import { encodeHeaders, type HeaderField, hpackDecoder, HpackError } from "./_hpack.ts";

/** The octets written in `text` as hex digits, spaces ignored (as in RFC 7541 Appendix C). */
function hex(text: string): Uint8Array {
  const digits = text.replace(/\s+/g, "");
  return Uint8Array.from(digits.match(/../g) ?? [], (pair) => parseInt(pair, 16));
}

/** Decodes each block in turn with one decoder, checking the fields and the table size after. */
function decodeSequence(
  blocks: [block: string, fields: HeaderField[], tableSize: number][],
  maxTableSize?: number,
): void {
  const decoder = hpackDecoder({ maxTableSize });
  blocks.forEach(([block, fields, tableSize], i) => {
    assert.deepEqual(decoder.decode(hex(block)), fields, `block ${i + 1}`);
    assert.equal(decoder.tableSize, tableSize, `table size after block ${i + 1}`);
  });
}

/** Asserts that decoding `block` with a new decoder throws an HpackError matching `message`. */
function assertBad(block: Uint8Array | string, message: RegExp, maxTableSize?: number): void {
  const bytes = typeof block === "string" ? hex(block) : block;
  assert.throws(() => hpackDecoder({ maxTableSize }).decode(bytes), (error: unknown) => {
    assert.ok(error instanceof HpackError, `${error}`);
    assert.equal(error.name, "HpackError");
    assert.match(error.message, message);
    return true;
  });
}

Deno.test("hpack: RFC 7541 C.2 single representations", () => {
  decodeSequence([[
    "400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572",
    [["custom-key", "custom-header"]],
    55,
  ]]);
  decodeSequence([["040c 2f73 616d 706c 652f 7061 7468", [[":path", "/sample/path"]], 0]]);
  decodeSequence([["1008 7061 7373 776f 7264 0673 6563 7265 74", [["password", "secret"]], 0]]);
  decodeSequence([["82", [[":method", "GET"]], 0]]);
});

const C3_FIELDS: HeaderField[][] = [
  [[":method", "GET"], [":scheme", "http"], [":path", "/"], [":authority", "www.example.com"]],
  [
    [":method", "GET"],
    [":scheme", "http"],
    [":path", "/"],
    [":authority", "www.example.com"],
    ["cache-control", "no-cache"],
  ],
  [
    [":method", "GET"],
    [":scheme", "https"],
    [":path", "/index.html"],
    [":authority", "www.example.com"],
    ["custom-key", "custom-value"],
  ],
];

Deno.test("hpack: RFC 7541 C.3 requests without Huffman coding", () => {
  decodeSequence([
    ["8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d", C3_FIELDS[0], 57],
    ["8286 84be 5808 6e6f 2d63 6163 6865", C3_FIELDS[1], 110],
    ["8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65", C3_FIELDS[2], 164],
  ]);
});

Deno.test("hpack: RFC 7541 C.4 requests with Huffman coding", () => {
  decodeSequence([
    ["8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff", C3_FIELDS[0], 57],
    ["8286 84be 5886 a8eb 1064 9cbf", C3_FIELDS[1], 110],
    ["8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf", C3_FIELDS[2], 164],
  ]);
});

const C5_FIELDS: HeaderField[][] = [
  [
    [":status", "302"],
    ["cache-control", "private"],
    ["date", "Mon, 21 Oct 2013 20:13:21 GMT"],
    ["location", "https://www.example.com"],
  ],
  [
    [":status", "307"],
    ["cache-control", "private"],
    ["date", "Mon, 21 Oct 2013 20:13:21 GMT"],
    ["location", "https://www.example.com"],
  ],
  [
    [":status", "200"],
    ["cache-control", "private"],
    ["date", "Mon, 21 Oct 2013 20:13:22 GMT"],
    ["location", "https://www.example.com"],
    ["content-encoding", "gzip"],
    ["set-cookie", "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1"],
  ],
];

const C5_1 = `4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133
  2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70
  6c65 2e63 6f6d`;

Deno.test("hpack: RFC 7541 C.5 responses without Huffman coding, table size 256", () => {
  decodeSequence([
    [C5_1, C5_FIELDS[0], 222],
    ["4803 3330 37c1 c0bf", C5_FIELDS[1], 222],
    [
      `88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d
       54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049
       5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e
       3d31`,
      C5_FIELDS[2],
      215,
    ],
  ], 256);
});

Deno.test("hpack: RFC 7541 C.6 responses with Huffman coding, table size 256", () => {
  decodeSequence([
    [
      `4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6
       2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3`,
      C5_FIELDS[0],
      222,
    ],
    ["4883 640e ffc1 c0bf", C5_FIELDS[1], 222],
    [
      `88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab
       77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f
       9587 3160 65c0 03ed 4ee5 b106 3d50 07`,
      C5_FIELDS[2],
      215,
    ],
  ], 256);
});

/** A literal with incremental indexing and a new name (short raw strings). */
function encodeAsIndexed(name: string, value: string): Uint8Array {
  const octets = (text: string) => [text.length, ...[...text].map((c) => c.charCodeAt(0))];
  return Uint8Array.of(0x40, ...octets(name), ...octets(value));
}

Deno.test("hpack: evicted entries are gone, an entry larger than the table empties it", () => {
  // After C.5.2, ":status: 302" (the oldest) was evicted: the table holds 4 entries, 62..65,
  // the oldest (65) being "cache-control: private".
  const decoder = hpackDecoder({ maxTableSize: 256 });
  decoder.decode(hex(C5_1));
  decoder.decode(hex("4803 3330 37c1 c0bf"));
  assert.deepEqual(decoder.decode(hex("c1")), [["cache-control", "private"]]);
  assert.throws(() => decoder.decode(hex("c2")), HpackError);

  const small = hpackDecoder({ maxTableSize: 40 });
  small.decode(hex("4001 6101 62")); // "a: b", 34 octets
  assert.equal(small.tableSize, 34);
  small.decode(hex("4001 6303 6465 66")); // "c: def", 36 octets: "a: b" is evicted
  assert.deepEqual(small.decode(hex("be")), [["c", "def"]]);
  assert.equal(small.tableSize, 36);
  const big = "x".repeat(9);
  assert.deepEqual(small.decode(encodeAsIndexed("big", big)), [["big", big]]);
  assert.equal(small.tableSize, 0);
  assert.throws(() => small.decode(hex("be")), /index 62 beyond the tables/);
});

Deno.test("hpack: dynamic table size updates at the start of a block", () => {
  const decoder = hpackDecoder();
  decoder.decode(encodeAsIndexed("foo", "bar"));
  assert.equal(decoder.tableSize, 38);
  // Two updates (down to 0, which empties the table, then back up to 4096), then an indexed field.
  assert.deepEqual(decoder.decode(hex("20 3fe1 1f 82")), [[":method", "GET"]]);
  assert.equal(decoder.tableSize, 0);
  assert.throws(() => decoder.decode(hex("be")), HpackError);
  // The update to 4096 took effect: an entry fits again.
  decoder.decode(encodeAsIndexed("foo", "bar"));
  assert.equal(decoder.tableSize, 38);
  // Exactly the maximum is allowed.
  assert.deepEqual(hpackDecoder({ maxTableSize: 256 }).decode(hex("3fe101")), []);
});

Deno.test("hpack: encodeHeaders writes literals without indexing, raw strings", () => {
  assert.deepEqual([...encodeHeaders([])], []);
  // ":path" is static index 4 (first match of the name), "user-agent" 58 needs a continuation.
  assert.deepEqual(
    [...encodeHeaders([[":path", "/"], ["user-agent", "x"]])],
    [0x04, 1, 0x2f, 0x0f, 58 - 15, 1, 0x78],
  );
  assert.deepEqual([...encodeHeaders([["te", ""]])], [0x00, 2, 0x74, 0x65, 0]);
  // A 200-octet value: the 7-bit prefix is full, then 200 - 127 = 73.
  const long = encodeHeaders([["te", "t".repeat(200)]]);
  assert.deepEqual([...long.subarray(0, 6)], [0x00, 2, 0x74, 0x65, 0x7f, 73]);
  assert.equal(long.length, 6 + 200);
});

Deno.test("hpack: encodeHeaders -> decode round trip leaves the peer's table alone", () => {
  const binary = Array.from({ length: 128 }, (_, i) => String.fromCharCode(0x80 + i)).join("");
  const fields: HeaderField[] = [
    [":method", "POST"],
    [":scheme", "http"],
    [":path", "/etcdserverpb.KV/Range"],
    [":authority", "127.0.0.1:2379"],
    ["content-type", "application/grpc"],
    ["user-agent", "jupyterhub-traefik-proxy"],
    ["te", "trailers"],
    ["grpc-timeout", "5S"],
    ["x-bin", binary],
    ["x-empty", ""],
    ["x-long", "v".repeat(5000)],
    ["set-cookie", "a=b"],
  ];
  const decoder = hpackDecoder();
  for (let i = 0; i < 3; i++) {
    assert.deepEqual(decoder.decode(encodeHeaders(fields)), fields);
    assert.equal(decoder.tableSize, 0);
  }
  const [, value] = decoder.decode(encodeHeaders([["x-bin", binary]]))[0];
  assert.deepEqual(
    [...value].map((c) => c.charCodeAt(0)),
    [...Array(128).keys()].map((i) => 0x80 + i),
  );
});

Deno.test("hpack: encodeHeaders refuses chars above U+00FF", () => {
  assert.throws(() => encodeHeaders([["x", "€"]]), TypeError);
  assert.throws(() => encodeHeaders([["x-é€", "v"]]), TypeError);
  assert.doesNotThrow(() => encodeHeaders([["x-\u00e9", "\u00ff"]]));
});

Deno.test("hpack: Huffman-coded octets above 0x7f and raw ones decode alike", () => {
  // 0xff has the 26-bit code 0x3ffffee; with 6 bits of padding that is 4 octets.
  const code = (0x3ffffee << 6) | 0x3f;
  const octets = [code >>> 24, (code >>> 16) & 0xff, (code >>> 8) & 0xff, code & 0xff];
  assert.deepEqual(hpackDecoder().decode(Uint8Array.of(0x04, 0x84, ...octets)), [[
    ":path",
    "\xff",
  ]]);
  // An empty Huffman-coded string.
  assert.deepEqual(hpackDecoder().decode(hex("0480")), [[":path", ""]]);
});

Deno.test("hpack: malformed blocks throw HpackError", () => {
  assertBad("80", /index 0/);
  assertBad("be", /index 62 beyond the tables \(61 entries\)/);
  assertBad("ff00", /index 127 beyond/);
  assertBad("0f30 00", /index 63 beyond/); // a literal's name index
  assertBad("3fe201", /size update to 257 above the maximum 256/, 256);
  assertBad("3fe11f", /size update to 4096 above the maximum 256/, 256);
  assertBad("8220", /size update after a header field/);
  assertBad("ff", /truncated integer/);
  assertBad("ff80", /truncated integer/);
  assertBad("4005 61", /truncated string: 5 octets announced, 1 left/);
  assertBad("4001 61", /truncated string \(no length\)/);
  assertBad("04", /truncated string \(no length\)/);
  assertBad("047f", /truncated integer/);
  // "a" is 00011: three padding bits 000 instead of 111.
  assertBad("0481 18", /padding is not all ones/);
  assert.deepEqual(hpackDecoder().decode(hex("0481 1f")), [[":path", "a"]]);
  // "a" then a whole octet of ones: 11 bits of padding.
  assertBad("0482 1fff", /padding of 11 bits/);
  // 30 ones are EOS.
  assertBad("0484 ffff ffff", /contains EOS/);
  assertBad("ffff ffff ff0f", /integer above 2\^31/);
  assertBad("ff80 8080 8080 00", /more than 5 continuation octets/);
  // 127 + 2^31 - 127 = 2^31 is the largest integer read (then refused as an index).
  assertBad("ff81 ffff ff07", /index 2147483648 beyond/);
  assertBad("ff82 ffff ff07", /integer above 2\^31/);
});
