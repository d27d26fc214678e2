/**
 * etcd's v3 gRPC API (`etcdserverpb.KV/Range`, `KV/Txn`, `Watch/Watch`, `Auth/Authenticate`),
 * the part the etcd store uses, over this project's own HTTP/2 client (`lib/net/grpc_client.ts`)
 * with its messages encoded by hand (`_etcd_messages.ts`). etcd's JSON gateway cost etcd about
 * 40% more CPU per write and `fetch` its own per request; Deno's `fetch` cannot carry gRPC
 * without stalls (no TCP_NODELAY), and the `etcd3` package held 24 MB more in an idle process.
 * Keys and values are strings (UTF-8). With a user name, a token from `Auth/Authenticate` goes
 * in the `token` metadata and is renewed when etcd no longer accepts it.
 *
 * @module
 */

import type { HeaderField } from "../lib/net/http2_client.ts";
import {
  GRPC_STATUS,
  type GrpcChannel,
  grpcChannel,
  GrpcError,
  type GrpcStream,
} from "../lib/net/grpc_client.ts";
import {
  authenticateRequest,
  authenticateToken,
  rangeRequest,
  rangeResponse,
  txnRequest,
  txnResponse,
  watchCreateRequest,
  watchResponse,
} from "./_etcd_messages.ts";
import type { EtcdCondition, EtcdEvent, EtcdOp, EtcdPair } from "./_etcd_messages.ts";

export type { EtcdCondition, EtcdEvent, EtcdOp, EtcdPair } from "./_etcd_messages.ts";

/**
 * Options of `etcdClient`.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import type { EtcdClientOptions } from "./_etcd_client.ts";
 * const options: EtcdClientOptions = { urls: ["https://10.0.0.1:2379"], username: "hub" };
 * assert.equal(options.urls.length, 1);
 * ```
 */
export interface EtcdClientOptions {
  /**
   * Endpoints (`http://127.0.0.1:2379`); a request that cannot connect to one (refused,
   * unreachable) tries the next, from the one that answered last.
   */
  urls: string[];
  /** User name, when etcd has auth enabled. */
  username?: string;
  /** Password. */
  password?: string;
  /** PEM CA certificate for https endpoints (none: the system's). */
  caCert?: string;
  /** How long one request may take, in ms, all endpoints tried included; default 15,000. */
  timeoutMs?: number;
}

/**
 * A range read (`EtcdClient.range`).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import type { EtcdRangeRequest } from "./_etcd_client.ts";
 * const request: EtcdRangeRequest = { key: "jupyterhub/", rangeEnd: new TextEncoder().encode("jupyterhub0") };
 * assert.equal(request.limit, undefined);
 * ```
 */
export interface EtcdRangeRequest {
  /** The first key, as a string or as raw bytes (a page after a key: its bytes and `\0`). */
  key: string | Uint8Array;
  /** The end of the range (exclusive, `prefixEnd`); default the key alone. */
  rangeEnd?: Uint8Array;
  /** At most this many pairs; default all. */
  limit?: number;
  /** Count only, no pairs. */
  countOnly?: boolean;
  /** Read the store as it was at this revision (the pages of one listing); default now. */
  revision?: number;
}

/**
 * What a range read returns.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import type { EtcdRange } from "./_etcd_client.ts";
 * const range: EtcdRange = { pairs: [], more: false, revision: 12 };
 * assert.equal(range.lastKey, undefined);
 * ```
 */
export interface EtcdRange {
  /** The pairs, in key order. */
  pairs: EtcdPair[];
  /** Whether the range holds more pairs than returned (`limit`). */
  more: boolean;
  /** etcd's revision when it answered (or the revision asked for). */
  revision: number;
  /** The last pair's key as etcd sent it (bytes), to read on after it. */
  lastKey?: Uint8Array;
}

/**
 * What a watch reports to.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import type { EtcdWatchListener } from "./_etcd_client.ts";
 * let up = false;
 * const listener: EtcdWatchListener = {
 *   connected: () => void (up = true),
 *   events() {},
 *   disconnected: () => void (up = false),
 * };
 * listener.connected();
 * assert.ok(up);
 * ```
 */
export interface EtcdWatchListener {
  /** The watch is established (again: events in between may be lost). */
  connected(): void;
  /** Changes, in revision order. */
  events(events: EtcdEvent[]): void;
  /**
   * The watch broke (once per break, not per failed attempt); it is established again by itself
   * (then `connected`).
   */
  disconnected(error: unknown): void;
}

/**
 * A running watch.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import type { EtcdWatchStream } from "./_etcd_client.ts";
 * let reconnects = 0;
 * const stream: EtcdWatchStream = { reconnect: () => void reconnects++, cancel: () => Promise.resolve() };
 * stream.reconnect();
 * assert.equal(reconnects, 1);
 * ```
 */
export interface EtcdWatchStream {
  /**
   * Drops the current stream and establishes the watch again (`disconnected`, then
   * `connected`): for a watch that stopped reporting without breaking.
   */
  reconnect(): void;
  /** Stops watching. */
  cancel(): Promise<void>;
}

/**
 * See `etcdClient`.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { type EtcdClient, etcdClient } from "./_etcd_client.ts";
 * const etcd: EtcdClient = etcdClient({ urls: ["http://127.0.0.1:2379"] }); // connects on first use
 * assert.equal(typeof etcd.txn, "function");
 * etcd.close();
 * ```
 */
export interface EtcdClient {
  /** Reads a key or a range. */
  range(request: EtcdRangeRequest): Promise<EtcdRange>;
  /**
   * Runs `ops` in one transaction, if every condition holds; resolves to whether they held, and
   * the revision.
   */
  txn(ops: EtcdOp[], conditions?: EtcdCondition[]): Promise<{ ok: boolean; revision: number }>;
  /**
   * Watches the keys from `key` to `rangeEnd` from now on, re-established after a break (every
   * `retryMs`, default 1,000, and when etcd has not confirmed a new watch within 5 s);
   * resolves once established the first time.
   */
  watch(
    range: { key: string; rangeEnd: Uint8Array },
    listener: EtcdWatchListener,
    options?: { retryMs?: number },
  ): Promise<EtcdWatchStream>;
  /** Ends the client (its watches must be cancelled first). */
  close(): void;
}

/**
 * An error etcd answered with (or a response that was not etcd's), with its message.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { EtcdRequestError } from "./_etcd_client.ts";
 * const error = new EtcdRequestError("etcd refused KV/Txn: invalid auth token", 16);
 * assert.equal(error.code, 16);
 * ```
 */
export class EtcdRequestError extends Error {
  /** gRPC status code (16: unauthenticated), when etcd gave one. */
  readonly code?: number;
  /** Creates the error. */
  constructor(message: string, code?: number) {
    super(message);
    this.name = "EtcdRequestError";
    this.code = code;
  }
}

// etcd refuses a token it does not know or that expired with these.
function tokenRefused(error: unknown): boolean {
  return error instanceof GrpcError &&
    (error.code === GRPC_STATUS.UNAUTHENTICATED || OLD_TOKEN.test(error.message));
}

// What etcd says of a token it no longer takes (unknown, expired, or older than a change of
// users or roles: etcd 3.5 and later).
const OLD_TOKEN = /auth token|revision of auth store is old|revision in header is old/i;

const SERVICE = {
  range: "/etcdserverpb.KV/Range",
  txn: "/etcdserverpb.KV/Txn",
  watch: "/etcdserverpb.Watch/Watch",
  authenticate: "/etcdserverpb.Auth/Authenticate",
} as const;

/**
 * Creates a client; it connects on its first request.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { etcdClient } from "./_etcd_client.ts";
 * const etcd = etcdClient({ urls: ["http://127.0.0.1:1"], timeoutMs: 1_000 }); // nothing there
 * await assert.rejects(etcd.range({ key: "a" }), /cannot reach etcd/);
 * etcd.close();
 * ```
 */
export function etcdClient(options: EtcdClientOptions): EtcdClient {
  const urls = options.urls.map((url) => url.replace(/\/+$/, ""));
  const channels: (GrpcChannel | undefined)[] = urls.map(() => undefined);
  const timeoutMs = options.timeoutMs ?? 15_000;
  let answered = 0; // the endpoint that answered last
  let token: Promise<string> | undefined;
  const closing = new AbortController();

  function channel(index: number): GrpcChannel {
    return channels[index] ??= grpcChannel({
      url: urls[index],
      caCerts: options.caCert ? [options.caCert] : undefined,
      connectTimeoutMs: Math.min(timeoutMs, 5_000),
    });
  }

  // Calls each endpoint in turn, from the one that answered last, while the call is not
  // processed (no connection could be made, or the channel's retry after a GOAWAY or a refused
  // stream was refused too) and `signal` has not aborted.
  async function onSomeEndpoint<T>(
    call: (channel: GrpcChannel) => Promise<T>,
    signal: AbortSignal,
  ): Promise<T> {
    let lastError: unknown;
    for (let tried = 0; tried < urls.length; tried++) {
      signal.throwIfAborted();
      const index = (answered + tried) % urls.length;
      try {
        const result = await call(channel(index));
        answered = index;
        return result;
      } catch (error) {
        if (!(error instanceof GrpcError && error.unprocessed)) throw error;
        lastError = error;
      }
    }
    throw new EtcdRequestError(
      `cannot reach etcd at ${urls.join(",")}: ${(lastError as Error).message}`,
    );
  }

  // A unary call and its answer within `timeoutMs`, or until the client closes. (One
  // controller per request, no `AbortSignal.any`: a combined signal that nothing else holds
  // may be garbage-collected, and then never aborts.)
  async function exchange(path: string, message: Uint8Array): Promise<Uint8Array> {
    const controller = new AbortController();
    const timer = setTimeout(
      () =>
        controller.abort(new EtcdRequestError(`etcd did not answer ${path} in ${timeoutMs} ms`)),
      timeoutMs,
    );
    const abort = () => controller.abort(new EtcdRequestError("the etcd client is closed"));
    closing.signal.addEventListener("abort", abort);
    try {
      if (closing.signal.aborted) abort();
      const metadata = path === SERVICE.authenticate ? undefined : await tokenMetadata();
      return await onSomeEndpoint(
        (channel) => channel.unary(path, message, { metadata, signal: controller.signal }),
        controller.signal,
      );
    } catch (error) {
      throw controller.signal.aborted ? controller.signal.reason : error;
    } finally {
      clearTimeout(timer);
      closing.signal.removeEventListener("abort", abort);
    }
  }

  // With a user name: a token, asked for once and shared until etcd refuses it.
  function ensureToken(): void {
    if (!options.username || token) return;
    const asked = token = (async () => {
      let answer: Uint8Array;
      try {
        answer = await exchange(
          SERVICE.authenticate,
          authenticateRequest(options.username!, options.password ?? ""),
        );
      } catch (error) {
        if (!(error instanceof GrpcError)) throw error;
        throw new EtcdRequestError(
          `etcd refused user ${JSON.stringify(options.username)}: ${error.message}`,
          error.code,
        );
      }
      const given = authenticateToken(answer);
      if (!given) {
        throw new EtcdRequestError(`etcd gave user ${JSON.stringify(options.username)} no token`);
      }
      return given;
    })();
    asked.catch(() => {
      if (token === asked) token = undefined; // the next request asks again
    });
  }

  // The request metadata that carries the token, when there is one.
  async function tokenMetadata(): Promise<HeaderField[] | undefined> {
    return token ? [["token", await token]] : undefined;
  }

  // A unary call; with auth, a refused token is renewed once.
  async function call(path: string, message: Uint8Array): Promise<Uint8Array> {
    for (let attempt = 0;; attempt++) {
      ensureToken();
      const sent = token;
      try {
        return await exchange(path, message);
      } catch (error) {
        if (options.username && tokenRefused(error)) {
          if (token === sent) token = undefined;
          if (attempt === 0) continue;
        }
        if (error instanceof GrpcError) {
          const name = path.slice("/etcdserverpb.".length);
          throw new EtcdRequestError(
            error.code === GRPC_STATUS.UNAVAILABLE
              ? `etcd at ${urls.join(",")} did not complete ${name}: ${error.message}`
              : `etcd refused ${name}: ${error.message}`,
            error.code,
          );
        }
        throw error;
      }
    }
  }

  async function range(request: EtcdRangeRequest): Promise<EtcdRange> {
    const response = rangeResponse(await call(SERVICE.range, rangeRequest(request)));
    return {
      pairs: response.pairs,
      more: response.more,
      revision: request.revision ?? response.revision,
      ...(response.lastKey ? { lastKey: response.lastKey } : {}),
    };
  }

  async function txn(ops: EtcdOp[], conditions: EtcdCondition[] = []) {
    const response = txnResponse(await call(SERVICE.txn, txnRequest(ops, conditions)));
    return { ok: response.succeeded, revision: response.revision };
  }

  async function watch(
    watched: { key: string; rangeEnd: Uint8Array },
    listener: EtcdWatchListener,
    watchOptions: { retryMs?: number } = {},
  ): Promise<EtcdWatchStream> {
    const stop = new AbortController();
    // The current stream's: aborted to drop it (a stop, a reconnect, no confirmation in time).
    let attempt = new AbortController();
    const abort = () => {
      stop.abort();
      attempt.abort();
    };
    closing.signal.addEventListener("abort", abort);
    const retryMs = watchOptions.retryMs ?? 1_000;
    const request = watchCreateRequest(watched);
    let renewedOnDenial = false;
    // Opens a stream; resolves once etcd confirmed the watch, with the stream.
    async function open(): Promise<GrpcStream> {
      ensureToken();
      const own = attempt = new AbortController();
      if (stop.signal.aborted) own.abort();
      // etcd answers once the watch exists; one restarting may never answer.
      const timer = setTimeout(
        () => own.abort(new EtcdRequestError("etcd did not confirm the watch in time")),
        Math.min(timeoutMs, 5_000),
      );
      let stream: GrpcStream | undefined;
      try {
        const sent = token;
        const metadata = await tokenMetadata();
        stream = await onSomeEndpoint(
          (channel) => channel.stream(SERVICE.watch, request, { metadata, signal: own.signal }),
          own.signal,
        );
        let first: ReturnType<typeof watchResponse> | undefined;
        try {
          const message = await stream.next();
          first = message && watchResponse(message);
        } catch (error) {
          if (tokenRefused(error) && token === sent) token = undefined;
          throw error;
        }
        if (!first?.created || first.canceled) {
          // etcd refuses a watch with a token it no longer knows by cancelling it at once.
          const reason = first?.cancelReason ?? "";
          // etcd 3.4 says "permission denied" (also when the user may not read the routes: a new
          // token is asked for once, not at every retry), later versions what was wrong.
          const denied = /permission denied/i.test(reason);
          if ((OLD_TOKEN.test(reason) || (denied && !renewedOnDenial)) && token === sent) {
            token = undefined;
            if (denied) renewedOnDenial = true;
          }
          throw new EtcdRequestError(`etcd did not create the watch${reason && `: ${reason}`}`);
        }
        renewedOnDenial = false;
        return stream;
      } catch (error) {
        stream?.cancel();
        throw own.signal.aborted ? own.signal.reason : error;
      } finally {
        clearTimeout(timer);
      }
    }
    async function follow(stream: GrpcStream): Promise<void> {
      const next = stream.next;
      for (let message = await next(); message; message = await next()) {
        const response = watchResponse(message);
        if (response.canceled) {
          throw new EtcdRequestError(
            `etcd cancelled the watch: ${response.cancelReason || "no reason given"}`,
          );
        }
        if (response.events.length > 0) listener.events(response.events);
      }
      throw new EtcdRequestError("etcd ended the watch");
    }
    // A pause between attempts that a stop ends at once.
    function pause(): Promise<void> {
      return new Promise((resolve) => {
        const done = () => {
          clearTimeout(timer);
          stop.signal.removeEventListener("abort", done);
          resolve();
        };
        const timer = setTimeout(done, retryMs);
        stop.signal.addEventListener("abort", done);
      });
    }
    let first: GrpcStream;
    try {
      first = await open();
    } catch (error) {
      closing.signal.removeEventListener("abort", abort);
      throw error;
    }
    listener.connected();
    const running = (async () => {
      let stream: GrpcStream | undefined = first;
      while (!stop.signal.aborted) {
        try {
          if (!stream) {
            stream = await open();
            listener.connected();
          }
          await follow(stream);
        } catch (error) {
          // A stream left for any reason (a cancelled watch, a listener that threw) ends here.
          stream?.cancel();
          if (stop.signal.aborted) return;
          // Once per break: a failed attempt to establish it again is not another one.
          if (stream) listener.disconnected(error);
          stream = undefined;
          await pause();
        }
      }
    })();
    return {
      reconnect() {
        attempt.abort(new EtcdRequestError("the watch is established again"));
      },
      async cancel() {
        abort();
        await running;
        closing.signal.removeEventListener("abort", abort);
      },
    };
  }

  return {
    range,
    txn,
    watch,
    close() {
      closing.abort();
      for (const channel of channels) channel?.close();
    },
  };
}
