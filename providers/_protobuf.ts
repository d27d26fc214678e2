/**
 * The protocol buffers wire format, the part etcd's messages use: varints (non-negative
 * numbers up to 2^53), booleans, bytes, strings (UTF-8) and nested messages. A writer appends
 * fields; a reader walks them one at a time without building objects.
 *
 * @module
 */

import { utf8Text } from "../lib/core/bytes.ts";

const encoder = new TextEncoder();

/** A message that does not follow the wire format (truncated, a varint too long). */
export class ProtobufError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "ProtobufError";
  }
}

/**
 * Builds one message into one growing buffer: nested messages are written in place between
 * `begin(field)` and `end()` (their length is filled in at `end`), strings are encoded straight
 * into the buffer.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { ProtoWriter } from "./_protobuf.ts";
 * const bytes = new ProtoWriter().bytes(1, "a").uint(3, 300).begin(4).uint(1, 1).end().finish();
 * assert.deepEqual([...bytes], [0x0a, 0x01, 0x61, 0x18, 0xac, 0x02, 0x22, 0x02, 0x08, 0x01]);
 * ```
 */
export class ProtoWriter {
  #buffer: Uint8Array;
  #length = 0;
  // Where each open nested message's content begins (its length's room is just before).
  #open: number[] = [];

  /** A writer whose buffer starts at `size` bytes (it grows as needed). */
  constructor(size = 256) {
    this.#buffer = new Uint8Array(size);
  }

  #reserve(more: number): void {
    if (this.#length + more <= this.#buffer.length) return;
    let size = Math.max(64, this.#buffer.length * 2);
    while (size < this.#length + more) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.#buffer.subarray(0, this.#length));
    this.#buffer = grown;
  }

  #varint(value: number): void {
    this.#reserve(10);
    this.#length = putVarint(this.#buffer, this.#length, value);
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
   * A length-delimited field: bytes, or a string (as UTF-8); an empty one is left out unless
   * `always`.
   */
  bytes(field: number, value: Uint8Array | string, always = false): this {
    if (value.length === 0 && !always) return this;
    this.#varint(field * 8 + 2);
    if (typeof value !== "string") {
      this.#varint(value.length);
      this.#reserve(value.length);
      this.#buffer.set(value, this.#length);
      this.#length += value.length;
      return this;
    }
    // The UTF-8 form takes at most 3 bytes per UTF-16 unit: room for that and its length.
    const most = value.length * 3;
    const room = varintSize(most);
    this.#reserve(room + most);
    const start = this.#length + room;
    const { written } = encoder.encodeInto(value, this.#buffer.subarray(start));
    this.#length = start + written;
    this.#place(start, room);
    return this;
  }

  /** Starts a nested message in field `field`; `end()` ends it. */
  begin(field: number): this {
    this.#varint(field * 8 + 2);
    this.#reserve(2);
    this.#length += 2; // room for a length below 16,384 (more is made if needed)
    this.#open.push(this.#length);
    return this;
  }

  /** Ends the nested message begun last. */
  end(): this {
    const start = this.#open.pop();
    if (start === undefined) throw new RangeError("end() without begin()");
    this.#place(start, 2);
    return this;
  }

  // Writes the length of the bytes from `start` to the writer's end into the `room` bytes
  // before them, moving the bytes when the length takes another number of bytes.
  #place(start: number, room: number): void {
    const size = this.#length - start;
    const need = varintSize(size);
    if (need !== room) {
      this.#reserve(need - room);
      this.#buffer.copyWithin(start + need - room, start, start + size);
    }
    this.#length = putVarint(this.#buffer, start - room, size) + size;
  }

  /** The message's bytes (a view of the writer's buffer: the writer is done). */
  finish(): Uint8Array {
    if (this.#open.length > 0) throw new RangeError("a nested message was not ended");
    return this.#buffer.subarray(0, this.#length);
  }
}

// Writes `value` as a varint at `at` (the room is there); returns where it ends.
function putVarint(buffer: Uint8Array, at: number, value: number): number {
  while (value >= 0x80) {
    buffer[at++] = (value % 0x80) | 0x80;
    value = Math.floor(value / 0x80);
  }
  buffer[at++] = value;
  return at;
}

function varintSize(value: number): number {
  let size = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 0x80);
    size++;
  }
  return size;
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
    return utf8Text(this.bytes());
  }
}
