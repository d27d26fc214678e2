/**
 * A small redis client on Deno's own sockets: one connection (TCP, or TLS for `rediss://`),
 * commands pipelined in order, `AUTH` and `SELECT` on every (re)connect, reconnection with
 * backoff, and publish/subscribe on a connection of its own. While the connection is down a
 * command fails at once (the API answers 503) instead of waiting in a queue.
 *
 * Written here rather than taken from node-redis: loading node-redis (hundreds of command
 * modules, through Deno's Node compatibility) costs this process about 32 MB of its resident
 * memory, more than 10,000 routes do, and the proxy uses a dozen commands.
 *
 * @module
 */

import { TIMED_OUT, withTimeout } from "../lib/async/timeout.ts";
import { writeAll } from "../lib/net/write_all.ts";
import { commandText, RespDecoder, RespError, type RespValue } from "./_resp.ts";

export { RespError, type RespValue } from "./_resp.ts";

/**
 * Where and how to connect.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import type { RedisClientOptions } from "./_redis_client.ts";
 * const options: RedisClientOptions = { hostname: "127.0.0.1", port: 6379, db: 2 };
 * assert.equal(options.db, 2);
 * ```
 */
export interface RedisClientOptions {
  /** Host name or address. */
  hostname: string;
  /** Port. */
  port: number;
  /** TLS (`rediss://`), verified against Deno's certificate store or `caCerts`. */
  tls?: boolean;
  /** PEM certificates of the authorities that sign the server's certificate (with `tls`). */
  caCerts?: string[];
  /** ACL user name. */
  username?: string;
  /** Password (`AUTH`). */
  password?: string;
  /** Database number (`SELECT`); default 0. */
  db?: number;
  /** How long `connect` keeps trying, and how long one reconnection may take, in ms; default 5,000. */
  connectTimeoutMs?: number;
  /**
   * A connection that has heard nothing for this long is asked `PING`, and is given up (and
   * reconnected) when no answer comes in as long again: a subscriber only reads, and would not
   * notice a server that vanished. In ms; default 10,000.
   */
  pingIntervalMs?: number;
}

type Event = "error" | "end" | "ready";
type Listener = (error: Error) => void;

interface Pending {
  resolve(value: RespValue): void;
  reject(error: Error): void;
}

// One connection and what waits on it; a reconnection starts a new one.
interface Link {
  conn: Deno.Conn;
  pending: Pending[];
  outgoing: string[]; // commands' text (`commandText`), encoded together when flushed
  flushing: boolean;
  ready: boolean;
  heard: number; // when a reply last came (Date.now())
}

/**
 * A redis connection (see the module doc).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { redisClient } from "./_redis_client.ts";
 * const client = redisClient({ hostname: "127.0.0.1", port: 1, connectTimeoutMs: 300 });
 * await assert.rejects(client.connect()); // nothing listens there
 * assert.equal(client.isReady, false);
 * ```
 */
export interface RedisClient {
  /** Whether commands can be sent now. */
  readonly isReady: boolean;
  /** Whether the connection is up or being re-established (not closed). */
  readonly isOpen: boolean;
  /**
   * Adds a listener: `error` (with the error), `end` (a ready connection was lost), `ready`
   * (connected, authenticated, subscribed again). A listener that throws is ignored.
   */
  on(event: Event, listener: Listener): RedisClient;
  /**
   * Connects, trying again with backoff until `connectTimeoutMs`; after that, a lost
   * connection is re-established until `quit` or `destroy`.
   *
   * @throws {Error} with the last connection error, or the `AUTH`/`SELECT` error reply.
   */
  connect(): Promise<void>;
  /**
   * Sends one command; resolves with its reply.
   *
   * @throws {RespError} for an error reply; {Error} while the connection is down.
   */
  send(args: readonly string[]): Promise<RespValue>;
  /**
   * Sends commands in one write; resolves with every reply, error replies included as
   * `RespError` values.
   *
   * @throws {Error} while the connection is down, or when it is lost before every reply came.
   */
  pipeline(commands: readonly (readonly string[])[]): Promise<RespValue[]>;
  /** Publishes `message` on `channel`. */
  publish(channel: string, message: string): Promise<unknown>;
  /** Subscribes to the channels matching `pattern` (again after every reconnect). */
  pSubscribe(pattern: string, listener: (message: string, channel: string) => void): Promise<void>;
  /** Subscribes to `channel` (again after every reconnect). */
  subscribe(channel: string, listener: (message: string) => void): Promise<void>;
  /** A second connection with the same options (for subscribing). */
  duplicate(): RedisClient;
  /** Says `QUIT` and closes; no reconnect. */
  quit(): Promise<void>;
  /** Closes at once; no reconnect. */
  destroy(): void;
}

const encoder = new TextEncoder();
const RECONNECT_MIN_MS = 100;
const RECONNECT_MAX_MS = 3_000;

// The pause before attempt `attempt` (0, 1, ...): doubling from 100 ms, at most 3 s.
function backoffMs(attempt: number): number {
  return Math.min(RECONNECT_MIN_MS * 2 ** attempt, RECONNECT_MAX_MS);
}

// Error replies that another attempt cannot change (credentials, database number).
function final(error: Error): boolean {
  return error instanceof RespError &&
    !/^(LOADING|BUSY|MASTERDOWN|TRYAGAIN)$/.test(error.code) &&
    !/max number of clients/i.test(error.message);
}

/**
 * Creates a client; nothing is connected until `connect`.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { redisClient } from "./_redis_client.ts";
 * const client = redisClient({ hostname: "127.0.0.1", port: 6379 });
 * assert.equal(client.isOpen, false);
 * await assert.rejects(client.send(["PING"]), /not connected/);
 * ```
 */
export function redisClient(options: RedisClientOptions): RedisClient {
  const timeoutMs = options.connectTimeoutMs ?? 5_000;
  const pingIntervalMs = options.pingIntervalMs ?? 10_000;
  const listeners = new Map<Event, Listener[]>();
  const channels = new Map<string, (message: string) => void>();
  const patterns = new Map<string, (message: string, channel: string) => void>();
  let link: Link | undefined; // the current connection, ready or being set up
  let open = false; // connected once: a lost connection is re-established
  let closed = false;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  let pingTimer: ReturnType<typeof setInterval> | undefined;

  function emit(event: Event, error?: Error): void {
    for (const listener of listeners.get(event) ?? []) {
      try {
        listener(error!);
      } catch {
        // a listener's failure is its own
      }
    }
  }

  function down(): Error {
    return new Error(closed ? "the redis connection is closed" : "redis is not connected");
  }

  // Queues the commands on `to` and flushes them in one write (with any queued in the same
  // turn); their replies resolve in order.
  function enqueue(to: Link, commands: readonly (readonly string[])[]): Promise<RespValue>[] {
    const replies = commands.map(() => {
      const { promise, resolve, reject } = Promise.withResolvers<RespValue>();
      to.pending.push({ resolve, reject });
      return promise;
    });
    for (const command of commands) to.outgoing.push(commandText(command));
    if (!to.flushing) {
      to.flushing = true;
      queueMicrotask(() => flush(to));
    }
    return replies;
  }

  async function flush(from: Link): Promise<void> {
    try {
      while (from.outgoing.length > 0) {
        const parts = from.outgoing;
        from.outgoing = [];
        const bytes = encoder.encode(parts.length === 1 ? parts[0] : parts.join(""));
        await writeAll(from.conn, bytes);
      }
    } catch (error) {
      lose(from, error as Error);
    } finally {
      from.flushing = false;
    }
  }

  async function read(from: Link): Promise<void> {
    const decoder = new RespDecoder();
    const buffer = new Uint8Array(64 * 1024);
    try {
      for (;;) {
        const n = await from.conn.read(buffer);
        if (n === null) throw new Error("redis closed the connection");
        from.heard = Date.now();
        for (const reply of decoder.push(buffer.subarray(0, n))) dispatch(from, reply);
      }
    } catch (error) {
      lose(from, error as Error);
    }
  }

  function dispatch(from: Link, reply: RespValue): void {
    // Messages come only on a connection that subscribed (RESP2 allows it no other commands);
    // elsewhere an array that starts with "message" is a reply like any other.
    const subscribed = channels.size > 0 || patterns.size > 0;
    if (subscribed && Array.isArray(reply) && (reply[0] === "message" || reply[0] === "pmessage")) {
      try {
        if (reply[0] === "message") channels.get(reply[1] as string)?.(reply[2] as string);
        else patterns.get(reply[1] as string)?.(reply[3] as string, reply[2] as string);
      } catch {
        // a listener's failure is its own
      }
      return;
    }
    from.pending.shift()?.resolve(reply);
  }

  // The connection of `from` is gone or failed: what waits on it fails. A ready connection
  // that is lost is re-established (unless the client is closed); one being set up is the
  // attempt's to report.
  function lose(from: Link, error: Error): void {
    try {
      from.conn.close();
    } catch {
      // already closed
    }
    const failed = from.pending;
    from.pending = [];
    from.outgoing = [];
    const lost = new Error(`the connection to redis was lost (${error.message})`);
    for (const waiting of failed) waiting.reject(lost);
    if (from !== link) return;
    link = undefined;
    if (closed || !from.ready) return;
    from.ready = false;
    emit("error", error);
    emit("end");
    schedule(0);
  }

  function schedule(attempt: number): void {
    if (closed || retryTimer !== undefined || link) return;
    retryTimer = setTimeout(async () => {
      retryTimer = undefined;
      let error: Error | undefined;
      try {
        await attemptConnection();
      } catch (failure) {
        error = failure as Error;
      }
      if (closed) return;
      if (error) {
        emit("error", error);
        schedule(attempt + 1);
      } else emit("ready");
    }, backoffMs(attempt));
  }

  // One connection attempt within `timeoutMs`: connect (and the TLS handshake), authenticate,
  // select, subscribe again, PING. The connection is the current one once it is ready.
  async function attemptConnection(): Promise<void> {
    const address = { hostname: options.hostname, port: options.port };
    let attempt: Link | undefined;
    let abandoned = false; // timed out: a connection that comes after all is closed at once
    const steps = async () => {
      let conn: Deno.Conn;
      if (options.tls) {
        const tls = await Deno.connectTls({ ...address, caCerts: options.caCerts });
        conn = tls;
        attempt = { conn, pending: [], outgoing: [], flushing: false, ready: false, heard: 0 };
        await tls.handshake(); // a certificate it refuses fails here, not at the first command
      } else {
        const tcp = await Deno.connect(address);
        tcp.setKeepAlive(true);
        conn = tcp;
        attempt = { conn, pending: [], outgoing: [], flushing: false, ready: false, heard: 0 };
      }
      if (closed || abandoned) throw down();
      link = attempt;
      read(attempt);
      const setup: string[][] = [];
      if (options.password !== undefined) {
        setup.push(
          options.username !== undefined
            ? ["AUTH", options.username, options.password]
            : ["AUTH", options.password],
        );
      }
      if (options.db) setup.push(["SELECT", String(options.db)]);
      for (const channel of channels.keys()) setup.push(["SUBSCRIBE", channel]);
      for (const pattern of patterns.keys()) setup.push(["PSUBSCRIBE", pattern]);
      setup.push(["PING"]); // ready means redis answered
      const replies = await Promise.all(enqueue(attempt, setup));
      const refused = replies.find((reply) => reply instanceof RespError);
      if (refused) throw refused;
    };
    const running = steps();
    const outcome = await withTimeout(
      running.then(() => undefined, (error: Error) => error),
      timeoutMs,
    );
    const failure = outcome === TIMED_OUT
      ? new Error(`redis did not answer within ${timeoutMs} ms`)
      : outcome;
    if (failure || !attempt || link !== attempt) {
      abandoned = true;
      if (attempt) lose(attempt, failure ?? down());
      else running.catch(() => {}).then(() => attempt && lose(attempt, down()));
      throw failure ?? down();
    }
    attempt.ready = true;
    attempt.heard = Date.now();
    pingTimer ??= setInterval(healthCheck, Math.max(1, pingIntervalMs / 2));
  }

  // Asks a quiet connection PING; gives it up when the question itself goes unanswered.
  function healthCheck(): void {
    const current = link;
    if (!current?.ready) return;
    const quiet = Date.now() - current.heard;
    if (quiet >= 2 * pingIntervalMs) {
      lose(current, new Error(`no answer from redis for ${quiet} ms`));
    } else if (quiet >= pingIntervalMs && current.pending.length === 0) {
      enqueue(current, [["PING"]])[0].catch(() => {});
    }
  }

  const client: RedisClient = {
    get isReady() {
      return link?.ready === true;
    },
    get isOpen() {
      return open && !closed;
    },
    on(event, listener) {
      listeners.set(event, [...listeners.get(event) ?? [], listener]);
      return client;
    },
    async connect() {
      const deadline = Date.now() + timeoutMs;
      let lastError: Error | undefined;
      for (let attempt = 0; !closed; attempt++) {
        try {
          await attemptConnection();
          open = true;
          emit("ready");
          return;
        } catch (error) {
          lastError = error as Error;
          if (final(lastError)) break; // AUTH or SELECT refused: trying again won't help
        }
        const wait = Math.min(backoffMs(attempt), deadline - Date.now());
        if (wait <= 0) break;
        await new Promise((resolve) => setTimeout(resolve, wait));
      }
      throw lastError ?? down();
    },
    send(args) {
      if (!link?.ready) return Promise.reject(down());
      return enqueue(link, [args])[0].then((reply) => {
        if (reply instanceof RespError) throw reply;
        return reply;
      });
    },
    pipeline(commands) {
      if (!link?.ready) return Promise.reject(down());
      return Promise.all(enqueue(link, commands));
    },
    publish(channel, message) {
      return client.send(["PUBLISH", channel, message]);
    },
    async pSubscribe(pattern, listener) {
      patterns.set(pattern, listener);
      await client.send(["PSUBSCRIBE", pattern]);
    },
    async subscribe(channel, listener) {
      channels.set(channel, listener);
      await client.send(["SUBSCRIBE", channel]);
    },
    duplicate() {
      return redisClient(options);
    },
    async quit() {
      const current = link;
      // Closed first: the server's hanging up after QUIT is no loss to report or repair.
      closed = true;
      if (current?.ready) {
        await withTimeout(enqueue(current, [["QUIT"]])[0].catch(() => {}), 2_000);
      }
      client.destroy();
    },
    destroy() {
      closed = true;
      clearTimeout(retryTimer);
      clearInterval(pingTimer);
      if (link) lose(link, new Error("closed"));
    },
  };
  return client;
}
