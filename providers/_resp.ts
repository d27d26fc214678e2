/**
 * The redis serialization protocol (RESP2), as this proxy's redis client speaks it: commands
 * encoded as arrays of bulk strings, replies decoded as they arrive. Pure: no I/O.
 *
 * @module
 */

import { joinBytes } from "../lib/core/bytes.ts";

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

const encoder = new TextEncoder();
const CR = 13;
const CRLF = Uint8Array.of(CR, 10);
const INITIAL_SIZE = 64 * 1024;

/**
 * Encodes one command (name and arguments) as a RESP array of bulk strings.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeCommand } from "./_resp.ts";
 * const bytes = encodeCommand(["SET", "k", "é"]);
 * assert.equal(new TextDecoder().decode(bytes), "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\né\r\n");
 * ```
 */
export function encodeCommand(args: readonly string[]): Uint8Array {
  const parts = [encoder.encode(`*${args.length}\r\n`)];
  for (const arg of args) {
    const bytes = encoder.encode(arg);
    parts.push(encoder.encode(`$${bytes.length}\r\n`), bytes, CRLF);
  }
  return joinBytes(parts);
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
  #text = new TextDecoder();

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
      const lineEnd = buffer.subarray(this.#start, this.#end).indexOf(CR);
      if (lineEnd < 0 || this.#start + lineEnd + 1 >= this.#end) return undefined;
      const type = buffer[this.#start];
      const line = this.#text.decode(buffer.subarray(this.#start + 1, this.#start + lineEnd));
      const after = this.#start + lineEnd + 2;
      if (buffer[after - 1] !== 10) throw new RespProtocolError("a line ends without LF");
      switch (type) {
        case 43: // +
          this.#start = after;
          return line;
        case 45: // -
          this.#start = after;
          return new RespError(line);
        case 58: // :
          this.#start = after;
          return integer(line);
        case 36: { // $
          const length = integer(line);
          if (length < 0) {
            this.#start = after;
            return null;
          }
          if (after + length + 2 > this.#end) return undefined;
          if (buffer[after + length] !== CR || buffer[after + length + 1] !== 10) {
            throw new RespProtocolError("a bulk string is longer than announced");
          }
          this.#start = after + length + 2;
          return this.#text.decode(buffer.subarray(after, after + length));
        }
        case 42: { // *
          const count = integer(line);
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

function integer(text: string): number {
  if (!/^-?\d+$/.test(text)) {
    throw new RespProtocolError(`${JSON.stringify(text)} is not an integer`);
  }
  return Number(text);
}
