/**
 * gRPC over this project's HTTP/2 client (`http2_client.ts`): unary calls and bidirectional
 * streams on one shared connection per channel, made when first needed and again after it
 * ended. A call that the connection refused before processing it is tried once more: on the
 * same connection after REFUSED_STREAM, on a new one after a GOAWAY. A call that its signal ends (a timeout)
 * while its connection has received nothing since the call was sent drops that connection: its
 * peer is gone without a reset. Messages are bytes
 * (the caller encodes them); no compression.
 *
 * @module
 */

import {
  type HeaderField,
  http2Connect,
  type Http2Connection,
  Http2Error,
} from "./http2_client.ts";

/** gRPC status codes used here. */
export const GRPC_STATUS = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  DEADLINE_EXCEEDED: 4,
  PERMISSION_DENIED: 7,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

/**
 * A call that failed: the server's gRPC status, or `UNAVAILABLE` when the connection failed.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { GrpcError, GRPC_STATUS } from "./grpc_client.ts";
 * const error = new GrpcError("etcdserver: invalid auth token", { code: GRPC_STATUS.UNAUTHENTICATED });
 * assert.equal(error.code, 16);
 * ```
 */
export class GrpcError extends Error {
  /** The gRPC status code. */
  readonly code: number;
  /**
   * The server did not process the call: no connection could be made, or the server refused
   * the stream or ended the connection before it. It can be sent again (on a new connection,
   * or to another endpoint).
   */
  readonly unprocessed: boolean;
  /** Creates the error. */
  constructor(message: string, options: { code: number; unprocessed?: boolean; cause?: unknown }) {
    super(message, { cause: options.cause });
    this.name = "GrpcError";
    this.code = options.code;
    this.unprocessed = options.unprocessed ?? false;
  }
}

/**
 * Where a channel connects.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import type { GrpcChannelOptions } from "./grpc_client.ts";
 * const options: GrpcChannelOptions = { url: "https://10.0.0.1:2379", caCerts: [] };
 * assert.ok(options.url.startsWith("https:"));
 * ```
 */
export interface GrpcChannelOptions {
  /** `http://host:port` (HTTP/2 without TLS) or `https://host:port`. */
  url: string;
  /** PEM CA certificates for https (none: the system's). */
  caCerts?: string[];
  /** How long connecting may take, ms; default 5,000. */
  connectTimeoutMs?: number;
  /** See `Http2ConnectionOptions.keepAliveMs` (default 10,000 ms; 0: no PINGs). */
  keepAliveMs?: number;
}

/**
 * Per-call options.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import type { GrpcCallOptions } from "./grpc_client.ts";
 * const options: GrpcCallOptions = { metadata: [["token", "abc"]] };
 * assert.equal(options.metadata?.length, 1);
 * ```
 */
export interface GrpcCallOptions {
  /** Request metadata (header fields, names in lower case). */
  metadata?: HeaderField[];
  /** Ends the call (its stream is reset) when aborted, with the signal's reason. */
  signal?: AbortSignal;
}

/**
 * A bidirectional stream.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import type { GrpcStream } from "./grpc_client.ts";
 * const stream: Pick<GrpcStream, "cancel"> = { cancel() {} };
 * assert.equal(typeof stream.cancel, "function");
 * ```
 */
export interface GrpcStream {
  /** The next message from the server; undefined once it ended the stream with status OK. */
  next(): Promise<Uint8Array | undefined>;
  /** Sends a message. */
  send(message: Uint8Array): Promise<void>;
  /**
   * Ends a stream still open at once (RST_STREAM CANCEL); `next()` then returns the messages
   * already received and rejects with `reason` when it is a `GrpcError`, else with a CANCELLED
   * `GrpcError` whose cause is `reason`. A stream that already ended or failed keeps its end.
   */
  cancel(reason?: unknown): void;
}

/**
 * A channel: calls share its connection.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { grpcChannel } from "./grpc_client.ts";
 * const channel = grpcChannel({ url: "http://127.0.0.1:1" }); // nothing there
 * await assert.rejects(channel.unary("/a.B/C", new Uint8Array()), /cannot connect/);
 * channel.close();
 * ```
 */
export interface GrpcChannel {
  /**
   * One request message, one response message. Tried a second time when the connection refused
   * it unprocessed (on a new connection after a GOAWAY, on the same after REFUSED_STREAM).
   */
  unary(path: string, message: Uint8Array, options?: GrpcCallOptions): Promise<Uint8Array>;
  /**
   * Opens a stream and sends `first`; resolves once sent (not once answered). Opened a second
   * time, on a new connection, when the connection took no new streams.
   */
  stream(path: string, first: Uint8Array, options?: GrpcCallOptions): Promise<GrpcStream>;
  /** Ends the connection; calls under way fail. */
  close(): void;
}

/**
 * Creates a channel; it connects on its first call.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { grpcChannel } from "./grpc_client.ts";
 * const channel = grpcChannel({ url: "http://127.0.0.1:2379" });
 * assert.equal(typeof channel.unary, "function");
 * channel.close();
 * ```
 * @throws {TypeError} when `url` is not an http or https URL.
 */
export function grpcChannel(options: GrpcChannelOptions): GrpcChannel {
  const url = new URL(options.url);
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new TypeError(`a gRPC channel needs an http or https URL, not ${options.url}`);
  }
  const secure = url.protocol === "https:";
  const port = Number(url.port || (secure ? 443 : 80));
  const hostname = url.hostname.replace(/^\[(.*)\]$/, "$1");
  const connectTimeoutMs = options.connectTimeoutMs ?? 5_000;
  const base: HeaderField[] = [
    [":method", "POST"],
    [":scheme", secure ? "https" : "http"],
    [":authority", url.host],
  ];
  interface Made {
    made: Promise<Http2Connection>;
    connection?: Http2Connection;
  }
  let current: Made | undefined;
  let closed = false;

  function connect(): Promise<Http2Connection> {
    const abort = new AbortController();
    const made = http2Connect({
      hostname,
      port,
      tls: secure ? { caCerts: options.caCerts } : undefined,
      signal: abort.signal,
      keepAliveMs: options.keepAliveMs,
    });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        abort.abort(new Error(`no connection within ${connectTimeoutMs} ms`));
        reject(abort.signal.reason);
      }, connectTimeoutMs);
    });
    return Promise.race([made, late]).finally(() => clearTimeout(timer));
  }

  async function connection(signal?: AbortSignal): Promise<Http2Connection> {
    if (closed) throw new GrpcError("the channel is closed", { code: GRPC_STATUS.CANCELLED });
    signal?.throwIfAborted();
    if (current?.connection && !current.connection.usable) current = undefined;
    if (!current) {
      const entry: Made = { made: connect() };
      current = entry;
      entry.made.then((made: Http2Connection) => {
        entry.connection = made;
        if (closed) made.close();
        made.closed.then(() => {
          if (current === entry) current = undefined;
        });
      }, () => {
        if (current === entry) current = undefined;
      });
    }
    try {
      return await abortable(current!.made, signal);
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      throw new GrpcError(`cannot connect to ${url.host}: ${(error as Error).message}`, {
        code: GRPC_STATUS.UNAVAILABLE,
        unprocessed: true,
        cause: error,
      });
    }
  }

  // Runs `attempt` on the channel's connection. A call that connection refused before
  // processing it (a GOAWAY below its stream, REFUSED_STREAM, a connection no longer taking
  // calls) is tried once more, on the connection the channel has then (the same one after
  // REFUSED_STREAM, a new one after a GOAWAY); a connection that cannot be made is not tried
  // again here (its error says `unprocessed`, for the caller to go elsewhere).
  async function onConnection<T>(
    attempt: (made: Http2Connection) => Promise<T>,
    signal?: AbortSignal,
  ): Promise<T> {
    for (let tries = 1;; tries++) {
      const made = await connection(signal);
      try {
        return await attempt(made);
      } catch (error) {
        if (tries === 2 || !(error instanceof GrpcError && error.unprocessed)) throw error;
      }
    }
  }

  async function open(
    made: Http2Connection,
    path: string,
    first: Uint8Array,
    end: boolean,
    callOptions: GrpcCallOptions,
  ) {
    try {
      const stream = await made.request({
        headers: [
          ...base,
          [":path", path],
          ["content-type", "application/grpc"],
          ["te", "trailers"],
          ...(callOptions.metadata ?? []),
        ],
        body: framed(first),
        end,
        signal: callOptions.signal,
      });
      return { stream, made, sentAt: performance.now() };
    } catch (error) {
      throw asGrpcError(error, callOptions.signal);
    }
  }

  // A connection that has answered nothing since a call was sent, when the call's signal ends
  // it (a timeout): the peer is gone without a reset, and the connection is not used again.
  function dropConnection(made: Http2Connection): void {
    if (current?.connection === made) current = undefined;
    made.close();
  }

  function messages(
    { stream, made, sentAt }: Awaited<ReturnType<typeof open>>,
    signal?: AbortSignal,
  ) {
    const frames = messageFrames();
    let checked = false;
    return async (): Promise<Uint8Array | undefined> => {
      try {
        if (!checked) {
          checkHeaders(await stream.response());
          checked = true;
        }
        while (true) {
          const message = frames.take();
          if (message) return message;
          const chunk = await stream.read();
          if (chunk === undefined) break;
          frames.push(chunk);
        }
        if (frames.size > 0) {
          throw new GrpcError("the response ended inside a message", {
            code: GRPC_STATUS.UNKNOWN,
          });
        }
        const fields = stream.trailers.length > 0 ? stream.trailers : await stream.response();
        checkStatus(fields);
        return undefined;
      } catch (error) {
        stream.cancel(error); // nothing more is read from it
        if (signal?.aborted && made.lastFrameAt <= sentAt) dropConnection(made);
        throw asGrpcError(error, signal);
      }
    };
  }

  return {
    unary(path, message, callOptions = {}) {
      return onConnection(async (made) => {
        const call = await open(made, path, message, true, callOptions);
        const next = messages(call, callOptions.signal);
        const response = await next();
        if (response === undefined) {
          throw new GrpcError(`${path} answered no message`, { code: GRPC_STATUS.UNKNOWN });
        }
        while (await next() !== undefined) {
          // a unary call answers one message; the status after it still counts
        }
        return response;
      }, callOptions.signal);
    },
    async stream(path, first, callOptions = {}) {
      const call = await onConnection(
        (made) => open(made, path, first, false, callOptions),
        callOptions.signal,
      );
      const stream = call.stream;
      const next = messages(call, callOptions.signal);
      return {
        next,
        async send(message) {
          try {
            await stream.write(framed(message));
          } catch (error) {
            throw asGrpcError(error, callOptions.signal);
          }
        },
        cancel(reason) {
          // next() then fails with a CANCELLED error (not a connection failure) for any reason.
          stream.cancel(
            reason instanceof GrpcError ? reason : new GrpcError(
              reason instanceof Error ? reason.message : "the stream was cancelled",
              { code: GRPC_STATUS.CANCELLED, cause: reason },
            ),
          );
        },
      };
    },
    close() {
      closed = true;
      current?.made.then((made) => made.close(), () => {});
      current = undefined;
    },
  };
}

// The length-prefixed message (uncompressed).
function framed(message: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(5 + message.length);
  new DataView(bytes.buffer).setUint32(1, message.length);
  bytes.set(message, 5);
  return bytes;
}

function field(fields: HeaderField[], name: string): string | undefined {
  for (const [key, value] of fields) if (key === name) return value;
  return undefined;
}

// A response that is not gRPC's (an HTTP error from something else on the port).
function checkHeaders(headers: HeaderField[]): void {
  const status = field(headers, ":status");
  if (status === "200") {
    if (field(headers, "content-type")?.startsWith("application/grpc")) return;
    throw new GrpcError("the server answered without gRPC's content type", {
      code: GRPC_STATUS.UNKNOWN,
    });
  }
  const code = status === "401"
    ? GRPC_STATUS.UNAUTHENTICATED
    : status === "403"
    ? GRPC_STATUS.PERMISSION_DENIED
    : status === "502" || status === "503" || status === "504"
    ? GRPC_STATUS.UNAVAILABLE
    : GRPC_STATUS.UNKNOWN;
  throw new GrpcError(`the server answered HTTP ${status} instead of gRPC`, { code });
}

function checkStatus(fields: HeaderField[]): void {
  const status = field(fields, "grpc-status");
  if (status === "0") return;
  let message = field(fields, "grpc-message") ?? "";
  try {
    message = decodeURIComponent(message);
  } catch {
    // left as sent
  }
  if (status === undefined) {
    throw new GrpcError("the response has no gRPC status", { code: GRPC_STATUS.UNKNOWN });
  }
  throw new GrpcError(message || `gRPC status ${status}`, { code: Number(status) });
}

function asGrpcError(error: unknown, signal?: AbortSignal): unknown {
  if (signal?.aborted && error === signal.reason) return error;
  if (error instanceof GrpcError || !(error instanceof Error)) return error;
  return new GrpcError(error.message, {
    code: GRPC_STATUS.UNAVAILABLE,
    unprocessed: error instanceof Http2Error && error.unprocessed,
    cause: error,
  });
}

// `promise`, or the signal's reason once it aborts.
function abortable<T>(promise: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return promise;
  return new Promise<T>((resolve, reject) => {
    const abort = () => reject(signal.reason);
    if (signal.aborted) return abort();
    signal.addEventListener("abort", abort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", abort));
  });
}

/**
 * Splits received bytes into gRPC messages (the 5-byte prefix: a compression flag and a
 * length), copying only messages that span pieces.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { messageFrames } from "./grpc_client.ts";
 * const frames = messageFrames();
 * frames.push(new Uint8Array([0, 0, 0, 0, 2, 7]));
 * assert.equal(frames.take(), undefined); // one byte of two
 * frames.push(new Uint8Array([8]));
 * assert.deepEqual([...frames.take()!], [7, 8]);
 * ```
 */
export function messageFrames(): {
  push(bytes: Uint8Array): void;
  take(): Uint8Array | undefined;
  readonly size: number;
} {
  const chunks: Uint8Array[] = [];
  let size = 0;
  function read(count: number): Uint8Array {
    const head = chunks[0];
    if (head.length >= count) {
      chunks[0] = head.subarray(count);
      if (chunks[0].length === 0) chunks.shift();
      size -= count;
      return head.subarray(0, count);
    }
    const out = new Uint8Array(count);
    let offset = 0;
    while (offset < count) {
      const chunk = chunks[0];
      const take = Math.min(chunk.length, count - offset);
      out.set(chunk.subarray(0, take), offset);
      offset += take;
      if (take === chunk.length) chunks.shift();
      else chunks[0] = chunk.subarray(take);
    }
    size -= count;
    return out;
  }
  function peek(index: number): number {
    for (const chunk of chunks) {
      if (index < chunk.length) return chunk[index];
      index -= chunk.length;
    }
    return 0;
  }
  return {
    push(bytes) {
      if (bytes.length === 0) return;
      chunks.push(bytes);
      size += bytes.length;
    },
    take() {
      if (size < 5) return undefined;
      if (peek(0) !== 0) {
        throw new GrpcError("the server sent a compressed message, which was not asked for", {
          code: GRPC_STATUS.UNKNOWN,
        });
      }
      const length = ((peek(1) << 24) >>> 0) + ((peek(2) << 16) | (peek(3) << 8) | peek(4));
      if (size < 5 + length) return undefined;
      return read(5 + length).subarray(5);
    },
    get size() {
      return size;
    },
  };
}
