/**
 * A websocket client by hand over any connection (a unix socket, where \`WebSocket\` cannot go):
 * HTTP/1.1 responses, server frames, masked client frames.
 *
 * @module
 */
import assert from "node:assert/strict";
import { writeAll } from "../lib/net/write_all.ts";

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** Sends the upgrade request for \`path\` and checks the 101 and its accept key. */
export async function upgrade(conn: Deno.Conn, path: string): Promise<Reader> {
  const key = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))));
  await writeAll(
    conn,
    encoder.encode(
      `GET ${path} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    ),
  );
  const reader = new Reader(conn);
  const { status, headers } = await reader.head();
  assert.equal(status, 101);
  const digest = await crypto.subtle.digest(
    "SHA-1",
    encoder.encode(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`),
  );
  assert.equal(
    headers.get("sec-websocket-accept"),
    btoa(String.fromCharCode(...new Uint8Array(digest))),
  );
  return reader;
}

/** Reads HTTP/1.1 responses and websocket frames off one connection, keeping what is left over. */
export class Reader {
  #conn: Deno.Conn;
  #buffer = new Uint8Array(0);

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  async #fill(): Promise<void> {
    const chunk = new Uint8Array(64 * 1024);
    const n = await this.#conn.read(chunk);
    if (n === null) throw new Error("the connection ended early");
    const joined = new Uint8Array(this.#buffer.length + n);
    joined.set(this.#buffer);
    joined.set(chunk.subarray(0, n), this.#buffer.length);
    this.#buffer = joined;
  }

  async bytes(count: number): Promise<Uint8Array> {
    while (this.#buffer.length < count) await this.#fill();
    const out = this.#buffer.slice(0, count);
    this.#buffer = this.#buffer.slice(count);
    return out;
  }

  async head(): Promise<{ status: number; headers: Headers }> {
    let end: number;
    while ((end = decoder.decode(this.#buffer).indexOf("\r\n\r\n")) < 0) await this.#fill();
    const [statusLine, ...lines] = decoder.decode(await this.bytes(end + 4)).trimEnd().split(
      "\r\n",
    );
    const headers = new Headers();
    for (const line of lines) {
      const colon = line.indexOf(":");
      headers.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
    }
    return { status: Number(statusLine.split(" ")[1]), headers };
  }

  async response(): Promise<{ status: number; headers: Headers; body: string }> {
    const { status, headers } = await this.head();
    const length = Number(headers.get("content-length"));
    return { status, headers, body: decoder.decode(await this.bytes(length)) };
  }

  /** One unmasked frame from the server. */
  async frame(): Promise<{ opcode: number; payload: Uint8Array }> {
    const [b0, b1] = await this.bytes(2);
    assert.equal(b1 & 0x80, 0, "server frames are not masked");
    let length = b1 & 0x7f;
    if (length === 126) length = new DataView((await this.bytes(2)).buffer).getUint16(0);
    if (length === 127) length = Number(new DataView((await this.bytes(8)).buffer).getBigUint64(0));
    return { opcode: b0 & 0x0f, payload: await this.bytes(length) };
  }
}

/** One final, masked client frame (payloads under 126 bytes are enough here). */
export function maskedFrame(opcode: number, payload: Uint8Array): Uint8Array {
  assert.ok(payload.length < 126);
  const mask = crypto.getRandomValues(new Uint8Array(4));
  const frame = new Uint8Array(6 + payload.length);
  frame[0] = 0x80 | opcode;
  frame[1] = 0x80 | payload.length;
  frame.set(mask, 2);
  for (let i = 0; i < payload.length; i++) frame[6 + i] = payload[i] ^ mask[i % 4];
  return frame;
}

export { writeAll };
