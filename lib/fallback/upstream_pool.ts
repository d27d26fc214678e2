/**
 * The fallback's HTTP/1.1 client to `http://` and `https://` targets: one exchange per
 * connection at a time, connections kept open between exchanges (keep-alive) up to a number per
 * target address. Written on `Deno.connect` and `Deno.connectTls` because `fetch` costs most of
 * a forwarded request's CPU (the measurements are in the README). Over TLS (Deno sets no
 * `TCP_NODELAY` there) a body of at most 64 KiB with a length goes out in the head's write.
 *
 * An idle connection always has a read pending: a target that closes it (a server stopped, an
 * idle timeout) takes it out of the pool at once. A request that finds its reused connection
 * closed before any byte of a response came back (or answered 408) is sent once more on a new
 * connection when it has no body and its method is idempotent (RFC 9110, 9.2.2); otherwise the
 * exchange fails. Request bodies stream as they come (chunked unless the head gives a length);
 * response bodies stream back, chunked ones decoded; small ones with a length (64 KiB at most)
 * are read whole before they are handed on.
 *
 * @module
 */

import {
  BadResponseError,
  type BodyFraming,
  headBytes,
  headEnd,
  latin1,
  parseResponseHead,
  type ResponseHead,
} from "./_http1_head.ts";

import type { TargetTls } from "./_ws_upstream.ts";
import { joinBytes } from "../core/bytes.ts";
import { writeAll } from "../net/write_all.ts";

export { BadResponseError } from "./_http1_head.ts";

/**
 * Options of `upstreamPool`.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { upstreamPool, type UpstreamPoolOptions } from "./upstream_pool.ts";
 * const options: UpstreamPoolOptions = { maxIdle: 0 }; // a connection per exchange
 * const pool = upstreamPool(options);
 * assert.equal(pool.idle, 0);
 * pool.close();
 * ```
 */
export interface UpstreamPoolOptions {
  /**
   * Most idle connections kept per target address; default 128 (traefik keeps up to 200 per
   * host; 0: none are kept).
   */
  maxIdle?: number;
  /** An idle connection is closed after this many ms (give or take a quarter); default 30,000. */
  idleMs?: number;
}

/**
 * One exchange for `UpstreamPool.send`.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import type { UpstreamRequest } from "./upstream_pool.ts";
 * const request: UpstreamRequest = {
 *   hostname: "127.0.0.1",
 *   port: 9000,
 *   method: "GET",
 *   head: "GET /user/a/ HTTP/1.1\r\nhost: hub.example\r\n\r\n",
 *   body: null,
 * };
 * assert.equal(request.length, undefined);
 * ```
 */
export interface UpstreamRequest {
  /** The target's host name or address (IPv6 without brackets). */
  hostname: string;
  /** The target's port. */
  port: number;
  /** The request's method (a response to `HEAD` has no body). */
  method: string;
  /** The request head, its empty line included (`requestHead`). */
  head: string;
  /** The request body, or null. */
  body: ReadableStream<Uint8Array> | null;
  /**
   * The body's length, as the head's `Content-Length` says; without it a body is sent chunked
   * (the head says `Transfer-Encoding: chunked`). A body of another length ends the exchange.
   */
  length?: number;
  /** Aborts the exchange (the client went away): the connection is closed. */
  signal?: AbortSignal;
  /**
   * Over TLS (an `https://` target), verified with these CAs and presenting this client
   * certificate (`{}`: the system's CAs, no certificate). Connections are kept apart by the
   * object given.
   */
  tls?: TargetTls;
}

/**
 * A target's response.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import type { UpstreamResponse } from "./upstream_pool.ts";
 * const response: UpstreamResponse = { status: 204, statusText: "No Content", headers: [], body: null };
 * assert.equal(response.body, null);
 * ```
 */
export interface UpstreamResponse {
  /** The status, 200 to 999 (1xx heads are skipped). */
  status: number;
  /** The reason phrase, possibly empty. */
  statusText: string;
  /** The end-to-end headers (hop-by-hop ones left out). */
  headers: [string, string][];
  /** The body: read whole, streamed, or none. */
  body: Uint8Array<ArrayBuffer> | ReadableStream<Uint8Array> | null;
}

/**
 * The target could not be reached, or closed the connection before any byte of its response
 * came back (or the exchange was aborted).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { UnreachableError } from "./upstream_pool.ts";
 * const error = new UnreachableError("127.0.0.1:9", "connection refused");
 * assert.match(error.message, /cannot reach 127\.0\.0\.1:9: connection refused/);
 * ```
 */
export class UnreachableError extends Error {
  /** `address` is `host:port`; `reason` says what failed. */
  constructor(address: string, reason: string, options?: ErrorOptions) {
    super(`cannot reach ${address}: ${reason}`, options);
    this.name = "UnreachableError";
  }
}

/**
 * The request's body failed, or did not have the length its head gave: nothing was sent (the
 * caller answers 400).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { RequestBodyError } from "./upstream_pool.ts";
 * assert.match(new RequestBodyError("3 bytes, not 10").message, /request body: 3 bytes/);
 * ```
 */
export class RequestBodyError extends Error {
  /** `reason` says what is wrong with the body. */
  constructor(reason: string, options?: ErrorOptions) {
    super(`the request body: ${reason}`, options);
    this.name = "RequestBodyError";
  }
}

/**
 * Keep-alive connections to targets (`upstreamPool`).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { upstreamPool, type UpstreamPool } from "./upstream_pool.ts";
 * const pool: UpstreamPool = upstreamPool();
 * assert.equal(pool.idle, 0);
 * pool.close();
 * ```
 */
export interface UpstreamPool {
  /**
   * Sends a request and resolves once its response head is in.
   *
   * @throws {UnreachableError} when nothing of a response came back.
   * @throws {RequestBodyError} when a body read whole first (over TLS) fails or is not its
   * length.
   * @throws {BadResponseError} when the response head is not usable HTTP/1.x, or a body read
   * whole was cut short.
   */
  send(request: UpstreamRequest): Promise<UpstreamResponse>;
  /** Number of idle connections. */
  readonly idle: number;
  /** Closes the idle connections; connections in use are closed once their exchange ends. */
  close(): void;
}

/** The longest response head read, in bytes. */
const MAX_HEAD = 64 * 1024;
/** A connection's buffer while idle, and to start with (it grows for a longer head or body). */
const BUFFER = 4 * 1024;
/** The longest a TLS handshake with a target may take, ms. */
const HANDSHAKE_MS = 10_000;
/** A connection's buffer while it streams a body on. */
const STREAM_BUFFER = 16 * 1024;
/** Responses with a length up to this are read whole. */
const WHOLE_BODY = 64 * 1024;
const encoder = new TextEncoder();
const CRLF = new Uint8Array([13, 10]);
const LAST_CHUNK = encoder.encode("0\r\n\r\n");
/** Methods a request may be repeated with (RFC 9110, 9.2.2). */
const IDEMPOTENT = new Set(["GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"]);

interface Connection {
  readonly conn: Deno.Conn;
  readonly key: string;
  buf: Uint8Array<ArrayBuffer>;
  start: number;
  end: number;
  /** A read in flight (the idle watch, taken over by the next exchange). */
  reading?: Promise<number | null>;
  idle: boolean;
  closed: boolean;
  /** When it last went idle (`Date.now()`). */
  idleSince: number;
}

/**
 * Creates a pool of connections to targets (over TLS for requests that give `tls`).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { upstreamPool } from "./upstream_pool.ts";
 * const backend = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) =>
 *   new Response(`seen ${new URL(request.url).pathname} for ${request.headers.get("host")}`));
 * const pool = upstreamPool();
 * try {
 *   const response = await pool.send({
 *     hostname: "127.0.0.1",
 *     port: backend.addr.port,
 *     method: "GET",
 *     head: "GET /user/a/ HTTP/1.1\r\nhost: hub.example\r\n\r\n",
 *     body: null,
 *   });
 *   assert.equal(response.status, 200);
 *   assert.equal(new TextDecoder().decode(response.body as Uint8Array), "seen /user/a/ for hub.example");
 *   assert.equal(pool.idle, 1); // kept for the next exchange
 * } finally {
 *   pool.close();
 *   await backend.shutdown();
 * }
 * ```
 */
export function upstreamPool(options: UpstreamPoolOptions = {}): UpstreamPool {
  const maxIdle = options.maxIdle ?? 128;
  const idleMs = options.idleMs ?? 30_000;
  const idle = new Map<string, Connection[]>();
  let idleCount = 0;
  let closed = false;
  let sweeper: ReturnType<typeof setInterval> | undefined;
  // TLS material by content (read once per object: objects are taken as unchanging), so that
  // connections made with other material are never reused, and equal material is shared.
  const tlsIds = new WeakMap<TargetTls, number>();
  const materials = new Map<string, number>();
  const tlsId = (tls: TargetTls): number => {
    let id = tlsIds.get(tls);
    if (id === undefined) {
      const material = JSON.stringify([tls.caCerts ?? null, tls.cert ?? null, tls.key ?? null]);
      id = materials.get(material);
      if (id === undefined) materials.set(material, id = materials.size + 1);
      tlsIds.set(tls, id);
    }
    return id;
  };

  // Closes the connections idle for idleMs or more; stops when none is idle.
  function sweep(): void {
    const now = Date.now();
    for (const list of [...idle.values()]) {
      for (const c of [...list]) if (now - c.idleSince >= idleMs) destroy(c);
    }
    if (idleCount === 0 && sweeper !== undefined) {
      clearInterval(sweeper);
      sweeper = undefined;
    }
  }

  function destroy(c: Connection): void {
    if (c.closed) return;
    c.closed = true;
    if (c.idle) unlistIdle(c);
    try {
      c.conn.close();
    } catch { /* already closed */ }
  }

  function unlistIdle(c: Connection): void {
    c.idle = false;
    const list = idle.get(c.key);
    const at = list?.indexOf(c) ?? -1;
    if (at >= 0) {
      list!.splice(at, 1);
      idleCount--;
      if (list!.length === 0) idle.delete(c.key);
    }
  }

  // Takes the newest idle connection to `key`, if any.
  function take(key: string): Connection | undefined {
    const list = idle.get(key);
    const c = list?.pop();
    if (c === undefined) return undefined;
    idleCount--;
    if (list!.length === 0) idle.delete(key);
    c.idle = false;
    return c;
  }

  // Puts a connection whose exchange ended cleanly back, with a read pending to notice a close.
  function release(c: Connection): void {
    const list = idle.get(c.key) ?? [];
    if (closed || c.closed || c.start !== c.end || list.length >= maxIdle) {
      destroy(c);
      return;
    }
    c.start = c.end = 0;
    // An idle connection holds a small buffer (a read is pending into it).
    if (c.buf.length > BUFFER) c.buf = new Uint8Array(BUFFER);
    c.idle = true;
    list.push(c);
    if (list.length === 1) idle.set(c.key, list);
    idleCount++;
    const reading = c.conn.read(c.buf);
    c.reading = reading;
    // Anything while idle (a close, an error, stray bytes) ends the connection.
    reading.then((n) => c.idle && (n === null || n > 0) && destroy(c), () => c.idle && destroy(c));
    c.idleSince = Date.now();
    // One timer for the pool (a timer per idle connection cost a few % of a request's CPU).
    sweeper ??= setInterval(sweep, Math.max(10, idleMs / 4));
    Deno.unrefTimer(sweeper);
  }

  async function connect(request: UpstreamRequest, key: string): Promise<Connection> {
    const { hostname, port, tls } = request;
    let conn: Deno.Conn;
    try {
      if (tls) {
        const secure = await Deno.connectTls({ hostname, port, ...tls });
        // A certificate refused is a target that cannot be reached; a handshake that does not
        // end (a frozen server whose kernel still accepts) is given up, as is a client gone
        // (Deno 2.9 then keeps the socket open until the target closes it).
        const stop = () => {
          try {
            secure.close();
          } catch { /* closed */ }
        };
        const timer = setTimeout(stop, HANDSHAKE_MS);
        request.signal?.addEventListener("abort", stop, { once: true });
        try {
          await secure.handshake();
        } catch (error) {
          stop();
          throw error;
        } finally {
          clearTimeout(timer);
          request.signal?.removeEventListener("abort", stop);
        }
        conn = secure;
      } else {
        const plain = await Deno.connect({ hostname, port });
        plain.setNoDelay(true);
        conn = plain;
      }
    } catch (error) {
      throw new UnreachableError(`${hostname}:${port}`, (error as Error).message, { cause: error });
    }
    return {
      conn,
      key,
      buf: new Uint8Array(BUFFER),
      start: 0,
      end: 0,
      idle: false,
      closed: false,
      idleSince: 0,
    };
  }

  // Reads more bytes into the buffer; false at the end of the stream.
  async function fill(c: Connection): Promise<boolean> {
    if (c.start === c.end) c.start = c.end = 0;
    if (c.end === c.buf.length) reserve(c, 2 * (c.end - c.start));
    const reading = c.reading ?? c.conn.read(c.buf.subarray(c.end));
    c.reading = undefined;
    const n = await reading;
    if (n === null) return false;
    c.end += n;
    return true;
  }

  // Makes room for at least `size` bytes from `c.start` on (the unread bytes move to the front).
  function reserve(c: Connection, size: number): void {
    if (c.buf.length >= size && c.start === 0) return;
    const need = Math.max(size, c.end - c.start);
    if (c.buf.length >= need) c.buf.copyWithin(0, c.start, c.end);
    else {
      const next = new Uint8Array(need);
      next.set(c.buf.subarray(c.start, c.end));
      c.buf = next;
    }
    c.end -= c.start;
    c.start = 0;
  }

  // Streams the request body; true once all of it is written. A body that fails or does not
  // match its length ends the connection; a write that fails does not (the target may have
  // answered already and stopped reading: the response is still read).
  async function pump(
    c: Connection,
    reader: ReadableStreamDefaultReader<Uint8Array>,
    length: number | undefined,
  ): Promise<boolean> {
    let sent = 0;
    let writing = false;
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        if (value.length === 0) continue;
        sent += value.length;
        if (length !== undefined && sent > length) throw new Error("body over its length");
        writing = true;
        if (length === undefined) {
          const size = encoder.encode(`${value.length.toString(16)}\r\n`);
          await writeAll(c.conn, joinBytes([size, value, CRLF]));
        } else {
          await writeAll(c.conn, value);
        }
        writing = false;
      }
      if (length !== undefined && sent !== length) throw new Error("body under its length");
      writing = true;
      if (length === undefined) await writeAll(c.conn, LAST_CHUNK);
      return true;
    } catch {
      reader.cancel().catch(() => {});
      if (!writing) destroy(c);
      return false;
    }
  }

  // The whole body, read from `reader`, which must give `length` bytes.
  async function wholeBody(
    reader: ReadableStreamDefaultReader<Uint8Array>,
    length: number,
  ): Promise<Uint8Array> {
    const out = new Uint8Array(length);
    let at = 0;
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        if (at + value.length > length) throw new RequestBodyError(`over ${length} bytes`);
        out.set(value, at);
        at += value.length;
      }
    } catch (error) {
      reader.cancel().catch(() => {});
      if (error instanceof RequestBodyError) throw error;
      throw new RequestBodyError((error as Error).message, { cause: error });
    }
    if (at !== length) throw new RequestBodyError(`${at} bytes, not ${length}`);
    return out;
  }

  // Over TLS (Deno sets no TCP_NODELAY there) a small body is read before anything is sent, and
  // goes out in the head's write: written after it, it would wait for the target's delayed
  // acknowledgement. Read first, it can be sent again, and a bad body touches no connection.
  function send(request: UpstreamRequest): Promise<UpstreamResponse> {
    const length = request.length;
    if (
      request.tls === undefined || request.body === null || length === undefined ||
      length > WHOLE_BODY
    ) return exchange(request, undefined, false);
    return wholeBody(request.body.getReader(), length).then(
      (body) => exchange(request, body, false),
      (error) => {
        if (!request.signal?.aborted) throw error;
        throw new UnreachableError(
          `${request.hostname}:${request.port}`,
          "the exchange was aborted",
        );
      },
    );
  }

  async function exchange(
    request: UpstreamRequest,
    bytes: Uint8Array | undefined,
    fresh: boolean,
  ): Promise<UpstreamResponse> {
    const address = `${request.hostname}:${request.port}`;
    const key = request.tls ? `${tlsId(request.tls)}@${address}` : address;
    if (request.signal?.aborted) throw new UnreachableError(address, "the exchange was aborted");
    const reused = closed || fresh ? undefined : take(key);
    const c = reused ?? await connect(request, key);
    if (request.signal?.aborted) { // while connecting
      destroy(c);
      throw new UnreachableError(address, "the exchange was aborted");
    }
    // Sent again on a new connection if a reused one turns out closed: only a request the
    // target cannot have acted on (no byte of a response yet) that is safe to repeat.
    const resendable = reused !== undefined && (request.body === null || bytes !== undefined) &&
      IDEMPOTENT.has(request.method);
    const onAbort = () => destroy(c);
    request.signal?.addEventListener("abort", onAbort, { once: true });
    const reader = bytes === undefined ? request.body?.getReader() : undefined;
    // undefined while the body is written, then whether all of it was
    let pumped: boolean | undefined = reader === undefined ? true : undefined;
    let reusable = true;
    let ongoing = true;
    const end = (ok: boolean) => {
      if (!ongoing) return;
      ongoing = false;
      request.signal?.removeEventListener("abort", onAbort);
      // An upload the target no longer reads (it answered first, or the exchange failed).
      if (pumped !== true) reader?.cancel().catch(() => {});
      if (ok && reusable && pumped === true) release(c);
      else destroy(c);
    };
    let head: ResponseHead;
    let received = false;
    try {
      const out = headBytes(request.head);
      const first = bytes === undefined ? out : joinBytes([out, bytes]);
      try {
        await writeAll(c.conn, first);
      } catch (error) {
        throw new UnreachableError(address, (error as Error).message, { cause: error });
      }
      if (reader !== undefined) pump(c, reader, request.length).then((ok) => pumped = ok);
      for (;;) {
        let scanned = 0; // bytes after c.start searched for the empty line already
        let at: number;
        while ((at = headEnd(c.buf, c.start + Math.max(0, scanned - 3), c.end)) < 0) {
          scanned = c.end - c.start;
          if (scanned > MAX_HEAD) throw new BadResponseError("response head too large");
          let more: boolean;
          try {
            more = await fill(c);
          } catch (error) {
            throw new UnreachableError(address, (error as Error).message, { cause: error });
          }
          if (!more && received) {
            throw new BadResponseError(`${address}: closed in the response head`);
          }
          if (!more) throw new UnreachableError(address, "closed before the response");
          received = true;
        }
        if (at - c.start > MAX_HEAD) throw new BadResponseError("response head too large");
        head = parseResponseHead(latin1(c.buf, c.start, at), request.method);
        c.start = at + 4;
        if (head.status >= 200) break;
        if (head.status === 101) {
          throw new BadResponseError("switched protocols without an upgrade request");
        }
      }
      if (!head.keepAlive) reusable = false;
    } catch (error) {
      const again = resendable && !received && error instanceof UnreachableError &&
        !request.signal?.aborted;
      end(false);
      if (again) return exchange(request, bytes, true);
      throw error;
    }
    // A 408 on a reused connection: the target timed the idle connection out as the request
    // went (what Go's client does too).
    if (head.status === 408 && resendable) {
      end(false);
      return exchange(request, bytes, true);
    }
    const framing = head.framing;
    const answer = (body: UpstreamResponse["body"]): UpstreamResponse => ({
      status: head.status,
      statusText: head.statusText,
      headers: head.headers,
      body,
    });
    if (framing.kind === "none") {
      end(true);
      return answer(null);
    }
    if (framing.kind === "length" && framing.length <= WHOLE_BODY) {
      // Read into an array of its own, handed on as it is.
      const body = new Uint8Array(framing.length);
      let got = Math.min(c.end - c.start, framing.length);
      body.set(c.buf.subarray(c.start, c.start + got));
      c.start += got;
      try {
        while (got < framing.length) {
          const n = await c.conn.read(body.subarray(got));
          if (n === null) throw new Error("closed in the response body");
          got += n;
        }
      } catch (error) {
        end(false);
        throw new BadResponseError(`${address}: ${(error as Error).message}`, { cause: error });
      }
      end(true); // closed instead if the upload is not all written: the target answered first
      return answer(body);
    }
    // A body streamed on: reads of up to 16 KiB (the buffer shrinks again once idle).
    if (c.buf.length < STREAM_BUFFER) reserve(c, STREAM_BUFFER);
    return answer(bodyStream(c, framing, end));
  }

  // The body after a head, as a stream; `done(ok)` when it ends, is cancelled or fails.
  function bodyStream(
    c: Connection,
    framing: BodyFraming,
    done: (ok: boolean) => void,
  ): ReadableStream<Uint8Array> {
    let remaining = framing.kind === "length" ? framing.length : 0;
    // chunked: "size" (a size line next), "data", "crlf" (after a chunk), "trailer"
    let state: "size" | "data" | "crlf" | "trailer" = "size";
    let scanned = 0; // bytes after c.start searched for a line's end already
    const line = (): number => {
      for (let i = c.start + Math.max(1, scanned); i < c.end; i++) {
        if (c.buf[i] === 10 && c.buf[i - 1] === 13) {
          scanned = 0;
          return i - 1;
        }
      }
      scanned = c.end - c.start;
      return -1;
    };
    const need = async () => {
      if (c.end - c.start > MAX_HEAD) throw new BadResponseError("chunk line too long");
      if (!(await fill(c))) throw new Error("the target closed the connection in the body");
    };
    return new ReadableStream<Uint8Array>({
      async pull(controller) {
        try {
          for (;;) {
            if (framing.kind === "close") {
              if (c.start < c.end) {
                controller.enqueue(c.buf.slice(c.start, c.end));
                c.start = c.end;
                return;
              }
              if (!(await fill(c))) {
                done(false);
                controller.close();
                return;
              }
              continue;
            }
            if (framing.kind === "length" || state === "data") {
              if (c.start < c.end) {
                const n = Math.min(c.end - c.start, remaining);
                controller.enqueue(c.buf.slice(c.start, c.start + n));
                c.start += n;
                remaining -= n;
                if (remaining > 0) return;
                if (framing.kind === "length") {
                  done(true);
                  controller.close();
                  return;
                }
                state = "crlf";
                return;
              }
              await need();
              continue;
            }
            const at = line();
            if (at < 0) {
              await need();
              continue;
            }
            const text = latin1(c.buf, c.start, at);
            c.start = at + 2;
            if (state === "crlf") {
              if (text !== "") throw new Error("no CRLF after a chunk");
              state = "size";
            } else if (state === "size") {
              const size = /^([0-9a-fA-F]{1,12})[ \t]*(?:;.*)?$/.exec(text);
              if (size === null) throw new Error(`bad chunk size ${JSON.stringify(text)}`);
              remaining = parseInt(size[1], 16);
              state = remaining === 0 ? "trailer" : "data";
            } else if (text === "") {
              done(true);
              controller.close();
              return;
            }
          }
        } catch (error) {
          done(false);
          controller.error(error);
        }
      },
      cancel() {
        done(false);
      },
    }, { highWaterMark: 0 });
  }

  return {
    send,
    get idle() {
      return idleCount;
    },
    close() {
      closed = true;
      if (sweeper !== undefined) clearInterval(sweeper);
      sweeper = undefined;
      for (const list of [...idle.values()]) for (const c of [...list]) destroy(c);
    },
  };
}
