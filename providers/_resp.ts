/**
 * The redis serialization protocol (RESP2), as this proxy's redis client speaks it: commands
 * encoded as arrays of bulk strings, replies decoded as they arrive. Pure: no I/O.
 *
 * @module
 */

import { utf8Text } from "../lib/core/bytes.ts";

/** A redis reply: text, an integer, nil, an error reply, or an array of replies. */
export type RespValue = string | number | null | RespError | RespValue[];

/**
 * An error reply from redis (`-ERR ...`, `-WRONGPASS ...`, `-NOSCRIPT ...`): the command
 * failed, the connection is fine.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { RespError } from "./_resp.ts";
 * const error = new RespError("NOSCRIPT No matching script");
 * assert.equal(error.code, "NOSCRIPT");
 * ```
 */
export class RespError extends Error {
  /** The first word of the message (`ERR`, `WRONGTYPE`, `NOSCRIPT`...). */
  readonly code: string;
  /** @param message The error reply's text. */
  constructor(message: string) {
    super(message);
    this.name = "RespError";
    this.code = message.split(" ", 1)[0];
  }
}

/**
 * A reply that does not follow the protocol: the connection cannot be trusted any more.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { RespDecoder, RespProtocolError } from "./_resp.ts";
 * assert.throws(() => new RespDecoder().push(new TextEncoder().encode("?\r\n")), RespProtocolError);
 * ```
 */
export class RespProtocolError extends Error {
  /** @param message What was wrong. */
  constructor(message: string) {
    super(message);
    this.name = "RespProtocolError";
  }
}

const CR = 13;
const INITIAL_SIZE = 64 * 1024;

/**
 * One command (name and arguments) as the text of a RESP array of bulk strings, each announced
 * with its length in UTF-8 bytes: a pipeline's commands are joined and encoded once, as one
 * `TextEncoder` call per argument and length cost a route's write several microseconds each.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { commandText } from "./_resp.ts";
 * assert.equal(commandText(["SET", "k", "é"]), "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\né\r\n");
 * ```
 */
export function commandText(args: readonly string[]): string {
  let text = `*${args.length}\r\n`;
  for (const arg of args) text += `$${utf8Length(arg)}\r\n${arg}\r\n`;
  return text;
}

// The length of `text` in UTF-8 as `TextEncoder` writes it (a lone surrogate as U+FFFD, 3 bytes).
function utf8Length(text: string): number {
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) continue;
    if (code < 0x800) {
      bytes += 1;
      continue;
    }
    // Three bytes for one code unit; four for a surrogate pair, its two code units.
    bytes += 2;
    const low = code >= 0xd800 && code < 0xdc00 ? text.charCodeAt(i + 1) : NaN;
    if (low >= 0xdc00 && low < 0xe000) i++;
  }
  return bytes;
}

interface Frame {
  items: RespValue[];
  left: number;
}

/**
 * Decodes replies from the bytes a connection reads, in any chunking: `push` returns the
 * replies completed by each chunk. A large array (a listing of thousands of keys) is decoded
 * once as its elements arrive, never parsed again from its start.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { RespDecoder, RespError } from "./_resp.ts";
 * const decoder = new RespDecoder();
 * const bytes = new TextEncoder().encode("*2\r\n$1\r\na\r\n:7\r\n+OK\r\n-ERR no\r\n$-1\r\n");
 * assert.deepEqual(decoder.push(bytes.subarray(0, 9)), []);
 * const [array, ok, error, nil] = decoder.push(bytes.subarray(9));
 * assert.deepEqual([array, ok, nil], [["a", 7], "OK", null]);
 * assert.ok(error instanceof RespError);
 * ```
 */
export class RespDecoder {
  #buffer = new Uint8Array(INITIAL_SIZE);
  #start = 0;
  #end = 0;
  #stack: Frame[] = [];

  /**
   * Takes the next bytes read; returns the replies they complete, in order.
   *
   * @throws {RespProtocolError} for bytes that are not RESP2.
   */
  push(chunk: Uint8Array): RespValue[] {
    this.#append(chunk);
    const out: RespValue[] = [];
    for (;;) {
      const value = this.#next();
      if (value === undefined) break;
      this.#deliver(value, out);
    }
    if (this.#start === this.#end) {
      this.#start = this.#end = 0;
      // A buffer grown for one large reply is not kept for the connection's life.
      if (this.#buffer.length > INITIAL_SIZE) this.#buffer = new Uint8Array(INITIAL_SIZE);
    }
    return out;
  }

  #append(chunk: Uint8Array): void {
    if (this.#end + chunk.length > this.#buffer.length) {
      const used = this.#end - this.#start;
      if (used + chunk.length <= this.#buffer.length / 2) {
        this.#buffer.copyWithin(0, this.#start, this.#end);
      } else {
        let size = this.#buffer.length;
        while (size < (used + chunk.length) * 2) size *= 2;
        const next = new Uint8Array(size);
        next.set(this.#buffer.subarray(this.#start, this.#end));
        this.#buffer = next;
      }
      this.#start = 0;
      this.#end = used;
    }
    this.#buffer.set(chunk, this.#end);
    this.#end += chunk.length;
  }

  // One element at #start, or undefined when its bytes have not all arrived (nothing consumed).
  #next(): RespValue | undefined {
    for (;;) {
      const buffer = this.#buffer;
      const start = this.#start;
      // A CR found past #end (in bytes of earlier replies) reads as "not all here yet", as none.
      const cr = buffer.indexOf(CR, start);
      if (cr < 0 || cr + 1 >= this.#end) return undefined;
      const type = buffer[start];
      const after = cr + 2;
      if (buffer[after - 1] !== 10) throw new RespProtocolError("a line ends without LF");
      switch (type) {
        case 43: // +
          this.#start = after;
          return this.#decode(start + 1, cr);
        case 45: // -
          this.#start = after;
          return new RespError(this.#decode(start + 1, cr));
        case 58: // :
          this.#start = after;
          return integer(buffer, start + 1, cr);
        case 36: { // $
          const length = integer(buffer, start + 1, cr);
          if (length < 0) {
            this.#start = after;
            return null;
          }
          if (after + length + 2 > this.#end) return undefined;
          if (buffer[after + length] !== CR || buffer[after + length + 1] !== 10) {
            throw new RespProtocolError("a bulk string is longer than announced");
          }
          this.#start = after + length + 2;
          return this.#decode(after, after + length);
        }
        case 42: { // *
          const count = integer(buffer, start + 1, cr);
          this.#start = after;
          if (count < 0) return null;
          if (count === 0) return [];
          // An array: its elements come next, each delivered into this frame.
          this.#stack.push({ items: [], left: count });
          continue;
        }
        default:
          throw new RespProtocolError(
            `unknown reply type ${JSON.stringify(String.fromCharCode(type))}`,
          );
      }
    }
  }

  // The text of the buffer's bytes from `from` to `to`.
  #decode(from: number, to: number): string {
    return utf8Text(this.#buffer.subarray(from, to));
  }

  #deliver(value: RespValue, out: RespValue[]): void {
    for (;;) {
      const top = this.#stack[this.#stack.length - 1];
      if (!top) {
        out.push(value);
        return;
      }
      top.items.push(value);
      if (--top.left > 0) return;
      this.#stack.pop();
      value = top.items;
    }
  }
}

// The integer written in ASCII in `bytes` from `from` to `to` (a line's text after its type);
// past 15 digits, the nearest number as `Number` reads it (redis integers have 64 bits).
function integer(bytes: Uint8Array, from: number, to: number): number {
  const negative = bytes[from] === 45; // -
  let value = 0;
  let i = negative ? from + 1 : from;
  if (i === to) throw notInteger(bytes, from, to);
  const digits = to - i;
  for (; i < to; i++) {
    const digit = bytes[i] - 48;
    if (digit < 0 || digit > 9) throw notInteger(bytes, from, to);
    value = value * 10 + digit;
  }
  if (digits > 15) return Number(utf8Text(bytes.subarray(from, to)));
  return negative ? -value : value;
}

function notInteger(bytes: Uint8Array, from: number, to: number): RespProtocolError {
  const text = utf8Text(bytes.subarray(from, to));
  return new RespProtocolError(`${JSON.stringify(text)} is not an integer`);
}
