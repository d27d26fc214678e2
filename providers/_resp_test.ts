import assert from "node:assert/strict";
import { joinBytes } from "../lib/core/bytes.ts";
import { commandText, RespDecoder, RespError, RespProtocolError, type RespValue } from "./_resp.ts";

const bytes = (text: string) => new TextEncoder().encode(text);

// Feeds `input` to a fresh decoder in chunks of `size` bytes; returns every reply.
function decodeInChunks(input: Uint8Array, size: number): RespValue[] {
  const decoder = new RespDecoder();
  const out: RespValue[] = [];
  for (let at = 0; at < input.length; at += size) {
    out.push(...decoder.push(input.subarray(at, at + size)));
  }
  return out;
}

Deno.test("commandText: bulk lengths in bytes, any text", () => {
  const text = new TextDecoder().decode(bytes(commandText(["SET", "k\r\n", "", "€"])));
  assert.equal(text, "*4\r\n$3\r\nSET\r\n$3\r\nk\r\n\r\n$0\r\n\r\n$3\r\n€\r\n");
});

Deno.test("RespDecoder: nested replies give the same values in any chunking", () => {
  const input = bytes(
    "*3\r\n*2\r\n$5\r\nhello\r\n$-1\r\n:-12\r\n*0\r\n" + // nested, nil, negative, empty
      "$4\r\na\r\nb\r\n" + // CR LF inside a bulk string
      "*-1\r\n-WRONGTYPE bad\r\n+OK\r\n$2\r\né\r\n",
  );
  const whole = decodeInChunks(input, input.length);
  assert.equal(whole.length, 6);
  assert.deepEqual(whole[0], [["hello", null], -12, []]);
  assert.deepEqual(whole.slice(1, 3), ["a\r\nb", null]);
  assert.ok(whole[3] instanceof RespError);
  assert.equal((whole[3] as RespError).code, "WRONGTYPE");
  assert.deepEqual(whole.slice(4), ["OK", "é"]);
  for (const size of [1, 2, 3, 7, 64]) assert.deepEqual(decodeInChunks(input, size), whole);
});

Deno.test("RespDecoder: a listing of 20,000 values across many reads, buffer reused", () => {
  const values = Array.from({ length: 20_000 }, (_, i) => `jupyterhub/routes/r${i}/target`);
  const input = bytes(
    `*${values.length}\r\n` + values.map((value) => `$${value.length}\r\n${value}\r\n`).join("") +
      ":1\r\n",
  );
  const replies = decodeInChunks(input, 1_000);
  assert.deepEqual(replies, [values, 1]);
  // A decoder keeps working after a large reply.
  const decoder = new RespDecoder();
  decoder.push(input);
  assert.deepEqual(decoder.push(bytes("+PONG\r\n")), ["PONG"]);
});

Deno.test("RespDecoder: bytes that are not RESP2 throw RespProtocolError", () => {
  for (const bad of ["!3\r\n", ":x\r\n", "$1\r\nab\r\n", "+OK\rX"]) {
    assert.throws(() => new RespDecoder().push(bytes(bad)), RespProtocolError, bad);
  }
});

Deno.test("commandText: bulk lengths are UTF-8 bytes, as TextEncoder writes them", () => {
  const samples = [
    "",
    "plain ascii",
    "é",
    "€uro",
    "😀",
    "a😀b",
    "\ud800", // a lone high surrogate: U+FFFD
    "\udc00x", // a lone low surrogate
    "\ud800\ud800\udc00", // a lone high surrogate before a pair
    "ß".repeat(200),
  ];
  for (const sample of samples) {
    const text = commandText(["SET", sample]);
    const bytes = new TextEncoder().encode(sample).length;
    assert.equal(text, `*2\r\n$3\r\nSET\r\n$${bytes}\r\n${sample}\r\n`, JSON.stringify(sample));
  }
});

Deno.test("RespDecoder: bulk strings short and long, ASCII or not, decode as TextDecoder does", () => {
  const samples = ["", "key", "é", "x".repeat(127) + "é", "y".repeat(128), "z".repeat(129), "😀"];
  const input = joinBytes(samples.map((sample) => bytes(commandText([sample]))));
  const replies = decodeInChunks(input, 5);
  assert.deepEqual(replies, samples.map((sample) => [sample]));
});

Deno.test("RespDecoder: integers past 2^53 read as Number reads them", () => {
  const replies = decodeInChunks(
    bytes(":-9223372036854775808\r\n:12345678901234567890\r\n:9007199254740993\r\n:-17\r\n"),
    3,
  );
  assert.deepEqual(replies, [
    Number("-9223372036854775808"),
    Number("12345678901234567890"),
    Number("9007199254740993"),
    -17,
  ]);
});
