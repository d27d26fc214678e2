/**
 * The fallback's WebSocket connection to a route's target, on a socket of its own (TCP, or TLS
 * for `wss://`): the handshake, then messages read one at a time, when the relay asks for them.
 * A relay that reads no further while its client is slow leaves the rest in the connection, and
 * the target waits, as it would behind traefik or configurable-http-proxy; `WebSocket` reads
 * everything as it comes, which a client that does not read turns into memory without bound.
 *
 * @module
 */

import { joinBytes } from "../core/bytes.ts";
import { writeAll } from "../net/write_all.ts";
import { headEnd } from "./_http1_head.ts";
import {
  closePayload,
  encodeFrame,
  frameDecoder,
  messageAssembler,
  OPCODE,
  type WsEvent,
  WsProtocolError,
} from "./_ws_frames.ts";
import { toBase64 } from "../core/base64.ts";

export type { WsEvent } from "./_ws_frames.ts";

/** The TLS material for `wss://` targets (JupyterHub's internal SSL). */
export interface TargetTls {
  /** CA certificates (PEM) the target's certificate must chain to; default the system's. */
  caCerts?: string[];
  /** Client certificate (PEM) presented to the target. */
  cert?: string;
  /** Its private key (PEM). */
  key?: string;
}

/** Options of `openUpstream`. */
export interface UpstreamOptions {
  /** `ws://` or `wss://` URL, its path sent as it is. */
  url: string;
  /** The end-to-end headers of the client's handshake, `Host` included. */
  headers: [string, string][];
  /** The subprotocols the client asked for, in order. */
  protocols: string[];
  /** For `wss://`. */
  tls?: TargetTls;
  /** Ends the handshake (the client left). */
  signal?: AbortSignal;
  /** The largest message taken; default 64 MiB (Deno's own WebSocket limit). */
  maxMessage?: number;
}

/** An open connection to the target. */
export interface UpstreamSocket {
  /** The subprotocol the target chose; "" for none. */
  readonly protocol: string;
  /**
   * The next message or close from the target (pings are answered here), or undefined once the
   * connection ended without a close, or broke the protocol. Reads only when called.
   */
  next(): Promise<WsEvent | undefined>;
  /** Sends a message; see `pending`. */
  send(data: string | ArrayBuffer): void;
  /** Bytes handed to `send` and not yet written to the connection. */
  readonly pending: number;
  /**
   * Starts the closing handshake (1005: a close frame without a code); the connection ends
   * when the target answers, or after a few seconds.
   */
  close(code: number, reason: string): void;
  /** Ends the connection at once. */
  abort(): void;
}

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const DEFAULT_MAX_MESSAGE = 64 * 1024 * 1024;
/** The most a response head may take. */
const MAX_HEAD = 64 * 1024;
/** How long a close may wait for the target's answer. */
const CLOSE_WAIT_MS = 5_000;
/** How long the target may take to answer the handshake once connected. */
const HANDSHAKE_TIMEOUT_MS = 30_000;
/** Pings are not answered while this much is still to be written (the target is not reading). */
const PONG_BACKLOG = 1024 * 1024;

/**
 * Connects to the target and performs the handshake. Resolves with the open socket, or with the
 * status of a target that answered without upgrading (502 for an answer that is not a valid
 * WebSocket handshake).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { openUpstream } from "./_ws_upstream.ts";
 * const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
 *   const { socket, response } = Deno.upgradeWebSocket(request);
 *   socket.onmessage = (event) => socket.send(`echo ${event.data}`);
 *   return response;
 * });
 * const opened = await openUpstream({
 *   url: `ws://127.0.0.1:${server.addr.port}/x`,
 *   headers: [["host", "hub.example"]],
 *   protocols: [],
 * });
 * assert.ok("socket" in opened);
 * opened.socket.send("hi");
 * assert.deepEqual(await opened.socket.next(), { kind: "message", data: "echo hi" });
 * opened.socket.close(1000, "bye");
 * assert.deepEqual(await opened.socket.next(), { kind: "close", code: 1000, reason: "bye" });
 * await server.shutdown();
 * ```
 * @throws {Error} when the target cannot be reached or the connection fails before its answer.
 */
export async function openUpstream(
  options: UpstreamOptions,
): Promise<{ socket: UpstreamSocket } | { refused: number }> {
  const secure = options.url.startsWith("wss://");
  // The host and port as URL reads them; the path as given (URL would normalise it).
  const parsed = new URL(options.url);
  const hostname = parsed.hostname.replace(/^\[(.*)\]$/, "$1");
  const port = Number(parsed.port) || (secure ? 443 : 80);
  const pathStart = options.url.indexOf("/", options.url.indexOf("//") + 2);
  const path = pathStart < 0 ? "/" : options.url.slice(pathStart);
  options.signal?.throwIfAborted();
  const connecting = secure
    ? Deno.connectTls({ hostname, port, ...options.tls })
    : Deno.connect({ hostname, port });
  const conn = await connecting;
  // Messages go out as they come (a websocket's small frames wait for no acknowledgement).
  if (!secure) (conn as Deno.TcpConn).setNoDelay(true);
  const abort = () => {
    try {
      conn.close();
    } catch {
      // already closed
    }
  };
  options.signal?.addEventListener("abort", abort, { once: true });
  if (options.signal?.aborted) abort(); // the client left while connecting
  const timer = setTimeout(abort, HANDSHAKE_TIMEOUT_MS);
  try {
    const key = toBase64(crypto.getRandomValues(new Uint8Array(16)));
    const lines = [`GET ${path} HTTP/1.1`];
    if (!options.headers.some(([name]) => name.toLowerCase() === "host")) {
      lines.push(`host: ${parsed.host}`);
    }
    for (const [name, value] of options.headers) lines.push(`${name}: ${value}`);
    lines.push(
      "upgrade: websocket",
      "connection: Upgrade",
      `sec-websocket-key: ${key}`,
      "sec-websocket-version: 13",
    );
    if (options.protocols.length > 0) {
      lines.push(`sec-websocket-protocol: ${options.protocols.join(", ")}`);
    }
    await writeAll(conn, new TextEncoder().encode(lines.join("\r\n") + "\r\n\r\n"));
    const { status, headers, rest } = await readHead(conn);
    if (status !== 101) {
      abort();
      return { refused: status };
    }
    const protocol = headers.get("sec-websocket-protocol") ?? "";
    const valid = headers.get("upgrade")?.toLowerCase() === "websocket" &&
      headers.get("sec-websocket-accept") === await acceptKey(key) &&
      (protocol === "" || options.protocols.includes(protocol)) &&
      !headers.has("sec-websocket-extensions");
    if (!valid) {
      abort();
      return { refused: 502 };
    }
    return { socket: upstreamSocket(conn, { protocol, rest, maxMessage: options.maxMessage }) };
  } catch (error) {
    abort();
    throw error;
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener("abort", abort);
  }
}

async function acceptKey(key: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-1", new TextEncoder().encode(key + GUID));
  return toBase64(new Uint8Array(digest));
}

/** Reads the response head; `rest`: the bytes after it (the first frames). */
async function readHead(
  conn: Deno.Conn,
): Promise<{ status: number; headers: Headers; rest: Uint8Array }> {
  let buffer: Uint8Array = new Uint8Array(0);
  const chunk = new Uint8Array(16 * 1024);
  while (true) {
    const end = headEnd(buffer, 0, buffer.length);
    if (end >= 0) {
      const text = new TextDecoder().decode(buffer.subarray(0, end));
      const [statusLine, ...fields] = text.split("\r\n");
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? NaN);
      if (!Number.isInteger(status)) throw new Error(`the target answered ${statusLine}`);
      const headers = new Headers();
      for (const field of fields) {
        const colon = field.indexOf(":");
        if (colon > 0) {
          try {
            headers.append(field.slice(0, colon).trim(), field.slice(colon + 1).trim());
          } catch {
            // a field Headers refuses is not one the handshake needs
          }
        }
      }
      return { status, headers, rest: buffer.slice(end + 4) };
    }
    if (buffer.length > MAX_HEAD) throw new Error("the target's answer has no end of its head");
    const read = await conn.read(chunk);
    if (read === null) throw new Error("the target closed the connection before answering");
    buffer = joinBytes([buffer, chunk.subarray(0, read)]);
  }
}

function upstreamSocket(
  conn: Deno.Conn,
  options: { protocol: string; rest: Uint8Array; maxMessage?: number },
): UpstreamSocket {
  const maxMessage = options.maxMessage ?? DEFAULT_MAX_MESSAGE;
  const decoder = frameDecoder({ maxPayload: maxMessage, masked: false });
  const assemble = messageAssembler({ maxMessage });
  const encoder = new TextEncoder();
  const events: WsEvent[] = [];
  const chunk = new Uint8Array(64 * 1024);
  let ended = false;
  let closeSent = false;
  let closeTimer: ReturnType<typeof setTimeout> | undefined;
  let pending = 0;
  // Frames not yet written; those queued while a write is under way go out together.
  let queue: Uint8Array[] = [];
  let flushing = false;
  let flushed = Promise.resolve();
  let initial: Uint8Array | undefined = options.rest.length > 0 ? options.rest : undefined;

  function end(): void {
    ended = true;
    clearTimeout(closeTimer);
    try {
      conn.close();
    } catch {
      // already closed
    }
  }

  function write(opcode: number, payload: Uint8Array): void {
    if (ended) return;
    const bytes = encodeFrame({ opcode, payload }, { mask: true });
    pending += bytes.length;
    queue.push(bytes);
    if (!flushing) flushed = flush();
  }

  async function flush(): Promise<void> {
    flushing = true;
    try {
      while (queue.length > 0 && !ended) {
        const batch = queue.length === 1 ? queue[0] : joinBytes(queue);
        queue = [];
        try {
          await writeAll(conn, batch);
        } catch {
          end();
        }
        pending -= batch.length;
      }
    } finally {
      queue = [];
      flushing = false;
    }
  }

  function sendClose(code: number, reason: string): void {
    if (closeSent || ended) return;
    closeSent = true;
    write(OPCODE.close, closePayload(code, reason));
    closeTimer = setTimeout(end, CLOSE_WAIT_MS);
  }

  // Decodes bytes read into events; false when the target broke the protocol.
  function take(bytes: Uint8Array): boolean {
    try {
      for (const frame of decoder.push(bytes)) {
        const event = assemble(frame);
        if (event === undefined || event.kind === "pong") continue;
        if (event.kind === "ping") {
          // A target that pings and does not read gets no more pongs than fit the backlog.
          if (pending < PONG_BACKLOG) write(OPCODE.pong, event.payload);
          continue;
        }
        events.push(event);
      }
      return true;
    } catch (error) {
      const code = error instanceof WsProtocolError ? error.code : 1002;
      sendClose(code, "");
      flushed.then(end);
      return false;
    }
  }

  return {
    protocol: options.protocol,
    get pending() {
      return pending;
    },
    async next() {
      while (events.length === 0) {
        if (ended) return undefined;
        let bytes: Uint8Array;
        if (initial) {
          bytes = initial;
          initial = undefined;
        } else {
          let read: number | null;
          try {
            read = await conn.read(chunk);
          } catch {
            read = null;
          }
          if (read === null) {
            end();
            return undefined;
          }
          bytes = chunk.subarray(0, read); // the decoder copies what it keeps
        }
        if (!take(bytes)) return undefined;
      }
      const event = events.shift()!;
      if (event.kind === "close") {
        // Answered with the same code; the target then ends the connection.
        sendClose(event.code, "");
        flushed.then(end);
      }
      return event;
    },
    send(data) {
      if (closeSent) return;
      if (typeof data === "string") write(OPCODE.text, encoder.encode(data));
      else write(OPCODE.binary, new Uint8Array(data));
    },
    close(code, reason) {
      sendClose(code, reason);
    },
    abort: end,
  };
}
