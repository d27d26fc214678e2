/**
 * A small HTTP/2 client connection (RFC 9113) on `Deno.connect` (and `Deno.startTls` with ALPN
 * `h2`), for gRPC: many streams over one connection, request bodies sent within the peer's flow
 * control windows, a request's HEADERS and first DATA frames in one write with TCP_NODELAY on
 * (Deno's `fetch` has no `noDelay`, and its h2c requests waited on Nagle's algorithm), response
 * headers, data and trailers per stream, server PINGs answered, GOAWAY honoured. No server push,
 * no priorities, no header block over one frame.
 *
 * @module
 */

import { joinBytes } from "../core/bytes.ts";
import { writeAll } from "./write_all.ts";
import { encodeHeaders, type HeaderField, hpackDecoder } from "./_hpack.ts";
import {
  encodeFrame,
  ERROR_CODE,
  FLAG,
  FRAME,
  FRAME_HEADER_SIZE,
  type FrameToSend,
  MAX_WINDOW,
  parseFrameHeader,
  parseSettings,
  PREFACE,
  readUint31,
  readUint32,
  SETTING,
  settingsPayload,
  uint32Payload,
} from "./_http2_frame.ts";

export type { HeaderField } from "./_hpack.ts";

/** The window this client gives the server, per stream and for the connection. */
const RECEIVE_WINDOW = 4 * 1024 * 1024;
/** Received bytes are credited back once this many wait. */
const CREDIT_AT = 1024 * 1024;
/** The largest frame this client accepts (the protocol's default). */
const MAX_RECEIVE_FRAME = 16_384;
/** The largest header block (HEADERS and its CONTINUATIONs) accepted. */
const MAX_HEADER_BLOCK = 256 * 1024;
/** The last client stream identifier. */
const LAST_STREAM_ID = 0x7fffffff;

/**
 * A failed HTTP/2 exchange: the connection ended or failed, or the server reset the stream.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { Http2Error } from "./http2_client.ts";
 * const error = new Http2Error("the server reset the stream", { code: 7, unprocessed: true });
 * assert.ok(error.unprocessed);
 * ```
 */
export class Http2Error extends Error {
  /** The HTTP/2 error code (RST_STREAM, GOAWAY), if the server gave one. */
  readonly code?: number;
  /**
   * The server did not process the request (refused, or above the last stream of its GOAWAY):
   * it can be sent again on another connection.
   */
  readonly unprocessed: boolean;
  /** Creates the error. */
  constructor(message: string, options: { code?: number; unprocessed?: boolean } = {}) {
    super(message);
    this.name = "Http2Error";
    this.code = options.code;
    this.unprocessed = options.unprocessed ?? false;
  }
}

/**
 * Where and how to connect.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import type { Http2ConnectOptions } from "./http2_client.ts";
 * const options: Http2ConnectOptions = { hostname: "127.0.0.1", port: 2379, tls: { caCerts: [] } };
 * assert.equal(options.port, 2379);
 * ```
 */
export interface Http2ConnectOptions {
  /** Host name or address. */
  hostname: string;
  /** Port. */
  port: number;
  /** TLS (`https`), trusting these PEM CA certificates (none given: the system's). */
  tls?: { caCerts?: string[] };
  /**
   * Gives up the TLS handshake, and the wait for the server's first SETTINGS, when aborted (the
   * TCP connect is the caller's to time out).
   */
  signal?: AbortSignal;
  /** See `Http2ConnectionOptions.keepAliveMs`. */
  keepAliveMs?: number;
}

/**
 * Options of `http2Connection`.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import type { Http2ConnectionOptions } from "./http2_client.ts";
 * const options: Http2ConnectionOptions = { keepAliveMs: 0 }; // no PINGs
 * assert.equal(options.keepAliveMs, 0);
 * ```
 */
export interface Http2ConnectionOptions {
  /**
   * While streams are open and the server has sent nothing for this long, a PING asks it to
   * answer; when nothing arrives for this long after the PING the connection fails (a peer gone
   * without a reset). 0: never. Default 10,000 ms.
   */
  keepAliveMs?: number;
}

/**
 * One request's stream.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import type { Http2Stream } from "./http2_client.ts";
 * const stream: Pick<Http2Stream, "id"> = { id: 1 };
 * assert.equal(stream.id, 1);
 * ```
 */
export interface Http2Stream {
  /** The stream identifier. */
  readonly id: number;
  /** The response's header fields (the first header block that is not 1xx). */
  response(): Promise<HeaderField[]>;
  /** The next piece of the response body; undefined at its end. */
  read(): Promise<Uint8Array | undefined>;
  /** The trailers (empty when none); complete once `read` gave undefined. */
  readonly trailers: HeaderField[];
  /** Sends more of the request body, within flow control; `end` ends it. */
  write(data: Uint8Array, options?: { end?: boolean }): Promise<void>;
  /** Ends the stream at once (RST_STREAM CANCEL); what waits on it fails with `reason`. */
  cancel(reason?: unknown): void;
}

/**
 * A request to open.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import type { Http2Request } from "./http2_client.ts";
 * const request: Http2Request = { headers: [[":method", "POST"]], body: new Uint8Array(1), end: true };
 * assert.ok(request.end);
 * ```
 */
export interface Http2Request {
  /** Header fields, pseudo-headers first, names in lower case. */
  headers: HeaderField[];
  /** The start (or all) of the body, sent with the headers as far as the windows allow. */
  body?: Uint8Array;
  /** The body ends with `body` (END_STREAM). */
  end: boolean;
  /** Cancels the stream when aborted (with the signal's reason). */
  signal?: AbortSignal;
}

/**
 * An open connection.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import type { Http2Connection } from "./http2_client.ts";
 * const connection: Pick<Http2Connection, "usable"> = { usable: false };
 * assert.equal(connection.usable, false);
 * ```
 */
export interface Http2Connection {
  /** Opens a stream (waiting while the server's stream limit is reached). */
  request(request: Http2Request): Promise<Http2Stream>;
  /** Whether new streams can be opened (not closed, no GOAWAY, identifiers left). */
  readonly usable: boolean;
  /** Resolves once the server's first SETTINGS arrived; rejects if the connection ends first. */
  readonly ready: Promise<void>;
  /** When the last frame arrived (`performance.now()`); the connection's start before any. */
  readonly lastFrameAt: number;
  /** Resolves with the reason once the connection has ended. */
  readonly closed: Promise<Error>;
  /** Ends the connection; open streams fail. */
  close(): void;
}

interface StreamState {
  id: number;
  sendWindow: number;
  receiveCredit: number;
  headers?: HeaderField[];
  trailers: HeaderField[];
  chunks: Uint8Array[];
  remoteEnded: boolean;
  localEnded: boolean;
  /** The server sent something on the stream (headers, 1xx included, or data). */
  answered: boolean;
  error?: unknown;
  wake?: () => void;
  done?: () => void;
  /** The stream's writes, one after the other. */
  writing: Promise<void>;
}

/**
 * Connects and starts HTTP/2 (preface, settings); resolves once the connection is up.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { http2Connect } from "./http2_client.ts";
 * await assert.rejects(http2Connect({ hostname: "127.0.0.1", port: 1 })); // nothing there
 * ```
 * @throws when the connection or the TLS handshake fails, or TLS does not agree on `h2`.
 */
export async function http2Connect(options: Http2ConnectOptions): Promise<Http2Connection> {
  const tcp = await Deno.connect({ hostname: options.hostname, port: options.port });
  tcp.setNoDelay(true);
  tcp.setKeepAlive(true);
  // Closing gives up what is under way: the TLS handshake (on the TLS connection once startTls
  // has taken the TCP one over: closing `tcp` then throws BadResource, which must not escape the
  // listener), then the wait for the server's SETTINGS.
  let conn: Deno.Conn = tcp;
  let connection: Http2Connection | undefined;
  const abort = () => {
    try {
      (connection ?? conn).close();
    } catch {
      // already closed, or being taken over by startTls (checked once it returns)
    }
  };
  options.signal?.addEventListener("abort", abort, { once: true });
  try {
    if (options.tls) {
      const secure = await Deno.startTls(tcp, {
        hostname: options.hostname,
        caCerts: options.tls.caCerts,
        alpnProtocols: ["h2"],
      });
      conn = secure;
      options.signal?.throwIfAborted();
      if ((await secure.handshake()).alpnProtocol !== "h2") {
        throw new Http2Error(
          `${options.hostname}:${options.port} does not speak HTTP/2 over TLS (ALPN h2)`,
        );
      }
    }
    connection = http2Connection(conn, { keepAliveMs: options.keepAliveMs });
    options.signal?.throwIfAborted();
    await connection.ready;
    return connection;
  } catch (error) {
    abort();
    throw options.signal?.aborted ? options.signal.reason : error;
  } finally {
    options.signal?.removeEventListener("abort", abort);
  }
}

/**
 * HTTP/2 over a connection already made (`http2Connect` makes one).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { http2Connection } from "./http2_client.ts";
 * const written: Uint8Array[] = [];
 * const conn = {
 *   write: (bytes: Uint8Array) => (written.push(bytes.slice()), Promise.resolve(bytes.length)),
 *   read: () => Promise.resolve(null), // the server hangs up at once
 *   close() {},
 * };
 * const connection = http2Connection(conn);
 * assert.match(String(await connection.closed), /closed the connection/);
 * await assert.rejects(connection.ready); // no SETTINGS came
 * assert.equal(new TextDecoder().decode(written[0].subarray(0, 3)), "PRI");
 * ```
 */
export function http2Connection(
  conn: Pick<Deno.Conn, "read" | "write" | "close">,
  options: Http2ConnectionOptions = {},
): Http2Connection {
  const streams = new Map<number, StreamState>();
  const decoder = hpackDecoder();
  let nextId = 1;
  let closedReason: Error | undefined;
  let broken = false; // a protocol error of the server's: the connection is ending
  let goingAway = false;
  let peerInitialWindow = 65_535;
  let peerMaxFrame = 16_384;
  let peerMaxStreams = Infinity;
  let sendWindow = 65_535;
  let connectionCredit = 0;
  let writing: Promise<void> = Promise.resolve();
  const windowWaiters = new Set<() => void>();
  let resolveClosed = (_: Error) => {};
  const closed = new Promise<Error>((resolve) => resolveClosed = resolve);
  let resolveReady = () => {};
  let rejectReady = (_: Error) => {};
  const ready = new Promise<void>((resolve, reject) => {
    resolveReady = resolve;
    rejectReady = reject;
  });
  ready.catch(() => {}); // a caller that does not wait for it learns of the end elsewhere
  let lastFrameAt = performance.now();
  const keepAliveMs = options.keepAliveMs ?? 10_000;
  let pingSentAt: number | undefined; // a PING waits for any frame since then
  const keepAlive = keepAliveMs > 0
    ? setInterval(() => {
      const now = performance.now();
      if (pingSentAt !== undefined && now - Math.max(lastFrameAt, pingSentAt) >= keepAliveMs) {
        fail(new Http2Error(`the server answered nothing for ${Math.round(now - lastFrameAt)} ms`));
      } else if (pingSentAt === undefined && now - lastFrameAt >= keepAliveMs && streams.size > 0) {
        pingSentAt = now;
        void send({ type: FRAME.PING, flags: 0, stream: 0, payload: new Uint8Array(8) });
      }
    }, keepAliveMs / 2)
    : undefined;

  function send(...frames: FrameToSend[]): Promise<void> {
    const bytes = encodeFrame(...frames);
    return sendBytes(bytes);
  }

  function sendBytes(bytes: Uint8Array): Promise<void> {
    writing = writing.then(async () => {
      if (closedReason) return;
      try {
        await writeAll(conn, bytes);
      } catch (error) {
        fail(new Http2Error(`cannot write to the connection: ${(error as Error).message}`));
      }
    });
    return writing;
  }

  function wakeWindows(): void {
    for (const wake of [...windowWaiters]) wake();
  }

  function fail(reason: Error): void {
    if (closedReason) return;
    closedReason = reason;
    clearInterval(keepAlive);
    rejectReady(reason);
    for (const stream of streams.values()) {
      stream.error ??= reason;
      stream.wake?.();
      stream.done?.();
    }
    streams.clear();
    wakeWindows();
    try {
      conn.close();
    } catch {
      // already closed
    }
    resolveClosed(reason);
  }

  // Ends the connection for a protocol error of the server's: GOAWAY with the code, then close.
  function protocolError(message: string, code: number = ERROR_CODE.PROTOCOL_ERROR): void {
    if (broken) return;
    broken = true; // no frame after this one is looked at
    const payload = new Uint8Array(8); // last stream 0: the server opens none here
    payload.set(uint32Payload(code), 4);
    void send({ type: FRAME.GOAWAY, flags: 0, stream: 0, payload }).then(() =>
      fail(new Http2Error(`HTTP/2 error from the server: ${message}`, { code }))
    );
  }

  function forget(stream: StreamState): void {
    stream.done?.();
    if (streams.get(stream.id) === stream) streams.delete(stream.id);
    wakeWindows(); // a waiter for a stream slot
    if (goingAway && streams.size === 0) fail(new Http2Error("the server ended the connection"));
  }

  function ended(stream: StreamState): void {
    stream.remoteEnded = true;
    if (!stream.localEnded) {
      // The response is whole before the request: the rest of the request is not sent.
      stream.localEnded = true;
      void send(rstStream(stream.id, ERROR_CODE.CANCEL));
    }
    stream.wake?.();
    forget(stream);
  }

  // Received bytes credited back to the server once enough wait: the connection's as they
  // arrive, a stream's as they are read (a stream that is not read gets no more than its window).
  function creditConnection(length: number): void {
    connectionCredit += length;
    if (connectionCredit < CREDIT_AT) return;
    void send(windowUpdate(0, connectionCredit));
    connectionCredit = 0;
  }

  function creditStream(stream: StreamState, length: number): void {
    if (stream.remoteEnded || closedReason || streams.get(stream.id) !== stream) return;
    stream.receiveCredit += length;
    if (stream.receiveCredit < CREDIT_AT) return;
    void send(windowUpdate(stream.id, stream.receiveCredit));
    stream.receiveCredit = 0;
  }

  let block: { stream: number; endStream: boolean; parts: Uint8Array[]; size: number } | undefined;

  function headerBlock(streamId: number, endStream: boolean, fields: HeaderField[]): void {
    const stream = streams.get(streamId);
    if (!stream) return;
    stream.answered = true;
    if (stream.headers === undefined) {
      const status = fields.find(([name]) => name === ":status")?.[1] ?? "";
      if (status.startsWith("1") && !endStream) return; // informational
      stream.headers = fields;
    } else {
      stream.trailers = fields;
    }
    if (endStream) ended(stream);
    else stream.wake?.();
  }

  // The payload without its padding (and priority fields), or undefined if it does not fit.
  function unpadded(flags: number, payload: Uint8Array, priority: boolean) {
    let start = 0;
    let end = payload.length;
    if (flags & FLAG.PADDED) {
      if (payload.length < 1) return undefined;
      end -= payload[0];
      start = 1;
    }
    if (priority && flags & FLAG.PRIORITY) start += 5;
    return start <= end ? payload.subarray(start, end) : undefined;
  }

  function frame(type: number, flags: number, id: number, payload: Uint8Array): void {
    if (block && type !== FRAME.CONTINUATION) {
      return protocolError("a header block was interrupted");
    }
    switch (type) {
      case FRAME.DATA: {
        if (id === 0) return protocolError("DATA on stream 0");
        const stream = streams.get(id);
        creditConnection(payload.length);
        const data = unpadded(flags, payload, false);
        if (data === undefined) return protocolError("bad padding");
        if (!stream || stream.remoteEnded) return;
        stream.answered = true;
        creditStream(stream, payload.length - data.length); // the padding, never read
        if (data.length > 0) stream.chunks.push(data.slice());
        if (flags & FLAG.END_STREAM) ended(stream);
        else stream.wake?.();
        return;
      }
      case FRAME.HEADERS: {
        if (id === 0) return protocolError("HEADERS on stream 0");
        const fragment = unpadded(flags, payload, true);
        if (fragment === undefined) return protocolError("bad padding");
        const endStream = (flags & FLAG.END_STREAM) !== 0;
        if (flags & FLAG.END_HEADERS) return decodeBlock(id, endStream, fragment);
        block = { stream: id, endStream, parts: [fragment.slice()], size: fragment.length };
        return;
      }
      case FRAME.CONTINUATION: {
        if (!block || block.stream !== id) return protocolError("an unexpected CONTINUATION");
        block.parts.push(payload.slice());
        block.size += payload.length;
        if (block.size > MAX_HEADER_BLOCK) {
          return protocolError(`a header block above ${MAX_HEADER_BLOCK} bytes`);
        }
        if (flags & FLAG.END_HEADERS) {
          const { stream, endStream, parts } = block;
          block = undefined;
          decodeBlock(stream, endStream, joinBytes(parts));
        }
        return;
      }
      case FRAME.RST_STREAM: {
        const stream = streams.get(id);
        if (!stream || payload.length !== 4) return;
        const code = readUint32(payload, 0);
        return failStream(
          stream,
          new Http2Error(`the server reset the stream (HTTP/2 error ${code})`, {
            code,
            // A stream it answered was processed, whatever the reset says.
            unprocessed: code === ERROR_CODE.REFUSED_STREAM && !stream.answered,
          }),
        );
      }
      case FRAME.SETTINGS: {
        if (flags & FLAG.ACK) return;
        let settings: [number, number][];
        try {
          settings = parseSettings(payload);
        } catch {
          return protocolError("a SETTINGS frame of a bad length", ERROR_CODE.FRAME_SIZE_ERROR);
        }
        for (const [setting, value] of settings) {
          if (setting === SETTING.INITIAL_WINDOW_SIZE) {
            if (value > MAX_WINDOW) {
              return protocolError("a window above 2^31-1", ERROR_CODE.FLOW_CONTROL_ERROR);
            }
            const delta = value - peerInitialWindow;
            for (const stream of streams.values()) {
              if (stream.sendWindow + delta > MAX_WINDOW) {
                return protocolError("a window above 2^31-1", ERROR_CODE.FLOW_CONTROL_ERROR);
              }
            }
            peerInitialWindow = value;
            for (const stream of streams.values()) stream.sendWindow += delta;
          } else if (setting === SETTING.MAX_FRAME_SIZE) {
            if (value < 16_384 || value > 16_777_215) {
              return protocolError(`a maximum frame size of ${value}`);
            }
            peerMaxFrame = value;
          } else if (setting === SETTING.MAX_CONCURRENT_STREAMS) {
            peerMaxStreams = value;
          }
        }
        void send({ type: FRAME.SETTINGS, flags: FLAG.ACK, stream: 0, payload: new Uint8Array() });
        wakeWindows();
        resolveReady(); // the first SETTINGS: the connection is up (later ones change nothing)
        return;
      }
      case FRAME.PING:
        if (payload.length !== 8) {
          return protocolError("a PING of a bad length", ERROR_CODE.FRAME_SIZE_ERROR);
        }
        if (!(flags & FLAG.ACK)) {
          void send({ type: FRAME.PING, flags: FLAG.ACK, stream: 0, payload: payload.slice() });
        }
        return;
      case FRAME.GOAWAY: {
        if (payload.length < 8) return protocolError("a short GOAWAY");
        const last = readUint31(payload, 0);
        const code = readUint32(payload, 4);
        goingAway = true;
        for (const stream of [...streams.values()]) {
          if (stream.id > last) {
            failStream(
              stream,
              new Http2Error(
                `the server ended the connection before this request (HTTP/2 error ${code})`,
                { code, unprocessed: !stream.answered },
              ),
            );
          }
        }
        if (streams.size === 0) fail(new Http2Error("the server ended the connection", { code }));
        else wakeWindows(); // requests waiting for a stream slot go elsewhere at once
        return;
      }
      case FRAME.WINDOW_UPDATE: {
        if (payload.length !== 4) return protocolError("a WINDOW_UPDATE of a bad length");
        const increment = readUint31(payload, 0);
        if (id === 0) {
          if (increment === 0) return protocolError("a WINDOW_UPDATE of 0");
          if (sendWindow + increment > MAX_WINDOW) {
            return protocolError("a window above 2^31-1", ERROR_CODE.FLOW_CONTROL_ERROR);
          }
          sendWindow += increment;
        } else {
          const stream = streams.get(id);
          if (!stream) return;
          if (increment === 0) return streamError(stream, ERROR_CODE.PROTOCOL_ERROR);
          if (stream.sendWindow + increment > MAX_WINDOW) {
            return streamError(stream, ERROR_CODE.FLOW_CONTROL_ERROR);
          }
          stream.sendWindow += increment;
        }
        wakeWindows();
        return;
      }
      case FRAME.PUSH_PROMISE:
        return protocolError("a PUSH_PROMISE (push is disabled)");
      default:
        return; // PRIORITY and unknown types are ignored
    }
  }

  // A stream error of the server's: that stream ends (RST_STREAM), the connection goes on.
  function streamError(stream: StreamState, code: number): void {
    void send(rstStream(stream.id, code));
    failStream(
      stream,
      new Http2Error(`HTTP/2 error ${code} from the server on this stream`, { code }),
    );
  }

  // Ends a stream with `error`: what waits on it fails.
  function failStream(stream: StreamState, error: unknown): void {
    stream.error = error;
    stream.wake?.();
    forget(stream);
  }

  function decodeBlock(id: number, endStream: boolean, fragment: Uint8Array): void {
    let fields: HeaderField[];
    try {
      fields = decoder.decode(fragment);
    } catch (error) {
      return protocolError((error as Error).message, ERROR_CODE.COMPRESSION_ERROR);
    }
    headerBlock(id, endStream, fields);
  }

  async function readLoop(): Promise<void> {
    // Room for a whole frame of the largest size after the unread part of one is moved to the
    // front: it never needs to grow.
    const buffer = new Uint8Array(64 * 1024);
    let start = 0;
    let end = 0;
    try {
      while (!closedReason && !broken) {
        // Every whole frame in the buffer.
        while (end - start >= FRAME_HEADER_SIZE && !closedReason && !broken) {
          const header = parseFrameHeader(buffer, start);
          if (header.length > MAX_RECEIVE_FRAME) {
            return protocolError(`a frame of ${header.length} bytes`, ERROR_CODE.FRAME_SIZE_ERROR);
          }
          const size = FRAME_HEADER_SIZE + header.length;
          if (end - start < size) break;
          const payload = buffer.subarray(start + FRAME_HEADER_SIZE, start + size);
          start += size;
          lastFrameAt = performance.now();
          pingSentAt = undefined;
          frame(header.type, header.flags, header.stream, payload);
        }
        if (start === end) start = end = 0;
        else if (buffer.length - end < FRAME_HEADER_SIZE + MAX_RECEIVE_FRAME) {
          buffer.copyWithin(0, start, end);
          end -= start;
          start = 0;
        }
        const read = await conn.read(buffer.subarray(end));
        if (read === null) return fail(new Http2Error("the server closed the connection"));
        end += read;
      }
    } catch (error) {
      fail(
        closedReason ?? new Http2Error(`the connection failed: ${(error as Error).message}`),
      );
    }
  }

  void sendBytes(
    joinBytes([
      PREFACE,
      encodeFrame(
        {
          type: FRAME.SETTINGS,
          flags: 0,
          stream: 0,
          payload: settingsPayload([
            [SETTING.ENABLE_PUSH, 0],
            [SETTING.INITIAL_WINDOW_SIZE, RECEIVE_WINDOW],
          ]),
        },
        windowUpdate(0, RECEIVE_WINDOW - 65_535),
      ),
    ]),
  );
  void readLoop();

  // Takes as much of `data` as the windows allow now (at most one frame's worth each).
  function takeData(stream: StreamState, data: Uint8Array, end: boolean): {
    frames: FrameToSend[];
    rest: Uint8Array;
  } {
    const frames: FrameToSend[] = [];
    let offset = 0;
    while (offset < data.length) {
      const size = Math.min(data.length - offset, sendWindow, stream.sendWindow, peerMaxFrame);
      if (size <= 0) break;
      sendWindow -= size;
      stream.sendWindow -= size;
      const last = offset + size === data.length;
      frames.push({
        type: FRAME.DATA,
        flags: last && end ? FLAG.END_STREAM : 0,
        stream: stream.id,
        payload: data.subarray(offset, offset + size),
      });
      offset += size;
    }
    if (data.length === 0 && end) {
      frames.push({ type: FRAME.DATA, flags: FLAG.END_STREAM, stream: stream.id, payload: data });
    }
    return { frames, rest: data.subarray(offset) };
  }

  // Until a window or a stream slot may have opened (or `signal` aborts).
  function waitWindow(signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        windowWaiters.delete(wake);
        signal?.removeEventListener("abort", wake);
        resolve();
      };
      windowWaiters.add(wake);
      signal?.addEventListener("abort", wake, { once: true });
    });
  }

  async function writeBody(stream: StreamState, data: Uint8Array, end: boolean): Promise<void> {
    let rest = data;
    while (true) {
      if (closedReason) throw closedReason;
      if (stream.error) throw stream.error;
      if (stream.localEnded) throw new Http2Error("the request body has ended");
      const taken = takeData(stream, rest, end);
      rest = taken.rest;
      if (taken.frames.length > 0) await send(...taken.frames);
      if (rest.length === 0) break;
      if (taken.frames.length === 0) await waitWindow();
    }
    if (end) stream.localEnded = true;
  }

  function streamOf(state: StreamState): Http2Stream {
    // Each waiter is woken: response() and read() may wait at the same time.
    const wait = () =>
      new Promise<void>((resolve) => {
        const previous = state.wake;
        state.wake = () => {
          state.wake = undefined;
          previous?.();
          resolve();
        };
      });
    return {
      id: state.id,
      async response() {
        while (state.headers === undefined) {
          if (state.error) throw state.error;
          if (state.remoteEnded) throw new Http2Error("the stream ended without headers");
          await wait();
        }
        return state.headers;
      },
      async read() {
        while (true) {
          const chunk = state.chunks.shift();
          if (chunk) {
            creditStream(state, chunk.length);
            return chunk;
          }
          if (state.error) throw state.error;
          if (state.remoteEnded) return undefined;
          await wait();
        }
      },
      get trailers() {
        return state.trailers;
      },
      write(data, options = {}) {
        const written = state.writing.then(() => writeBody(state, data, options.end ?? false));
        state.writing = written.catch(() => {});
        return written;
      },
      cancel(reason) {
        if (state.error || (state.remoteEnded && state.localEnded)) return;
        const error = reason ?? new Http2Error("the stream was cancelled");
        wakeWindows(); // a write waiting for a window ends
        if (streams.get(state.id) !== state) {
          state.error = error; // the server has ended it already
          state.wake?.();
          return;
        }
        void send(rstStream(state.id, ERROR_CODE.CANCEL));
        failStream(state, error);
      },
    };
  }

  return {
    get usable() {
      return !closedReason && !broken && !goingAway && nextId < LAST_STREAM_ID;
    },
    ready,
    get lastFrameAt() {
      return lastFrameAt;
    },
    closed,
    async request(request) {
      while (
        streams.size >= peerMaxStreams && !closedReason && !broken && !goingAway &&
        !request.signal?.aborted
      ) {
        await waitWindow(request.signal);
      }
      request.signal?.throwIfAborted();
      if (closedReason || broken || goingAway || nextId >= LAST_STREAM_ID) {
        // Nothing of this request was sent: it can go on another connection.
        throw new Http2Error(
          `the connection takes no new requests${closedReason ? ` (${closedReason.message})` : ""}`,
          { unprocessed: true },
        );
      }
      const block = encodeHeaders(request.headers);
      if (block.length > peerMaxFrame) {
        throw new Http2Error(`request headers of ${block.length} bytes do not fit one frame`);
      }
      const state: StreamState = {
        id: nextId,
        sendWindow: peerInitialWindow,
        receiveCredit: 0,
        trailers: [],
        chunks: [],
        remoteEnded: false,
        localEnded: false,
        answered: false,
        writing: Promise.resolve(),
      };
      nextId += 2;
      streams.set(state.id, state);
      const body = request.body ?? new Uint8Array();
      const bodiless = body.length === 0 && request.end;
      const taken = bodiless ? { frames: [], rest: body } : takeData(state, body, request.end);
      const headers: FrameToSend = {
        type: FRAME.HEADERS,
        flags: FLAG.END_HEADERS | (bodiless ? FLAG.END_STREAM : 0),
        stream: state.id,
        payload: block,
      };
      void send(headers, ...taken.frames);
      if (bodiless || (taken.rest.length === 0 && request.end)) state.localEnded = true;
      const stream = streamOf(state);
      if (request.signal) {
        const signal = request.signal;
        const abort = () => stream.cancel(signal.reason);
        signal.addEventListener("abort", abort, { once: true });
        state.done = () => signal.removeEventListener("abort", abort);
      }
      if (taken.rest.length > 0) {
        const written = writeBody(state, taken.rest, request.end);
        state.writing = written.catch((error) => stream.cancel(error));
      }
      return stream;
    },
    close() {
      fail(new Http2Error("the connection was closed"));
    },
  };
}

function windowUpdate(stream: number, increment: number): FrameToSend {
  return { type: FRAME.WINDOW_UPDATE, flags: 0, stream, payload: uint32Payload(increment) };
}

function rstStream(stream: number, code: number): FrameToSend {
  return { type: FRAME.RST_STREAM, flags: 0, stream, payload: uint32Payload(code) };
}
