/**
 * HTTP/2 frames (RFC 9113, section 4 and 6): their types, flags, settings and error codes, and
 * the encoding of the frames a client sends. Pure: bytes in, bytes out.
 *
 * @module
 */

/** Frame types. */
export const FRAME = {
  DATA: 0x0,
  HEADERS: 0x1,
  PRIORITY: 0x2,
  RST_STREAM: 0x3,
  SETTINGS: 0x4,
  PUSH_PROMISE: 0x5,
  PING: 0x6,
  GOAWAY: 0x7,
  WINDOW_UPDATE: 0x8,
  CONTINUATION: 0x9,
} as const;

/** Frame flags. */
export const FLAG = {
  END_STREAM: 0x1,
  ACK: 0x1,
  END_HEADERS: 0x4,
  PADDED: 0x8,
  PRIORITY: 0x20,
} as const;

/** Setting identifiers. */
export const SETTING = {
  HEADER_TABLE_SIZE: 0x1,
  ENABLE_PUSH: 0x2,
  MAX_CONCURRENT_STREAMS: 0x3,
  INITIAL_WINDOW_SIZE: 0x4,
  MAX_FRAME_SIZE: 0x5,
} as const;

/** Error codes (RST_STREAM, GOAWAY). */
export const ERROR_CODE = {
  NO_ERROR: 0x0,
  PROTOCOL_ERROR: 0x1,
  FLOW_CONTROL_ERROR: 0x3,
  FRAME_SIZE_ERROR: 0x6,
  REFUSED_STREAM: 0x7,
  CANCEL: 0x8,
  COMPRESSION_ERROR: 0x9,
} as const;

/** The client connection preface (RFC 9113, 3.4), before the first SETTINGS frame. */
export const PREFACE: Uint8Array = new TextEncoder().encode("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

/** The size of a frame header. */
export const FRAME_HEADER_SIZE = 9;

/** The largest window (2^31 - 1). */
export const MAX_WINDOW = 0x7fffffff;

/**
 * A frame's header.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeFrame, FRAME, parseFrameHeader } from "./_http2_frame.ts";
 * const bytes = encodeFrame({ type: FRAME.PING, flags: 0, stream: 0, payload: new Uint8Array(8) });
 * assert.deepEqual(parseFrameHeader(bytes, 0), { length: 8, type: FRAME.PING, flags: 0, stream: 0 });
 * ```
 */
export interface FrameHeader {
  /** Payload length. */
  length: number;
  /** Frame type (`FRAME`). */
  type: number;
  /** Flags (`FLAG`). */
  flags: number;
  /** Stream identifier (0: the connection). */
  stream: number;
}

/**
 * Reads the frame header at `offset` (9 bytes must be there).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseFrameHeader } from "./_http2_frame.ts";
 * const header = parseFrameHeader(new Uint8Array([0, 0, 4, 1, 5, 0, 0, 0, 3]), 0);
 * assert.deepEqual(header, { length: 4, type: 1, flags: 5, stream: 3 });
 * ```
 */
export function parseFrameHeader(bytes: Uint8Array, offset: number): FrameHeader {
  return {
    length: (bytes[offset] << 16) | (bytes[offset + 1] << 8) | bytes[offset + 2],
    type: bytes[offset + 3],
    flags: bytes[offset + 4],
    stream: readUint31(bytes, offset + 5),
  };
}

/**
 * A frame to encode.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { FRAME, type FrameToSend } from "./_http2_frame.ts";
 * const frame: FrameToSend = { type: FRAME.DATA, flags: 0, stream: 1, payload: new Uint8Array(3) };
 * assert.equal(frame.payload.length, 3);
 * ```
 */
export interface FrameToSend {
  /** Frame type. */
  type: number;
  /** Flags. */
  flags: number;
  /** Stream identifier. */
  stream: number;
  /** Payload. */
  payload: Uint8Array;
}

/**
 * Encodes frames one after the other into one buffer (to be written at once).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeFrame, FRAME } from "./_http2_frame.ts";
 * const bytes = encodeFrame(
 *   { type: FRAME.DATA, flags: 1, stream: 1, payload: new Uint8Array([7]) },
 *   { type: FRAME.DATA, flags: 1, stream: 3, payload: new Uint8Array() },
 * );
 * assert.deepEqual([...bytes], [0, 0, 1, 0, 1, 0, 0, 0, 1, 7, 0, 0, 0, 0, 1, 0, 0, 0, 3]);
 * ```
 */
export function encodeFrame(...frames: FrameToSend[]): Uint8Array {
  let size = 0;
  for (const frame of frames) size += FRAME_HEADER_SIZE + frame.payload.length;
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const { type, flags, stream, payload } of frames) {
    bytes[offset] = payload.length >>> 16;
    bytes[offset + 1] = (payload.length >>> 8) & 0xff;
    bytes[offset + 2] = payload.length & 0xff;
    bytes[offset + 3] = type;
    bytes[offset + 4] = flags;
    writeUint32(bytes, offset + 5, stream);
    bytes.set(payload, offset + FRAME_HEADER_SIZE);
    offset += FRAME_HEADER_SIZE + payload.length;
  }
  return bytes;
}

/**
 * A SETTINGS payload.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseSettings, SETTING, settingsPayload } from "./_http2_frame.ts";
 * const payload = settingsPayload([[SETTING.ENABLE_PUSH, 0]]);
 * assert.deepEqual(parseSettings(payload), [[SETTING.ENABLE_PUSH, 0]]);
 * ```
 */
export function settingsPayload(settings: [id: number, value: number][]): Uint8Array {
  const bytes = new Uint8Array(settings.length * 6);
  settings.forEach(([id, value], i) => {
    bytes[i * 6] = id >>> 8;
    bytes[i * 6 + 1] = id & 0xff;
    writeUint32(bytes, i * 6 + 2, value);
  });
  return bytes;
}

/**
 * The settings of a SETTINGS payload, in order.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseSettings } from "./_http2_frame.ts";
 * assert.deepEqual(parseSettings(new Uint8Array([0, 4, 0, 1, 0, 0])), [[4, 65536]]);
 * ```
 * @throws {RangeError} when the payload is not a multiple of six bytes.
 */
export function parseSettings(payload: Uint8Array): [id: number, value: number][] {
  if (payload.length % 6 !== 0) throw new RangeError("a SETTINGS payload of a bad length");
  const settings: [number, number][] = [];
  for (let i = 0; i < payload.length; i += 6) {
    settings.push([(payload[i] << 8) | payload[i + 1], readUint32(payload, i + 2)]);
  }
  return settings;
}

/**
 * A 4-byte payload (WINDOW_UPDATE's increment, RST_STREAM's error code).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { uint32Payload } from "./_http2_frame.ts";
 * assert.deepEqual([...uint32Payload(65536)], [0, 1, 0, 0]);
 * ```
 */
export function uint32Payload(value: number): Uint8Array {
  const bytes = new Uint8Array(4);
  writeUint32(bytes, 0, value);
  return bytes;
}

/**
 * Reads a big-endian 32-bit number.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { readUint32 } from "./_http2_frame.ts";
 * assert.equal(readUint32(new Uint8Array([0x80, 0, 0, 1]), 0), 0x80000001);
 * ```
 */
export function readUint32(bytes: Uint8Array, offset: number): number {
  return ((bytes[offset] << 24) >>> 0) + ((bytes[offset + 1] << 16) | (bytes[offset + 2] << 8) |
    bytes[offset + 3]);
}

/**
 * Reads a 31-bit number (the reserved top bit cleared).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { readUint31 } from "./_http2_frame.ts";
 * assert.equal(readUint31(new Uint8Array([0x80, 0, 0, 1]), 0), 1);
 * ```
 */
export function readUint31(bytes: Uint8Array, offset: number): number {
  return readUint32(bytes, offset) & MAX_WINDOW;
}

function writeUint32(bytes: Uint8Array, offset: number, value: number): void {
  bytes[offset] = value >>> 24;
  bytes[offset + 1] = (value >>> 16) & 0xff;
  bytes[offset + 2] = (value >>> 8) & 0xff;
  bytes[offset + 3] = value & 0xff;
}
