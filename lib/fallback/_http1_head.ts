/**
 * HTTP/1.1 message heads (RFC 9112) for the fallback's upstream client: the request head it
 * writes, and the response head it reads back with the framing of the body that follows. Pure.
 *
 * @module
 */

import { binaryString } from "../core/bytes.ts";

/** Where a response head ends: the index of its `\r\n\r\n`, or -1 if not there yet. */
export function headEnd(bytes: Uint8Array, from: number, to: number): number {
  for (let i = from + 3; i < to; i++) {
    if (bytes[i] === 10 && bytes[i - 1] === 13 && bytes[i - 2] === 10 && bytes[i - 3] === 13) {
      return i - 3;
    }
  }
  return -1;
}

/** How the body after a response head is delimited. */
export type BodyFraming =
  | { kind: "none" }
  | { kind: "length"; length: number }
  | { kind: "chunked" }
  | { kind: "close" };

/** A parsed response head. */
export interface ResponseHead {
  status: number;
  statusText: string;
  /** The end-to-end headers, in order (hop-by-hop ones and those `Connection` names left out). */
  headers: [string, string][];
  framing: BodyFraming;
  /** Whether the connection can carry another request once the body is read. */
  keepAlive: boolean;
}

/**
 * A response the client cannot be given: a head that is not usable HTTP/1.x, or a body cut short
 * before its response was handed on (the caller answers 502).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseResponseHead, BadResponseError } from "./_http1_head.ts";
 * assert.throws(() => parseResponseHead("HTTP/2 200", "GET"), BadResponseError);
 * ```
 */
export class BadResponseError extends Error {
  /** `message` says what is wrong with the response. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "BadResponseError";
  }
}

/** Headers that describe one connection, not the message (RFC 9110, section 7.6.1). */
export const HOP_BY_HOP: ReadonlySet<string> = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const STATUS_LINE = /^HTTP\/1\.([01]) (\d{3})(?: (.*))?$/;

/**
 * The bytes `bytes[from, to)` as a string of one character per byte (RFC 9110's field values
 * are octets; a `Headers` object takes them as such).
 */
export function latin1(bytes: Uint8Array, from: number, to: number): string {
  let ascii = true;
  for (let i = from; i < to; i++) {
    if (bytes[i] > 127) {
      ascii = false;
      break;
    }
  }
  if (ascii) return ASCII.decode(bytes.subarray(from, to));
  return binaryString(bytes.subarray(from, to));
}

const ASCII = new TextDecoder();

/**
 * The one length a `Content-Length` value gives (`5`, or the same length repeated, `5, 5`, as
 * several fields joined: RFC 9110, 8.6), if it is also `known` when given; undefined for any
 * other value.
 */
export function contentLength(value: string, known?: string): string | undefined {
  let length = known;
  for (const part of value.split(",")) {
    const trimmed = part.trim();
    if (!/^\d{1,15}$/.test(trimmed) || (length !== undefined && length !== trimmed)) {
      return undefined;
    }
    length = trimmed;
  }
  return length;
}

/**
 * Parses a response head (`text` up to, not including, its empty line) to a request with method
 * `method`. 1xx heads are returned as they are (the caller reads the next head).
 *
 * @throws {BadResponseError} for a head that is not HTTP/1.x, a field that is not a valid
 * header (folded lines included), conflicting `Content-Length`s, or a `Transfer-Encoding` other
 * than `chunked`.
 */
export function parseResponseHead(text: string, method: string): ResponseHead {
  const lines = text.split("\r\n");
  const status = STATUS_LINE.exec(lines[0]);
  if (status === null) {
    throw new BadResponseError(`not an HTTP/1.x status line: ${JSON.stringify(lines[0])}`);
  }
  const minor = status[1];
  const code = Number(status[2]);
  if (code < 100) throw new BadResponseError(`no such status: ${code}`);
  const all: [string, string][] = [];
  let connection: Set<string> | undefined;
  let length: string | undefined;
  // The first Content-Length field, given the one value once the framing is known.
  let lengthField: [string, string] | undefined;
  let transferEncoding: string | undefined;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    const colon = line.indexOf(":");
    const name = colon > 0 ? line.slice(0, colon) : "";
    if (!TOKEN.test(name)) {
      throw new BadResponseError(`not a header field: ${JSON.stringify(line)}`);
    }
    const lower = name.toLowerCase();
    const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, "");
    if (/[\0\r\n]/.test(value)) throw new BadResponseError(`bad value of ${name}`);
    if (lower === "connection") {
      connection ??= new Set();
      for (const token of value.split(",")) connection.add(token.trim().toLowerCase());
    } else if (lower === "content-length") {
      const next = contentLength(value, length);
      if (next === undefined) {
        throw new BadResponseError(`bad Content-Length: ${JSON.stringify(value)}`);
      }
      length = next;
      if (lengthField !== undefined) continue;
      all.push(lengthField = [lower, value]);
      continue;
    } else if (lower === "transfer-encoding") {
      transferEncoding = transferEncoding === undefined ? value : `${transferEncoding}, ${value}`;
    }
    all.push([lower, value]);
  }
  let headers = all.filter(([name]) =>
    !HOP_BY_HOP.has(name) && (connection === undefined || !connection.has(name))
  );
  let framing: BodyFraming;
  let keepAlive = minor === "1" ? !connection?.has("close") : connection?.has("keep-alive") ===
    true;
  if (transferEncoding !== undefined && lengthField !== undefined) {
    // A length beside a transfer coding is dropped, and the connection not trusted after
    // (RFC 9112, 6.3), whatever the response.
    keepAlive = false;
    headers = headers.filter((field) => field !== lengthField);
  }
  if (
    method === "HEAD" || (code >= 100 && code < 200) || code === 204 || code === 304
  ) {
    framing = { kind: "none" };
  } else if (transferEncoding !== undefined) {
    if (transferEncoding.trim().toLowerCase() !== "chunked") {
      throw new BadResponseError(`unsupported Transfer-Encoding: ${transferEncoding}`);
    }
    framing = { kind: "chunked" };
  } else if (length !== undefined) {
    framing = { kind: "length", length: Number(length) };
  } else {
    framing = { kind: "close" };
    keepAlive = false;
  }
  if (lengthField !== undefined) lengthField[1] = length!; // "5, 5" goes on as "5"
  return { status: code, statusText: status[3] ?? "", headers, framing, keepAlive };
}

/**
 * The bytes of a head: one byte per character (field values are octets, RFC 9110 5.5; the
 * characters of a `Headers` object's values are all below 256).
 *
 * @throws {RangeError} for a character above U+00FF.
 */
export function headBytes(head: string): Uint8Array {
  const utf8 = ENCODER.encode(head);
  if (utf8.length === head.length) return utf8; // ASCII only
  const bytes = new Uint8Array(head.length);
  for (let i = 0; i < head.length; i++) {
    const code = head.charCodeAt(i);
    if (code > 255) throw new RangeError(`a head holds octets, not U+${code.toString(16)}`);
    bytes[i] = code;
  }
  return bytes;
}

const ENCODER = new TextEncoder();

/**
 * The head of a request: `method target HTTP/1.1`, the fields, and the empty line. `fields`
 * must be valid (as a `Headers` object holds them); a `Host` field is added when there is none.
 */
export function requestHead(
  options: { method: string; target: string; host: string; fields: Iterable<[string, string]> },
): string {
  let head = `${options.method} ${options.target} HTTP/1.1\r\n`;
  let host = false;
  for (const [name, value] of options.fields) {
    if (name === "host") host = true;
    head += `${name}: ${value}\r\n`;
  }
  if (!host) head += `host: ${options.host}\r\n`;
  return head + "\r\n";
}
