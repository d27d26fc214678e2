/**
 * Byte arrays: joining parts read or encoded piece by piece.
 *
 * @module
 */

/**
 * The parts as one array.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { joinBytes } from "./bytes.ts";
 * assert.deepEqual(joinBytes([Uint8Array.of(1), Uint8Array.of(2, 3)]), Uint8Array.of(1, 2, 3));
 * ```
 */
export function joinBytes(parts: readonly Uint8Array[]): Uint8Array {
  const whole = new Uint8Array(parts.reduce((size, part) => size + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    whole.set(part, offset);
    offset += part.length;
  }
  return whole;
}

/**
 * The bytes as a string of one character per byte (U+0000 to U+00FF): what `btoa` takes, and
 * HTTP's field values as octets.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { binaryString } from "./bytes.ts";
 * assert.equal(binaryString(Uint8Array.of(0x61, 0xe9)), "a\u00e9");
 * ```
 */
export function binaryString(bytes: Uint8Array): string {
  let text = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return text;
}

const decoder = new TextDecoder();
// Up to this many bytes, ASCII is decoded in JavaScript: a `TextDecoder` call costs more than
// the loop for keys, targets and header lines.
const SHORT_ASCII = 128;

/**
 * Decodes UTF-8 bytes, as `TextDecoder` does (invalid sequences become U+FFFD); short ASCII
 * runs without calling it. Protocol decoders call this for every key and value they read.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { utf8Text } from "./bytes.ts";
 * assert.equal(utf8Text(new TextEncoder().encode("jupyterhub/routes/r")), "jupyterhub/routes/r");
 * assert.equal(utf8Text(Uint8Array.of(0x68, 0xc3, 0xa9)), "hé");
 * assert.equal(utf8Text(Uint8Array.of(0x61, 0xff)), "a\ufffd");
 * ```
 */
export function utf8Text(bytes: Uint8Array): string {
  if (bytes.length <= SHORT_ASCII) {
    let ascii = true;
    for (let i = 0; i < bytes.length; i++) {
      if (bytes[i] >= 0x80) {
        ascii = false;
        break;
      }
    }
    if (ascii) return String.fromCharCode.apply(null, bytes as unknown as number[]);
  }
  return decoder.decode(bytes);
}
