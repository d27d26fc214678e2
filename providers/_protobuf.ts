/**
 * The protocol buffers wire format, the part etcd's messages use: varints (non-negative
 * numbers up to 2^53), booleans, bytes, strings (UTF-8) and nested messages. A writer appends
 * fields; a reader walks them one at a time without building objects.
 *
 * @module
 */

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: false });

/** A message that does not follow the wire format (truncated, a varint too long). */
export class ProtobufError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "ProtobufError";
  }
}

/**
 * Builds one message; nested messages are built by their own writer and added as bytes.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { ProtoWriter } from "./_protobuf.ts";
 * const bytes = new ProtoWriter().bytes(1, "a").uint(3, 300).finish();
 * assert.deepEqual([...bytes], [0x0a, 0x01, 0x61, 0x18, 0xac, 0x02]);
 * ```
 */
export class ProtoWriter {
  #buffer = new Uint8Array(64);
  #length = 0;

  #reserve(more: number): void {
    if (this.#length + more <= this.#buffer.length) return;
    let size = this.#buffer.length * 2;
    while (size < this.#length + more) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.#buffer.subarray(0, this.#length));
    this.#buffer = grown;
  }

  #varint(value: number): void {
    this.#reserve(10);
    while (value >= 0x80) {
      this.#buffer[this.#length++] = (value % 0x80) | 0x80;
      value = Math.floor(value / 0x80);
    }
    this.#buffer[this.#length++] = value;
  }

  /**
   * A varint field (an unsigned or a non-negative signed number); 0 is left out, as proto3
   * does, unless `always` (a member of a `oneof`).
   */
  uint(field: number, value: number, always = false): this {
    if (value === 0 && !always) return this;
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new RangeError(`protobuf field ${field}: ${value} is not a non-negative integer`);
    }
    this.#varint(field * 8);
    this.#varint(value);
    return this;
  }

  /** A boolean field; false is left out. */
  bool(field: number, value: boolean): this {
    return value ? this.uint(field, 1) : this;
  }

  /**
   * A length-delimited field: bytes, a string (as UTF-8) or a nested message's bytes; an
   * empty one is left out unless `always`.
   */
  bytes(field: number, value: Uint8Array | string, always = false): this {
    const bytes = typeof value === "string" ? encoder.encode(value) : value;
    if (bytes.length === 0 && !always) return this;
    this.#varint(field * 8 + 2);
    this.#varint(bytes.length);
    this.#reserve(bytes.length);
    this.#buffer.set(bytes, this.#length);
    this.#length += bytes.length;
    return this;
  }

  /** The message's bytes (a view of the writer's buffer: the writer is done). */
  finish(): Uint8Array {
    return this.#buffer.subarray(0, this.#length);
  }
}

/**
 * Walks the fields of one message: `next()` moves to the next field, then read its value
 * with `uint()`, `bytes()` or `string()`, or leave it (`next()` skips it).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { ProtoReader } from "./_protobuf.ts";
 * const reader = new ProtoReader(new Uint8Array([0x0a, 0x01, 0x61, 0x18, 0xac, 0x02]));
 * const seen: unknown[] = [];
 * while (reader.next()) seen.push(reader.field === 1 ? reader.string() : reader.uint());
 * assert.deepEqual(seen, ["a", 300]);
 * ```
 */
export class ProtoReader {
  #bytes: Uint8Array;
  #offset = 0;
  #wire = -1;
  #start = 0; // where the current field's value begins
  #read = true; // the current field's value has been read
  /** The current field's number. */
  field = 0;

  /** Reads `bytes`, a whole message. */
  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
  }

  #varint(): number {
    const bytes = this.#bytes;
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.#offset >= bytes.length) throw new ProtobufError("a varint is cut short");
      const byte = bytes[this.#offset++];
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return value;
      scale *= 0x80;
    }
    throw new ProtobufError("a varint is longer than 10 bytes");
  }

  #skip(): void {
    switch (this.#wire) {
      case 0:
        this.#varint();
        break;
      case 1:
        this.#offset += 8;
        break;
      case 2: {
        const length = this.#varint(); // before reading the offset it moves
        this.#offset += length;
        break;
      }
      case 5:
        this.#offset += 4;
        break;
      default:
        throw new ProtobufError(`wire type ${this.#wire} is not supported`);
    }
    if (this.#offset > this.#bytes.length) throw new ProtobufError("a field is cut short");
  }

  /** Moves to the next field (skipping the current one's value if unread); false at the end. */
  next(): boolean {
    if (!this.#read) this.#skip();
    if (this.#offset >= this.#bytes.length) return false;
    const tag = this.#varint();
    this.field = Math.floor(tag / 8);
    this.#wire = tag % 8;
    this.#start = this.#offset;
    this.#read = false;
    return true;
  }

  /** The current field as a number (a varint). */
  uint(): number {
    if (this.#wire !== 0) throw new ProtobufError(`field ${this.field} is not a varint`);
    this.#offset = this.#start;
    this.#read = true;
    return this.#varint();
  }

  /** The current field as bytes (a view of the message). */
  bytes(): Uint8Array {
    if (this.#wire !== 2) throw new ProtobufError(`field ${this.field} is not length-delimited`);
    this.#offset = this.#start;
    const length = this.#varint();
    const end = this.#offset + length;
    if (end > this.#bytes.length) throw new ProtobufError(`field ${this.field} is cut short`);
    const value = this.#bytes.subarray(this.#offset, end);
    this.#offset = end;
    this.#read = true;
    return value;
  }

  /** The current field as a string (UTF-8). */
  string(): string {
    return utf8(this.bytes());
  }
}

/**
 * Decodes UTF-8 bytes (invalid sequences become U+FFFD).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { utf8 } from "./_protobuf.ts";
 * assert.equal(utf8(new Uint8Array([0x68, 0xc3, 0xa9])), "hé");
 * ```
 */
export function utf8(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}
