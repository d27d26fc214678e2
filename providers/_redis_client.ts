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
import { encodeCommand, RespDecoder, RespError, type RespValue } from "./_resp.ts";

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
  /** TLS (`rediss://`), verified against Deno's certificate store. */
  tls?: boolean;
  /** ACL user name. */
  username?: string;
  /** Password (`AUTH`). */
  password?: string;
  /** Database number (`SELECT`); default 0. */
  db?: number;
  /** How long `connect` keeps trying, in ms; default 5,000. */
  connectTimeoutMs?: number;
}

type Event = "error" | "end" | "ready";
type Listener = (error: Error) => void;

interface Pending {
  resolve(value: RespValue): void;
  reject(error: Error): void;
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
  /** Adds a listener: `error` (with the error), `end` (connection lost), `ready` (connected). */
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

const RECONNECT_MAX_MS = 3_000;

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
  const listeners = new Map<Event, Listener[]>();
  const channels = new Map<string, (message: string) => void>();
  const patterns = new Map<string, (message: string, channel: string) => void>();
  let connection: Deno.Conn | undefined;
  let ready = false;
  let open = false;
  let closed = false;
  let pending: Pending[] = [];
  let outgoing: Uint8Array[] = [];
  let flushing = false;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;

  function emit(event: Event, error?: Error): void {
    for (const listener of listeners.get(event) ?? []) listener(error!);
  }

  function down(): Error {
    return new Error(closed ? "the redis connection is closed" : "redis is not connected");
  }

  // Queues the commands on `conn` and flushes them in one write (with any queued in the
  // same turn); their replies resolve in order.
  function enqueue(
    conn: Deno.Conn,
    commands: readonly (readonly string[])[],
  ): Promise<RespValue>[] {
    const replies = commands.map(() => {
      const { promise, resolve, reject } = Promise.withResolvers<RespValue>();
      pending.push({ resolve, reject });
      return promise;
    });
    for (const command of commands) outgoing.push(encodeCommand(command));
    if (!flushing) {
      flushing = true;
      queueMicrotask(() => flush(conn));
    }
    return replies;
  }

  async function flush(conn: Deno.Conn): Promise<void> {
    try {
      while (outgoing.length > 0 && conn === connection) {
        const parts = outgoing;
        outgoing = [];
        const bytes = parts.length === 1 ? parts[0] : join(parts);
        for (let done = 0; done < bytes.length;) done += await conn.write(bytes.subarray(done));
      }
    } catch (error) {
      lose(conn, error as Error);
    } finally {
      flushing = false;
      if (outgoing.length > 0 && conn === connection) {
        flushing = true;
        queueMicrotask(() => flush(conn));
      }
    }
  }

  async function read(conn: Deno.Conn): Promise<void> {
    const decoder = new RespDecoder();
    const buffer = new Uint8Array(64 * 1024);
    try {
      for (;;) {
        const n = await conn.read(buffer);
        if (n === null) throw new Error("redis closed the connection");
        for (const reply of decoder.push(buffer.subarray(0, n))) dispatch(reply);
      }
    } catch (error) {
      lose(conn, error as Error);
    }
  }

  function dispatch(reply: RespValue): void {
    // Messages come only on a connection that subscribed (RESP2 allows it no other commands);
    // elsewhere an array that starts with "message" is a reply like any other.
    const subscribed = channels.size > 0 || patterns.size > 0;
    if (subscribed && Array.isArray(reply) && (reply[0] === "message" || reply[0] === "pmessage")) {
      if (reply[0] === "message") channels.get(reply[1] as string)?.(reply[2] as string);
      else patterns.get(reply[1] as string)?.(reply[3] as string, reply[2] as string);
      return;
    }
    const next = pending.shift();
    next?.resolve(reply);
  }

  // The connection `conn` is gone (or failed): everything waiting on it fails, and unless the
  // client is closed, a new one is tried after a pause.
  function lose(conn: Deno.Conn, error: Error): void {
    if (conn !== connection) return;
    connection = undefined;
    try {
      conn.close();
    } catch {
      // already closed
    }
    const wasReady = ready;
    ready = false;
    const failed = pending;
    pending = [];
    outgoing = [];
    const lost = new Error(`the connection to redis was lost (${error.message})`);
    for (const waiting of failed) waiting.reject(lost);
    if (closed) return;
    if (!(error instanceof Deno.errors.BadResource)) emit("error", error);
    if (wasReady) emit("end");
    if (open) schedule(0);
  }

  function schedule(attempt: number): void {
    const wait = attempt === 0 ? 0 : Math.min(100 * 2 ** attempt, RECONNECT_MAX_MS);
    retryTimer = setTimeout(async () => {
      retryTimer = undefined;
      try {
        await attemptConnection();
      } catch (error) {
        if (closed) return;
        emit("error", error as Error);
        schedule(attempt + 1);
      }
    }, wait);
  }

  // One connection attempt: connect, authenticate, select, subscribe again; then ready.
  async function attemptConnection(): Promise<void> {
    const address = { hostname: options.hostname, port: options.port };
    const conn = options.tls ? await Deno.connectTls(address) : await Deno.connect(address);
    if (closed) {
      conn.close();
      throw down();
    }
    connection = conn;
    read(conn);
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
    if (setup.length > 0) {
      const replies = await Promise.all(enqueue(conn, setup));
      const refused = replies.find((reply) => reply instanceof RespError);
      if (refused) {
        lose(conn, refused as RespError);
        throw refused;
      }
    }
    if (conn !== connection) throw new Error("redis closed the connection");
    ready = true;
    emit("ready");
  }

  const client: RedisClient = {
    get isReady() {
      return ready;
    },
    get isOpen() {
      return open && !closed;
    },
    on(event, listener) {
      listeners.set(event, [...listeners.get(event) ?? [], listener]);
      return client;
    },
    async connect() {
      const deadline = Date.now() + (options.connectTimeoutMs ?? 5_000);
      let lastError: Error | undefined;
      for (let attempt = 0; !closed; attempt++) {
        const left = deadline - Date.now();
        if (left <= 0) break;
        const trying = attemptConnection();
        const outcome = await withTimeout(
          trying.then((): true => true, (error: Error) => error),
          left,
        );
        if (outcome === true) {
          open = true;
          return;
        }
        if (outcome === TIMED_OUT) {
          // A connection that comes too late is not kept.
          trying.then(() => client.destroy(), () => {});
          lastError ??= new Error("connection timed out");
          break;
        }
        lastError = outcome;
        if (outcome instanceof RespError) break; // AUTH or SELECT refused: trying again won't help
        const wait = Math.min(100 * 2 ** attempt, RECONNECT_MAX_MS, deadline - Date.now());
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      }
      throw lastError ?? down();
    },
    send(args) {
      if (!ready || !connection) return Promise.reject(down());
      return enqueue(connection, [args])[0].then((reply) => {
        if (reply instanceof RespError) throw reply;
        return reply;
      });
    },
    pipeline(commands) {
      if (!ready || !connection) return Promise.reject(down());
      return Promise.all(enqueue(connection, commands));
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
      const conn = connection;
      const wasReady = ready;
      // Closed first: the server's hanging up after QUIT is no loss to report or repair.
      closed = true;
      open = false;
      ready = false;
      clearTimeout(retryTimer);
      if (wasReady && conn) {
        await withTimeout(enqueue(conn, [["QUIT"]])[0].catch(() => {}), 2_000);
      }
      client.destroy();
    },
    destroy() {
      closed = true;
      open = false;
      ready = false;
      clearTimeout(retryTimer);
      const conn = connection;
      if (conn) lose(conn, new Error("closed"));
    },
  };
  return client;
}

function join(parts: Uint8Array[]): Uint8Array {
  let size = 0;
  for (const part of parts) size += part.length;
  const out = new Uint8Array(size);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
