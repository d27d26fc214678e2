/**
 * WebSocket frames (RFC 6455, section 5) for the fallback's connection to a route's target:
 * encoding (masked, as a client sends them), decoding and the assembly of fragmented messages.
 * Pure: bytes in, frames and messages out. No extension is negotiated, so reserved bits are
 * errors.
 *
 * @module
 */

import { joinBytes } from "../core/bytes.ts";

/** Frame opcodes. */
export const OPCODE = {
  continuation: 0x0,
  text: 0x1,
  binary: 0x2,
  close: 0x8,
  ping: 0x9,
  pong: 0xa,
} as const;

/** One frame, unmasked. */
export interface WsFrame {
  /** The last frame of its message. */
  fin: boolean;
  /** See `OPCODE`. */
  opcode: number;
  /** The payload, unmasked. */
  payload: Uint8Array;
}

/** A frame or message the peer should not have sent; `code` is the close code to answer with. */
export class WsProtocolError extends Error {
  /** 1002 (protocol error), 1007 (invalid text) or 1009 (too big). */
  readonly code: number;
  /** Creates the error. */
  constructor(message: string, code = 1002) {
    super(message);
    this.name = "WsProtocolError";
    this.code = code;
  }
}

/**
 * One frame's bytes. `mask`: a client's frames are masked (with a random key), a server's not.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeFrame, OPCODE } from "./_ws_frames.ts";
 * const bytes = encodeFrame({ opcode: OPCODE.text, payload: new TextEncoder().encode("hi") }, { mask: false });
 * assert.deepEqual([...bytes], [0x81, 2, 0x68, 0x69]);
 * ```
 */
export function encodeFrame(
  frame: { opcode: number; payload: Uint8Array; fin?: boolean },
  options: { mask: boolean },
): Uint8Array {
  const length = frame.payload.length;
  const extended = length < 126 ? 0 : length < 65_536 ? 2 : 8;
  const header = 2 + extended + (options.mask ? 4 : 0);
  const out = new Uint8Array(header + length);
  out[0] = (frame.fin === false ? 0 : 0x80) | frame.opcode;
  out[1] = (options.mask ? 0x80 : 0) | (extended === 0 ? length : extended === 2 ? 126 : 127);
  const view = new DataView(out.buffer);
  if (extended === 2) view.setUint16(2, length);
  else if (extended === 8) view.setBigUint64(2, BigInt(length));
  if (!options.mask) {
    out.set(frame.payload, header);
    return out;
  }
  const key = crypto.getRandomValues(new Uint8Array(4));
  out.set(key, header - 4);
  for (let i = 0; i < length; i++) out[header + i] = frame.payload[i] ^ key[i & 3];
  return out;
}

/**
 * A decoder of the frames in a byte stream: `push` each chunk read, get the frames it
 * completed. A frame whose payload exceeds `maxPayload` is refused (1009) before it is read;
 * with `masked`, a frame masked otherwise is refused (a server's frames are not masked).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { frameDecoder } from "./_ws_frames.ts";
 * const decoder = frameDecoder({ maxPayload: 1024 });
 * assert.deepEqual(decoder.push(Uint8Array.of(0x82, 2, 7)), []); // not complete yet
 * const [frame] = decoder.push(Uint8Array.of(8));
 * assert.deepEqual(frame, { fin: true, opcode: 2, payload: Uint8Array.of(7, 8) });
 * ```
 * @throws {WsProtocolError} from `push`, for a frame RFC 6455 does not allow.
 */
export function frameDecoder(options: { maxPayload: number; masked?: boolean }): {
  push(chunk: Uint8Array): WsFrame[];
} {
  // The bytes not yet decoded are `buffer[start, end)`; the buffer doubles as needed, so that a
  // large frame arriving in many reads costs one copy of each read, not one of all before it.
  let buffer = new Uint8Array(64 * 1024);
  let start = 0;
  let end = 0;
  return {
    push(chunk) {
      if (end + chunk.length > buffer.length) {
        const size = end - start + chunk.length;
        const grown = size > buffer.length
          ? new Uint8Array(Math.max(size, buffer.length * 2))
          : buffer;
        grown.set(buffer.subarray(start, end));
        buffer = grown;
        end -= start;
        start = 0;
      }
      buffer.set(chunk, end);
      end += chunk.length;
      const frames: WsFrame[] = [];
      const view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
      while (end - start >= 2) {
        const first = buffer[start];
        const second = buffer[start + 1];
        if (first & 0x70) throw new WsProtocolError("a frame has reserved bits set");
        const opcode = first & 0x0f;
        const fin = (first & 0x80) !== 0;
        let header = 2;
        let length = second & 0x7f;
        if (length === 126) {
          if (end - start < 4) break;
          length = view.getUint16(start + 2);
          header = 4;
        } else if (length === 127) {
          if (end - start < 10) break;
          const big = view.getBigUint64(start + 2);
          if (big > BigInt(options.maxPayload)) throw tooBig();
          length = Number(big);
          header = 10;
        }
        if (length > options.maxPayload) throw tooBig();
        if (opcode >= 0x8 && (length > 125 || !fin)) {
          throw new WsProtocolError("a control frame is fragmented or longer than 125 bytes");
        }
        if ((opcode > 0x2 && opcode < 0x8) || opcode > 0xa) {
          throw new WsProtocolError(`a frame has the unknown opcode ${opcode}`);
        }
        const masked = (second & 0x80) !== 0;
        if (options.masked !== undefined && masked !== options.masked) {
          throw new WsProtocolError(`a frame is ${masked ? "" : "not "}masked`);
        }
        const payloadStart = start + header + (masked ? 4 : 0);
        if (end < payloadStart + length) break;
        const payload = buffer.slice(payloadStart, payloadStart + length);
        if (masked) {
          const key = buffer.subarray(payloadStart - 4, payloadStart);
          for (let i = 0; i < length; i++) payload[i] ^= key[i & 3];
        }
        frames.push({ fin, opcode, payload });
        start = payloadStart + length;
      }
      if (start === end) start = end = 0;
      return frames;
    },
  };

  function tooBig(): WsProtocolError {
    return new WsProtocolError(`a frame is larger than ${options.maxPayload} bytes`, 1009);
  }
}

/** What a peer said: a message, a close (code 1005 when it gave none), a ping or a pong. */
export type WsEvent =
  | { kind: "message"; data: string | ArrayBuffer }
  | { kind: "close"; code: number; reason: string }
  | { kind: "ping"; payload: Uint8Array }
  | { kind: "pong" };

/**
 * Assembles frames into messages (fragments joined, text decoded as UTF-8) and reads close
 * frames. A message over `maxMessage` bytes is refused (1009).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { messageAssembler } from "./_ws_frames.ts";
 * const assemble = messageAssembler({ maxMessage: 1024 });
 * const text = (s: string) => new TextEncoder().encode(s);
 * assert.equal(assemble({ fin: false, opcode: 1, payload: text("he") }), undefined);
 * assert.deepEqual(assemble({ fin: true, opcode: 0, payload: text("llo") }), {
 *   kind: "message",
 *   data: "hello",
 * });
 * assert.deepEqual(assemble({ fin: true, opcode: 8, payload: Uint8Array.of(0x0f, 0xa0, 0x62) }), {
 *   kind: "close",
 *   code: 4000,
 *   reason: "b",
 * });
 * ```
 * @throws {WsProtocolError} for fragments out of order, invalid text or close frames, or a
 *   message that is too big.
 */
export function messageAssembler(
  options: { maxMessage: number },
): (frame: WsFrame) => WsEvent | undefined {
  const decoder = new TextDecoder("utf-8", { fatal: true });
  let parts: Uint8Array[] | undefined;
  let partsOpcode = 0;
  let size = 0;
  return (frame) => {
    switch (frame.opcode) {
      case OPCODE.ping:
        return { kind: "ping", payload: frame.payload };
      case OPCODE.pong:
        return { kind: "pong" };
      case OPCODE.close:
        return closeEvent(decoder, frame.payload);
    }
    if (frame.opcode === OPCODE.continuation) {
      if (parts === undefined) throw new WsProtocolError("a continuation frame starts a message");
    } else {
      if (parts !== undefined) throw new WsProtocolError("a message starts inside another");
      parts = [];
      partsOpcode = frame.opcode;
      size = 0;
    }
    size += frame.payload.length;
    if (size > options.maxMessage) {
      throw new WsProtocolError(`a message is larger than ${options.maxMessage} bytes`, 1009);
    }
    parts.push(frame.payload);
    if (!frame.fin) return undefined;
    const whole = parts.length === 1 ? parts[0] : joinBytes(parts);
    parts = undefined;
    if (partsOpcode === OPCODE.binary) {
      // A payload is an array of its own (`frameDecoder` copies it out): its buffer is the data.
      const own = whole.byteOffset === 0 && whole.byteLength === whole.buffer.byteLength;
      const data = own
        ? whole.buffer
        : whole.buffer.slice(whole.byteOffset, whole.byteOffset + whole.byteLength);
      return { kind: "message", data: data as ArrayBuffer };
    }
    return { kind: "message", data: decodeText(decoder, whole) };
  };
}

function closeEvent(decoder: TextDecoder, payload: Uint8Array): WsEvent {
  if (payload.length === 0) return { kind: "close", code: 1005, reason: "" };
  if (payload.length === 1) throw new WsProtocolError("a close frame has a one-byte payload");
  const code = (payload[0] << 8) | payload[1];
  const valid = (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
    (code >= 3000 && code <= 4999);
  if (!valid) throw new WsProtocolError(`a close frame has the invalid code ${code}`);
  const reason = decodeText(decoder, payload.subarray(2));
  return { kind: "close", code, reason };
}

function decodeText(decoder: TextDecoder, bytes: Uint8Array): string {
  try {
    return decoder.decode(bytes);
  } catch {
    throw new WsProtocolError("a text message is not valid UTF-8", 1007);
  }
}

/**
 * The payload of a close frame: the code (none for 1005) and the reason, cut to fit 125 bytes.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { closePayload } from "./_ws_frames.ts";
 * assert.deepEqual([...closePayload(1000, "ok")], [0x03, 0xe8, 0x6f, 0x6b]);
 * assert.equal(closePayload(1005, "").length, 0);
 * ```
 */
export function closePayload(code: number, reason: string): Uint8Array {
  if (code === 1005) return new Uint8Array(0);
  let text = new TextEncoder().encode(reason);
  if (text.length > 123) {
    // Cut at a character boundary: continuation bytes are 0b10xxxxxx.
    let end = 123;
    while (end > 0 && (text[end] & 0xc0) === 0x80) end--;
    text = text.subarray(0, end);
  }
  const out = new Uint8Array(2 + text.length);
  out[0] = code >> 8;
  out[1] = code & 0xff;
  out.set(text, 2);
  return out;
}
