/**
 * etcd's v3 API through its JSON gateway (`POST /v3/kv/range`, `/v3/kv/txn`, `/v3/watch`, served
 * on the client port of etcd 3.4 and later), the part the etcd store uses. Plain `fetch`: no gRPC
 * client (the `etcd3` package held 24 MB more in an idle process). Keys and values are strings
 * (UTF-8), base64 on the wire. With a user name, a
 * token from `/v3/auth/authenticate` goes in the `Authorization` header and is renewed when etcd
 * no longer accepts it.
 *
 * @module
 */

import { bytesFromBase64, fromBase64, toBase64 } from "../lib/core/base64.ts";

/**
 * Options of `etcdHttp`.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import type { EtcdHttpOptions } from "./_etcd_http.ts";
 * const options: EtcdHttpOptions = { urls: ["https://10.0.0.1:2379"], username: "hub" };
 * assert.equal(options.urls.length, 1);
 * ```
 */
export interface EtcdHttpOptions {
  /**
   * Endpoints (`http://127.0.0.1:2379`); a request that cannot connect to one (refused,
   * unreachable) tries the next, from the one that answered last.
   */
  urls: string[];
  /** User name, when etcd has auth enabled. */
  username?: string;
  /** Password. */
  password?: string;
  /** PEM CA certificate for https endpoints. */
  caCert?: string;
  /** How long one request may take, in ms, all endpoints tried included; default 15,000. */
  timeoutMs?: number;
}

/**
 * One key-value pair as etcd returns it.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import type { EtcdPair } from "./_etcd_http.ts";
 * const pair: EtcdPair = { key: "jupyterhub/routes/r/target", value: "http://h:1", modRevision: 9 };
 * assert.equal(pair.modRevision, 9);
 * ```
 */
export interface EtcdPair {
  /** The key. */
  key: string;
  /** The value (empty in a deletion event). */
  value: string;
  /** The revision of the pair's last change. */
  modRevision: number;
}

/**
 * A range read (`EtcdHttp.range`).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import type { EtcdRangeRequest } from "./_etcd_http.ts";
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
 * import type { EtcdRange } from "./_etcd_http.ts";
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
 * One operation of a transaction.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import type { EtcdOp } from "./_etcd_http.ts";
 * const ops: EtcdOp[] = [{ put: { key: "a", value: "1" } }, { delete: { key: "b" } }];
 * assert.equal(ops.length, 2);
 * ```
 */
export type EtcdOp = { put: { key: string; value: string } } | { delete: { key: string } };

/**
 * A transaction's condition on one key: its last change at `modRevision` (0: no such key); or,
 * with `rangeEnd` and `before`, on every key of a range: each last changed before `modRevision`.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import type { EtcdCondition } from "./_etcd_http.ts";
 * const absent: EtcdCondition = { key: "jupyterhub/shared/x", modRevision: 0 };
 * const unchanged: EtcdCondition = {
 *   key: "a/",
 *   rangeEnd: new TextEncoder().encode("a0"),
 *   modRevision: 42,
 *   before: true,
 * };
 * assert.equal(absent.modRevision, 0);
 * assert.ok(unchanged.before);
 * ```
 */
export interface EtcdCondition {
  /** The key (the first of the range). */
  key: string;
  /** The revision of the key's last change; 0 for a key that does not exist. */
  modRevision: number;
  /** The end of a range of keys (exclusive, `prefixEnd`): the condition holds for each. */
  rangeEnd?: Uint8Array;
  /** The last change must be before `modRevision` rather than at it. */
  before?: boolean;
}

/**
 * A change reported by a watch.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import type { EtcdEvent } from "./_etcd_http.ts";
 * const event: EtcdEvent = { pair: { key: "a", value: "", modRevision: 3 }, deleted: true };
 * assert.ok(event.deleted);
 * ```
 */
export interface EtcdEvent {
  /** The pair (after a put) or the key (deleted, with an empty value). */
  pair: EtcdPair;
  /** Whether the key was deleted. */
  deleted: boolean;
}

/**
 * What a watch reports to.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import type { EtcdWatchListener } from "./_etcd_http.ts";
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
 * import type { EtcdWatchStream } from "./_etcd_http.ts";
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
 * See `etcdHttp`.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { type EtcdHttp, etcdHttp } from "./_etcd_http.ts";
 * const etcd: EtcdHttp = etcdHttp({ urls: ["http://127.0.0.1:2379"] }); // connects on first use
 * assert.equal(typeof etcd.txn, "function");
 * etcd.close();
 * ```
 */
export interface EtcdHttp {
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
 * import { EtcdRequestError } from "./_etcd_http.ts";
 * const error = new EtcdRequestError("etcd refused /v3/kv/txn: invalid auth token", 16);
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

interface WirePair {
  key?: string;
  value?: string;
  mod_revision?: string;
}

function pairOf(wire: WirePair): EtcdPair {
  return {
    key: fromBase64(wire.key),
    value: fromBase64(wire.value),
    modRevision: Number(wire.mod_revision ?? 0),
  };
}

// etcd refuses a token it does not know or that expired with these.
function tokenRefused(status: number, body: { code?: number; error?: string }): boolean {
  return status === 401 || body.code === 16 || /auth token/i.test(body.error ?? "");
}

/**
 * Creates a client; it connects on its first request.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { etcdHttp } from "./_etcd_http.ts";
 * const etcd = etcdHttp({ urls: ["http://127.0.0.1:1"], timeoutMs: 1_000 }); // nothing there
 * await assert.rejects(etcd.range({ key: "a" }), /cannot reach etcd/);
 * etcd.close();
 * ```
 */
export function etcdHttp(options: EtcdHttpOptions): EtcdHttp {
  const urls = options.urls.map((url) => url.replace(/\/+$/, ""));
  const client = options.caCert ? Deno.createHttpClient({ caCerts: [options.caCert] }) : undefined;
  const timeoutMs = options.timeoutMs ?? 15_000;
  let answered = 0; // the endpoint that answered last
  let token: Promise<string> | undefined;
  const closing = new AbortController();

  // POSTs to each endpoint in turn, from the one that answered last, until one can be
  // connected to; the response's body is the caller's to read (`signal` still applies to it).
  async function post(path: string, body: unknown, signal: AbortSignal): Promise<Response> {
    let lastError: unknown;
    for (let tried = 0; tried < urls.length; tried++) {
      const index = (answered + tried) % urls.length;
      const headers: Record<string, string> = { "content-type": "application/json" };
      if (token && path !== "/v3/auth/authenticate") headers.authorization = await token;
      try {
        const response = await fetch(`${urls[index]}${path}`, {
          method: "POST",
          headers,
          body: JSON.stringify(body),
          client,
          signal,
        });
        answered = index;
        return response;
      } catch (error) {
        if (signal.aborted) throw error;
        lastError = error;
      }
    }
    throw new EtcdRequestError(
      `cannot reach etcd at ${urls.join(",")}: ${(lastError as Error).message}`,
    );
  }

  // A POST and its whole answer within `timeoutMs`, or until the client closes. (One
  // controller per request, no `AbortSignal.any`: a combined signal that nothing else holds
  // may be garbage-collected, and then never aborts.)
  async function exchange(path: string, body: unknown): Promise<{ status: number; text: string }> {
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
      const response = await post(path, body, controller.signal);
      return { status: response.status, text: await response.text() };
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
      const response = await exchange("/v3/auth/authenticate", {
        name: options.username,
        password: options.password ?? "",
      });
      let body: { token?: string; error?: string; code?: number } = {};
      try {
        body = JSON.parse(response.text);
      } catch {
        // not etcd's answer: reported below
      }
      if (response.status !== 200 || !body.token) {
        throw new EtcdRequestError(
          `etcd refused user ${JSON.stringify(options.username)}: ${
            body.error ?? `HTTP ${response.status}`
          }`,
          body.code,
        );
      }
      return body.token;
    })();
    asked.catch(() => {
      if (token === asked) token = undefined; // the next request asks again
    });
  }

  // A unary call; with auth, a refused token is renewed once.
  async function call<T>(path: string, body: unknown): Promise<T> {
    for (let attempt = 0;; attempt++) {
      ensureToken();
      const sent = token;
      const { status, text } = await exchange(path, body);
      let json: T & { error?: string; code?: number };
      try {
        json = JSON.parse(text);
      } catch {
        throw new EtcdRequestError(`etcd answered ${path} with ${status}: ${text.slice(0, 200)}`);
      }
      if (status === 200) return json;
      if (options.username && tokenRefused(status, json)) {
        if (token === sent) token = undefined;
        if (attempt === 0) continue;
      }
      throw new EtcdRequestError(
        `etcd refused ${path}: ${json.error ?? `HTTP ${status}`}`,
        json.code,
      );
    }
  }

  async function range(request: EtcdRangeRequest): Promise<EtcdRange> {
    const body: Record<string, unknown> = {
      key: toBase64(request.key),
    };
    if (request.rangeEnd) body.range_end = toBase64(request.rangeEnd);
    if (request.limit) body.limit = request.limit;
    if (request.countOnly) body.count_only = true;
    if (request.revision) body.revision = String(request.revision);
    const response = await call<
      { kvs?: WirePair[]; more?: boolean; header?: { revision?: string } }
    >("/v3/kv/range", body);
    const kvs = response.kvs ?? [];
    const last = kvs[kvs.length - 1]?.key;
    return {
      pairs: kvs.map(pairOf),
      more: response.more === true,
      revision: request.revision ?? Number(response.header?.revision ?? 0),
      ...(last ? { lastKey: bytesFromBase64(last) } : {}),
    };
  }

  async function txn(ops: EtcdOp[], conditions: EtcdCondition[] = []) {
    const body = {
      compare: conditions.map((condition) => ({
        key: toBase64(condition.key),
        ...(condition.rangeEnd ? { range_end: toBase64(condition.rangeEnd) } : {}),
        target: "MOD",
        result: condition.before ? "LESS" : "EQUAL",
        mod_revision: String(condition.modRevision),
      })),
      success: ops.map((op) =>
        "put" in op
          ? { request_put: { key: toBase64(op.put.key), value: toBase64(op.put.value) } }
          : { request_delete_range: { key: toBase64(op.delete.key) } }
      ),
    };
    const response = await call<{ succeeded?: boolean; header?: { revision?: string } }>(
      "/v3/kv/txn",
      body,
    );
    return { ok: response.succeeded === true, revision: Number(response.header?.revision ?? 0) };
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
    const request = {
      create_request: { key: toBase64(watched.key), range_end: toBase64(watched.rangeEnd) },
    };
    // Opens a stream; resolves once etcd confirmed the watch, with the rest of the stream.
    async function open(): Promise<AsyncGenerator<Record<string, unknown>>> {
      ensureToken();
      const own = attempt = new AbortController();
      if (stop.signal.aborted) own.abort();
      // etcd's gateway answers once the watch exists; one restarting may never answer.
      const timer = setTimeout(() => own.abort(), Math.min(timeoutMs, 5_000));
      try {
        return await created(await post("/v3/watch", request, own.signal), own.signal);
      } finally {
        clearTimeout(timer);
      }
    }
    async function created(
      response: Response,
      signal: AbortSignal,
    ): Promise<AsyncGenerator<Record<string, unknown>>> {
      if (!response.ok || !response.body) {
        const text = await response.text().catch(() => "");
        let body: { code?: number; error?: string } = {};
        try {
          body = JSON.parse(text);
        } catch {
          // not etcd's answer
        }
        if (tokenRefused(response.status, body)) token = undefined;
        throw new EtcdRequestError(
          `etcd refused the watch: HTTP ${response.status} ${text.slice(0, 200)}`,
        );
      }
      const messages = readMessages(response.body, signal);
      const first = await messages.next();
      const result = (first.value as { result?: { created?: boolean } } | undefined)?.result;
      if (first.done || !result?.created) {
        await messages.return(undefined);
        const error = (first.value as { error?: { message?: string } } | undefined)?.error;
        if (tokenRefused(0, { error: error?.message })) token = undefined;
        throw new EtcdRequestError(`etcd did not create the watch: ${JSON.stringify(first.value)}`);
      }
      return messages;
    }
    async function follow(messages: AsyncGenerator<Record<string, unknown>>): Promise<void> {
      for await (const message of messages) {
        const result = message.result as
          | {
            events?: { type?: string; kv?: WirePair }[];
            canceled?: boolean;
            cancel_reason?: string;
          }
          | undefined;
        if (!result) throw new EtcdRequestError(`etcd's watch broke: ${JSON.stringify(message)}`);
        if (result.canceled) {
          throw new EtcdRequestError(`etcd cancelled the watch: ${result.cancel_reason ?? ""}`);
        }
        if (result.events?.length) {
          listener.events(result.events.map((event) => ({
            pair: pairOf(event.kv ?? {}),
            deleted: event.type === "DELETE",
          })));
        }
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
    let first: AsyncGenerator<Record<string, unknown>>;
    try {
      first = await open();
    } catch (error) {
      closing.signal.removeEventListener("abort", abort);
      throw error;
    }
    listener.connected();
    const running = (async () => {
      let messages: AsyncGenerator<Record<string, unknown>> | undefined = first;
      while (!stop.signal.aborted) {
        try {
          if (!messages) {
            messages = await open();
            listener.connected();
          }
          await follow(messages);
        } catch (error) {
          if (stop.signal.aborted) return;
          // Once per break: a failed attempt to establish it again is not another one.
          if (messages) listener.disconnected(error);
          messages = undefined;
          await pause();
        }
      }
    })();
    return {
      reconnect() {
        attempt.abort();
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
      client?.close();
    },
  };
}

// The JSON messages of a gateway stream, one per line, until the stream ends or `signal`
// aborts. (The body is cancelled on abort: aborting the fetch alone did not always end a read
// under way.)
async function* readMessages(
  body: ReadableStream<Uint8Array>,
  signal: AbortSignal,
): AsyncGenerator<Record<string, unknown>> {
  const reader = body.getReader();
  const cancel = () => void reader.cancel().catch(() => {});
  signal.addEventListener("abort", cancel);
  const decoder = new TextDecoder();
  let buffered = "";
  try {
    if (signal.aborted) cancel();
    while (true) {
      const { value, done } = await reader.read();
      buffered += done ? decoder.decode() : decoder.decode(value, { stream: true });
      let start = 0;
      for (let end = buffered.indexOf("\n"); end >= 0; end = buffered.indexOf("\n", start)) {
        const line = buffered.slice(start, end).trim();
        start = end + 1;
        if (line) yield JSON.parse(line);
      }
      buffered = buffered.slice(start);
      if (done) break;
    }
    if (buffered.trim()) yield JSON.parse(buffered);
  } finally {
    signal.removeEventListener("abort", cancel);
    cancel();
  }
}
