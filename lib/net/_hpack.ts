/**
 * HPACK header compression (RFC 7541) for a minimal HTTP/2 client: a stateless encoder that
 * never uses the peer's dynamic table, and a decoder that keeps one connection's dynamic table
 * and reads every representation, Huffman-coded strings included.
 *
 * Names and values are JS strings with one char per octet (char codes 0..255, a "binary" or
 * latin1 mapping), so any octet sequence survives a round trip and a string's length is its
 * size in octets.
 *
 * @module
 */

import { binaryString } from "../core/bytes.ts";

/**
 * A header list entry: [name, value], names lower-case.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeHeaders, type HeaderField, hpackDecoder } from "./_hpack.ts";
 * const fields: HeaderField[] = [[":method", "POST"], ["te", "trailers"]];
 * assert.deepEqual(hpackDecoder().decode(encodeHeaders(fields)), fields);
 * ```
 */
export type HeaderField = [name: string, value: string];

/**
 * An HPACK block that cannot be decoded (the connection must end with COMPRESSION_ERROR).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { hpackDecoder, HpackError } from "./_hpack.ts";
 * // Index 0 is not a valid index.
 * assert.throws(() => hpackDecoder().decode(Uint8Array.of(0x80)), HpackError);
 * ```
 */
export class HpackError extends Error {
  /** Creates the error; `message` says what is wrong with the block. */
  constructor(message: string) {
    super(message);
    this.name = "HpackError";
  }
}

/** RFC 7541 Appendix A: the static table, index 1 at position 0. */
const STATIC_TABLE: readonly HeaderField[] = [
  [":authority", ""],
  [":method", "GET"],
  [":method", "POST"],
  [":path", "/"],
  [":path", "/index.html"],
  [":scheme", "http"],
  [":scheme", "https"],
  [":status", "200"],
  [":status", "204"],
  [":status", "206"],
  [":status", "304"],
  [":status", "400"],
  [":status", "404"],
  [":status", "500"],
  ["accept-charset", ""],
  ["accept-encoding", "gzip, deflate"],
  ["accept-language", ""],
  ["accept-ranges", ""],
  ["accept", ""],
  ["access-control-allow-origin", ""],
  ["age", ""],
  ["allow", ""],
  ["authorization", ""],
  ["cache-control", ""],
  ["content-disposition", ""],
  ["content-encoding", ""],
  ["content-language", ""],
  ["content-length", ""],
  ["content-location", ""],
  ["content-range", ""],
  ["content-type", ""],
  ["cookie", ""],
  ["date", ""],
  ["etag", ""],
  ["expect", ""],
  ["expires", ""],
  ["from", ""],
  ["host", ""],
  ["if-match", ""],
  ["if-modified-since", ""],
  ["if-none-match", ""],
  ["if-range", ""],
  ["if-unmodified-since", ""],
  ["last-modified", ""],
  ["link", ""],
  ["location", ""],
  ["max-forwards", ""],
  ["proxy-authenticate", ""],
  ["proxy-authorization", ""],
  ["range", ""],
  ["referer", ""],
  ["refresh", ""],
  ["retry-after", ""],
  ["server", ""],
  ["set-cookie", ""],
  ["strict-transport-security", ""],
  ["transfer-encoding", ""],
  ["user-agent", ""],
  ["vary", ""],
  ["via", ""],
  ["www-authenticate", ""],
];

/** RFC 7541 Appendix B: the Huffman code of each symbol 0..256 (256 is EOS), right-aligned. */
// deno-fmt-ignore
const HUFFMAN_CODES: readonly number[] = [
  0x1ff8, 0x7fffd8, 0xfffffe2, 0xfffffe3, 0xfffffe4, 0xfffffe5, 0xfffffe6, 0xfffffe7,
  0xfffffe8, 0xffffea, 0x3ffffffc, 0xfffffe9, 0xfffffea, 0x3ffffffd, 0xfffffeb, 0xfffffec,
  0xfffffed, 0xfffffee, 0xfffffef, 0xffffff0, 0xffffff1, 0xffffff2, 0x3ffffffe, 0xffffff3,
  0xffffff4, 0xffffff5, 0xffffff6, 0xffffff7, 0xffffff8, 0xffffff9, 0xffffffa, 0xffffffb,
  0x14, 0x3f8, 0x3f9, 0xffa, 0x1ff9, 0x15, 0xf8, 0x7fa,
  0x3fa, 0x3fb, 0xf9, 0x7fb, 0xfa, 0x16, 0x17, 0x18,
  0x0, 0x1, 0x2, 0x19, 0x1a, 0x1b, 0x1c, 0x1d,
  0x1e, 0x1f, 0x5c, 0xfb, 0x7ffc, 0x20, 0xffb, 0x3fc,
  0x1ffa, 0x21, 0x5d, 0x5e, 0x5f, 0x60, 0x61, 0x62,
  0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a,
  0x6b, 0x6c, 0x6d, 0x6e, 0x6f, 0x70, 0x71, 0x72,
  0xfc, 0x73, 0xfd, 0x1ffb, 0x7fff0, 0x1ffc, 0x3ffc, 0x22,
  0x7ffd, 0x3, 0x23, 0x4, 0x24, 0x5, 0x25, 0x26,
  0x27, 0x6, 0x74, 0x75, 0x28, 0x29, 0x2a, 0x7,
  0x2b, 0x76, 0x2c, 0x8, 0x9, 0x2d, 0x77, 0x78,
  0x79, 0x7a, 0x7b, 0x7ffe, 0x7fc, 0x3ffd, 0x1ffd, 0xffffffc,
  0xfffe6, 0x3fffd2, 0xfffe7, 0xfffe8, 0x3fffd3, 0x3fffd4, 0x3fffd5, 0x7fffd9,
  0x3fffd6, 0x7fffda, 0x7fffdb, 0x7fffdc, 0x7fffdd, 0x7fffde, 0xffffeb, 0x7fffdf,
  0xffffec, 0xffffed, 0x3fffd7, 0x7fffe0, 0xffffee, 0x7fffe1, 0x7fffe2, 0x7fffe3,
  0x7fffe4, 0x1fffdc, 0x3fffd8, 0x7fffe5, 0x3fffd9, 0x7fffe6, 0x7fffe7, 0xffffef,
  0x3fffda, 0x1fffdd, 0xfffe9, 0x3fffdb, 0x3fffdc, 0x7fffe8, 0x7fffe9, 0x1fffde,
  0x7fffea, 0x3fffdd, 0x3fffde, 0xfffff0, 0x1fffdf, 0x3fffdf, 0x7fffeb, 0x7fffec,
  0x1fffe0, 0x1fffe1, 0x3fffe0, 0x1fffe2, 0x7fffed, 0x3fffe1, 0x7fffee, 0x7fffef,
  0xfffea, 0x3fffe2, 0x3fffe3, 0x3fffe4, 0x7ffff0, 0x3fffe5, 0x3fffe6, 0x7ffff1,
  0x3ffffe0, 0x3ffffe1, 0xfffeb, 0x7fff1, 0x3fffe7, 0x7ffff2, 0x3fffe8, 0x1ffffec,
  0x3ffffe2, 0x3ffffe3, 0x3ffffe4, 0x7ffffde, 0x7ffffdf, 0x3ffffe5, 0xfffff1, 0x1ffffed,
  0x7fff2, 0x1fffe3, 0x3ffffe6, 0x7ffffe0, 0x7ffffe1, 0x3ffffe7, 0x7ffffe2, 0xfffff2,
  0x1fffe4, 0x1fffe5, 0x3ffffe8, 0x3ffffe9, 0xffffffd, 0x7ffffe3, 0x7ffffe4, 0x7ffffe5,
  0xfffec, 0xfffff3, 0xfffed, 0x1fffe6, 0x3fffe9, 0x1fffe7, 0x1fffe8, 0x7ffff3,
  0x3fffea, 0x3fffeb, 0x1ffffee, 0x1ffffef, 0xfffff4, 0xfffff5, 0x3ffffea, 0x7ffff4,
  0x3ffffeb, 0x7ffffe6, 0x3ffffec, 0x3ffffed, 0x7ffffe7, 0x7ffffe8, 0x7ffffe9, 0x7ffffea,
  0x7ffffeb, 0xffffffe, 0x7ffffec, 0x7ffffed, 0x7ffffee, 0x7ffffef, 0x7fffff0, 0x3ffffee,
  0x3fffffff,
];

/** RFC 7541 Appendix B: the bit length of each symbol's code. */
// deno-fmt-ignore
const HUFFMAN_LENGTHS: readonly number[] = [
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28,
  28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28,
  6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6,
  5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10,
  13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
  7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6,
  15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5,
  6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28,
  20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23,
  24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24,
  22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23,
  21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,
  26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25,
  19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27,
  20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23,
  26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26,
  30,
];

/** The number of static table entries; dynamic table indices start after it. */
const STATIC_COUNT = 61;

/** Each static table name's first index. */
const STATIC_NAME_INDEX: ReadonlyMap<string, number> = (() => {
  const index = new Map<string, number>();
  STATIC_TABLE.forEach(([name], i) => {
    if (!index.has(name)) index.set(name, i + 1);
  });
  return index;
})();

/**
 * The Huffman decoding tree: node `n`'s children are at `2n` (bit 0) and `2n + 1` (bit 1); a
 * child `c >= 1` is an inner node, `c < 0` is the leaf of symbol `~c`. Node 0 is the root.
 */
const HUFFMAN_TREE: Int32Array = (() => {
  const tree = new Int32Array(2 * 1024);
  let nodes = 1;
  for (let symbol = 0; symbol < HUFFMAN_CODES.length; symbol++) {
    const code = HUFFMAN_CODES[symbol];
    let node = 0;
    for (let bit = HUFFMAN_LENGTHS[symbol] - 1; bit > 0; bit--) {
      const slot = 2 * node + ((code >>> bit) & 1);
      if (tree[slot] < 0) throw new Error("HPACK: the Huffman table is not a prefix code");
      if (tree[slot] === 0) tree[slot] = nodes++;
      node = tree[slot];
    }
    const slot = 2 * node + (code & 1);
    if (tree[slot] !== 0) throw new Error("HPACK: the Huffman table is not a prefix code");
    tree[slot] = ~symbol;
  }
  // 257 leaves of a complete binary tree hang on 256 inner nodes, every child slot used.
  const used = tree.subarray(0, 2 * nodes);
  if (nodes !== 256 || used.includes(0)) throw new Error("HPACK: the Huffman table is incomplete");
  return used;
})();

/** The EOS symbol, which must not appear in a Huffman-coded string. */
const EOS = 256;

/** The largest integer a block may carry (RFC 7541 5.1 leaves the limit to the decoder). */
const MAX_INTEGER = 2 ** 31;

/** At most this many octets follow an integer's prefix. */
const MAX_CONTINUATION_OCTETS = 5;

/** The octets of an entry besides its name and value (RFC 7541 4.1). */
const ENTRY_OVERHEAD = 32;

/** The octets of the integer `value` with an N-bit prefix (RFC 7541 5.1). */
function integerLength(value: number, prefixBits: number): number {
  const max = (1 << prefixBits) - 1;
  if (value < max) return 1;
  let length = 2;
  for (value -= max; value >= 128; value = Math.floor(value / 128)) length++;
  return length;
}

/** Writes `value` with an N-bit prefix at `at`, the prefix octet's high bits `flags`; returns the end. */
function writeInteger(
  out: Uint8Array,
  at: number,
  value: number,
  prefixBits: number,
  flags: number,
): number {
  const max = (1 << prefixBits) - 1;
  if (value < max) {
    out[at++] = flags | value;
    return at;
  }
  out[at++] = flags | max;
  for (value -= max; value >= 128; value = Math.floor(value / 128)) {
    out[at++] = 0x80 | (value % 128);
  }
  out[at++] = value;
  return at;
}

/** Writes `text` as a raw string literal (H = 0, 7-bit prefix length) at `at`; returns the end. */
function writeString(out: Uint8Array, at: number, text: string): number {
  at = writeInteger(out, at, text.length, 7, 0);
  for (let i = 0; i < text.length; i++) out[at++] = text.charCodeAt(i);
  return at;
}

/** Throws a TypeError if `text` has a char above U+00FF, which is not one octet. */
function checkOctets(text: string, what: string): void {
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) > 0xff) {
      throw new TypeError(`HPACK: header ${what} has a char above U+00FF at position ${i}`);
    }
  }
}

/**
 * Encodes header lists. Stateless: every field as "literal header field without indexing"
 * (RFC 7541 6.2.2), with the static table's name index when the name is in the static table
 * (first match), else a literal name; strings raw (no Huffman), lengths with the 7-bit prefix
 * integer. So the peer's dynamic table is never used and no table size update is needed.
 *
 * Names are given lower-case by the caller; each char of a name or value becomes one octet.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeHeaders } from "./_hpack.ts";
 * // ":method" is static index 2 (4-bit prefix), then the raw value "POST".
 * assert.deepEqual([...encodeHeaders([[":method", "POST"]])], [0x02, 4, 0x50, 0x4f, 0x53, 0x54]);
 * // A name not in the static table is written as a literal after a 0x00 octet.
 * assert.deepEqual([...encodeHeaders([["te", "trailers"]]).subarray(0, 4)], [0x00, 2, 0x74, 0x65]);
 * ```
 * @throws {TypeError} if a name or value has a char above U+00FF.
 */
export function encodeHeaders(fields: HeaderField[]): Uint8Array {
  let size = 0;
  for (const [name, value] of fields) {
    checkOctets(name, "name");
    checkOctets(value, "value");
    const index = STATIC_NAME_INDEX.get(name);
    size += index === undefined
      ? 1 + integerLength(name.length, 7) + name.length
      : integerLength(index, 4);
    size += integerLength(value.length, 7) + value.length;
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const [name, value] of fields) {
    const index = STATIC_NAME_INDEX.get(name);
    if (index === undefined) {
      out[at++] = 0x00;
      at = writeString(out, at, name);
    } else {
      at = writeInteger(out, at, index, 4, 0x00);
    }
    at = writeString(out, at, value);
  }
  return out;
}

/**
 * Options of {@linkcode hpackDecoder}.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { hpackDecoder, type HpackDecoderOptions } from "./_hpack.ts";
 * const options: HpackDecoderOptions = { maxTableSize: 256 };
 * assert.equal(hpackDecoder(options).tableSize, 0);
 * ```
 */
export interface HpackDecoderOptions {
  /**
   * Largest dynamic table size the peer may choose (our SETTINGS_HEADER_TABLE_SIZE); default
   * 4096. The dynamic table starts at this size until the peer sends a size update.
   */
  maxTableSize?: number;
}

/**
 * A decoder with its dynamic table; one per connection, fed every header block in order.
 * After an {@linkcode HpackError} its table is undefined: the connection must end.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { type HpackDecoder, hpackDecoder } from "./_hpack.ts";
 * const decoder: HpackDecoder = hpackDecoder();
 * // Literal with incremental indexing, new name "foo", value "bar"; then index 62 (that entry).
 * const block = Uint8Array.of(0x40, 3, 0x66, 0x6f, 0x6f, 3, 0x62, 0x61, 0x72, 0xbe);
 * assert.deepEqual(decoder.decode(block), [["foo", "bar"], ["foo", "bar"]]);
 * assert.equal(decoder.tableSize, 3 + 3 + 32);
 * ```
 */
export interface HpackDecoder {
  /**
   * Decodes one complete header block (the fragments of HEADERS and its CONTINUATION frames,
   * joined), updating the dynamic table.
   *
   * @throws {HpackError} if the block is malformed.
   */
  decode(block: Uint8Array): HeaderField[];
  /** Current dynamic table size in octets (for tests). */
  readonly tableSize: number;
}

/**
 * A new decoder with an empty dynamic table.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { hpackDecoder } from "./_hpack.ts";
 * const decoder = hpackDecoder({ maxTableSize: 4096 });
 * // Static index 8 is ":status: 200"; a literal without indexing for static name 31
 * // ("content-type"), whose index needs a continuation octet after the 4-bit prefix 15.
 * const grpc = [..."application/grpc"].map((c) => c.charCodeAt(0));
 * const block = Uint8Array.of(0x88, 0x0f, 31 - 15, grpc.length, ...grpc);
 * assert.deepEqual(decoder.decode(block), [[":status", "200"], ["content-type", "application/grpc"]]);
 * assert.equal(decoder.tableSize, 0);
 * ```
 */
export function hpackDecoder(options: HpackDecoderOptions = {}): HpackDecoder {
  const maxTableSize = options.maxTableSize ?? 4096;
  if (!Number.isSafeInteger(maxTableSize) || maxTableSize < 0) {
    throw new RangeError(`HPACK: maxTableSize must be a non-negative integer, got ${maxTableSize}`);
  }
  return new Decoder(maxTableSize);
}

const EMPTY = new Uint8Array(0);

/** Huffman output, reused (decoding is synchronous); grown when a string needs more. */
let huffmanScratch = new Uint8Array(256);

/** Decodes the Huffman-coded string `bytes[start..end)` (RFC 7541 5.2). */
function huffmanDecode(bytes: Uint8Array, start: number, end: number): string {
  // The shortest code has 5 bits.
  const most = Math.ceil((end - start) * 8 / 5);
  if (huffmanScratch.length < most) {
    huffmanScratch = new Uint8Array(Math.max(most, 2 * huffmanScratch.length));
  }
  const out = huffmanScratch;
  let length = 0;
  let node = 0;
  // The bits read since the last symbol, and whether all were ones (a prefix of EOS).
  let pending = 0;
  let ones = true;
  for (let at = start; at < end; at++) {
    const octet = bytes[at];
    for (let shift = 7; shift >= 0; shift--) {
      const bit = (octet >> shift) & 1;
      const child = HUFFMAN_TREE[2 * node + bit];
      if (child < 0) {
        const symbol = ~child;
        if (symbol === EOS) throw new HpackError("HPACK: Huffman-coded string contains EOS");
        out[length++] = symbol;
        node = 0;
        pending = 0;
        ones = true;
      } else {
        node = child;
        pending++;
        if (bit === 0) ones = false;
      }
    }
  }
  if (pending > 7) throw new HpackError(`HPACK: Huffman padding of ${pending} bits (at most 7)`);
  if (!ones) throw new HpackError("HPACK: Huffman padding is not all ones");
  return binaryString(out.subarray(0, length));
}

/** The size of a dynamic table entry in octets (RFC 7541 4.1). */
function entrySize(name: string, value: string): number {
  return name.length + value.length + ENTRY_OVERHEAD;
}

/** See {@linkcode hpackDecoder}. */
class Decoder implements HpackDecoder {
  /** The SETTINGS limit on the table size the peer may choose. */
  readonly #maxTableSize: number;
  /** The table size the peer chose (RFC 7541 4.2). */
  #capacity: number;
  #size = 0;
  /** The dynamic table, oldest entry first (so index 62 is the last). */
  readonly #entries: HeaderField[] = [];
  /** The block being decoded and the read position in it. */
  #block: Uint8Array = EMPTY;
  #at = 0;

  constructor(maxTableSize: number) {
    this.#maxTableSize = maxTableSize;
    this.#capacity = maxTableSize;
  }

  get tableSize(): number {
    return this.#size;
  }

  decode(block: Uint8Array): HeaderField[] {
    this.#block = block;
    this.#at = 0;
    const fields: HeaderField[] = [];
    try {
      while (this.#at < block.length) {
        const first = block[this.#at];
        if (first & 0x80) {
          // 6.1 indexed header field.
          const [name, value] = this.#entry(this.#integer(7));
          fields.push([name, value]);
        } else if (first & 0x40) {
          // 6.2.1 literal header field with incremental indexing.
          const field = this.#literal(6);
          this.#add(field[0], field[1]);
          fields.push(field);
        } else if (first & 0x20) {
          // 6.3 dynamic table size update.
          if (fields.length > 0) {
            throw new HpackError("HPACK: dynamic table size update after a header field");
          }
          const size = this.#integer(5);
          if (size > this.#maxTableSize) {
            throw new HpackError(
              `HPACK: dynamic table size update to ${size} above the maximum ${this.#maxTableSize}`,
            );
          }
          this.#capacity = size;
          this.#evict(size);
        } else {
          // 6.2.2 literal without indexing (0000) and 6.2.3 never indexed (0001).
          fields.push(this.#literal(4));
        }
      }
    } finally {
      this.#block = EMPTY;
    }
    return fields;
  }

  /** The entry at `index` in the joint index space (RFC 7541 2.3.3). */
  #entry(index: number): HeaderField {
    if (index === 0) throw new HpackError("HPACK: index 0");
    if (index <= STATIC_COUNT) return STATIC_TABLE[index - 1];
    const count = this.#entries.length;
    const back = index - STATIC_COUNT;
    if (back > count) {
      throw new HpackError(
        `HPACK: index ${index} beyond the tables (${STATIC_COUNT + count} entries)`,
      );
    }
    return this.#entries[count - back];
  }

  /** A literal field whose name index has an N-bit prefix (0: the name follows as a string). */
  #literal(prefixBits: number): HeaderField {
    const index = this.#integer(prefixBits);
    const name = index === 0 ? this.#string() : this.#entry(index)[0];
    return [name, this.#string()];
  }

  /** Adds an entry, evicting the oldest ones to make room (RFC 7541 4.4). */
  #add(name: string, value: string): void {
    const size = entrySize(name, value);
    if (size > this.#capacity) {
      this.#evict(0);
      return;
    }
    this.#evict(this.#capacity - size);
    this.#entries.push([name, value]);
    this.#size += size;
  }

  /** Evicts the oldest entries until the table's size is at most `limit`. */
  #evict(limit: number): void {
    while (this.#size > limit) {
      const [name, value] = this.#entries.shift()!;
      this.#size -= entrySize(name, value);
    }
  }

  /** Reads an integer with an N-bit prefix (RFC 7541 5.1). */
  #integer(prefixBits: number): number {
    const block = this.#block;
    let at = this.#at;
    if (at >= block.length) throw new HpackError("HPACK: truncated integer");
    const max = (1 << prefixBits) - 1;
    let value = block[at++] & max;
    if (value === max) {
      let factor = 1;
      for (let count = 1;; count++) {
        if (count > MAX_CONTINUATION_OCTETS) {
          throw new HpackError(
            `HPACK: integer with more than ${MAX_CONTINUATION_OCTETS} continuation octets`,
          );
        }
        if (at >= block.length) throw new HpackError("HPACK: truncated integer");
        const octet = block[at++];
        value += (octet & 0x7f) * factor;
        factor *= 128;
        if (value > MAX_INTEGER) throw new HpackError(`HPACK: integer above 2^31`);
        if ((octet & 0x80) === 0) break;
      }
    }
    this.#at = at;
    return value;
  }

  /** Reads a string literal, raw or Huffman-coded (RFC 7541 5.2). */
  #string(): string {
    const block = this.#block;
    if (this.#at >= block.length) throw new HpackError("HPACK: truncated string (no length)");
    const huffman = (block[this.#at] & 0x80) !== 0;
    const length = this.#integer(7);
    const start = this.#at;
    const end = start + length;
    if (end > block.length) {
      throw new HpackError(
        `HPACK: truncated string: ${length} octets announced, ${block.length - start} left`,
      );
    }
    this.#at = end;
    return huffman ? huffmanDecode(block, start, end) : binaryString(block.subarray(start, end));
  }
}
