import assert from "node:assert/strict";
import { binaryString, joinBytes, utf8Text } from "./bytes.ts";

Deno.test("utf8Text gives what TextDecoder gives, short or long, ASCII or not, valid or not", () => {
  const decoder = new TextDecoder();
  const encoder = new TextEncoder();
  const texts = ["", "a", "jupyterhub/routes/r/target", "é", "x".repeat(127) + "é", "😀"];
  for (const length of [127, 128, 129, 4096]) texts.push("k".repeat(length));
  for (const text of texts) assert.equal(utf8Text(encoder.encode(text)), text);
  // Random bytes, valid UTF-8 or not, of lengths on both sides of the ASCII shortcut.
  let seed = 7;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % 256;
  for (let round = 0; round < 500; round++) {
    const bytes = Uint8Array.from({ length: round % 200 }, () => {
      const byte = random();
      return round % 2 === 0 ? byte & 0x7f : byte; // half of them ASCII
    });
    assert.equal(utf8Text(bytes), decoder.decode(bytes), `round ${round}`);
  }
});

Deno.test("joinBytes and binaryString", () => {
  assert.deepEqual(joinBytes([]), new Uint8Array());
  assert.deepEqual(
    joinBytes([Uint8Array.of(1), new Uint8Array(), Uint8Array.of(2)]),
    Uint8Array.of(1, 2),
  );
  const all = Uint8Array.from({ length: 256 }, (_, i) => i);
  assert.equal(binaryString(all).length, 256);
  assert.equal(binaryString(all).charCodeAt(255), 255);
});
