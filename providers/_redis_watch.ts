/**
 * The redis route watch: keyspace notifications on a second connection, with this process's own
 * commits framed by messages on a channel, and syncs by a barrier message on the same channel.
 *
 * @module
 */

import { TIMED_OUT, withTimeout } from "../lib/async/timeout.ts";
import type { KvDiff } from "../lib/core/kv.ts";
import type { KvWatch, KvWatchSink } from "./kv_store.ts";

export type { KvDiff } from "../lib/core/kv.ts";
export type { ChangedValue, KvWatch, KvWatchSink } from "./kv_store.ts";

/** How long a sync may wait for its barrier message, in ms. */
const SYNC_TIMEOUT_MS = 5_000;

/**
 * The part of a redis connection (`RedisClient`) a subscriber needs.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import type { Subscriber } from "./_redis_watch.ts";
 * // A stand-in that never delivers anything (see `watchRedis` for one that does).
 * const subscriber: Subscriber = {
 *   on: () => subscriber,
 *   connect: () => Promise.resolve(),
 *   pSubscribe: () => Promise.resolve(),
 *   subscribe: () => Promise.resolve(),
 *   quit: () => Promise.resolve(),
 *   destroy() {},
 *   isReady: false,
 *   isOpen: false,
 * };
 * assert.equal(subscriber.isOpen, false);
 * ```
 */
export interface Subscriber {
  /** Adds a listener for a connection error. */
  on(event: "error", listener: (error: Error) => void): unknown;
  /** Adds a listener for a lost (`end`) or (re)established (`ready`) connection. */
  on(event: "end" | "ready", listener: () => void): unknown;
  /** Connects. */
  connect(): Promise<unknown>;
  /** Subscribes to the channels matching `pattern`. */
  pSubscribe(pattern: string, listener: (message: string, channel: string) => void): Promise<void>;
  /** Subscribes to `channel`. */
  subscribe(channel: string, listener: (message: string) => void): Promise<void>;
  /** Disconnects gracefully. */
  quit(): Promise<unknown>;
  /** Disconnects at once. */
  destroy(): void;
  /** Whether the connection is up. */
  readonly isReady: boolean;
  /** Whether the connection is up or being re-established. */
  readonly isOpen: boolean;
}

/**
 * The part of a redis client (`RedisClient`) the watch needs.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import type { PublishingClient, Subscriber } from "./_redis_watch.ts";
 * const published: string[] = [];
 * const client: PublishingClient = {
 *   publish: (channel, message) => Promise.resolve(void published.push(`${channel} ${message}`)),
 *   duplicate: (): Subscriber => {
 *     throw new Error("no subscriber in this example");
 *   },
 * };
 * await client.publish("c", "sync 1");
 * assert.deepEqual(published, ["c sync 1"]);
 * ```
 */
export interface PublishingClient {
  /** Publishes `message` on `channel`. */
  publish(channel: string, message: string): Promise<unknown>;
  /** A second connection with the same options, for subscribing. */
  duplicate(): Subscriber;
}

/**
 * A running redis route watch.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import type { RedisWatch } from "./_redis_watch.ts";
 * // A watch that is down: commits go unmarked, and a sync cannot tell.
 * const watch: RedisWatch = {
 *   mark: () => undefined,
 *   sync: () => Promise.reject(new Error("the redis route watch is down")),
 *   close: () => Promise.resolve(),
 * };
 * assert.equal(watch.mark([{ set: new Map(), delete: ["k"] }]), undefined);
 * await assert.rejects(watch.sync());
 * ```
 */
export interface RedisWatch extends KvWatch {
  /**
   * For a commit of `groups`: the messages to publish first and last in its MULTI, so that the
   * keyspace events between them are known to be this commit's, and `settle`, to call with its
   * outcome. Undefined while the watch is down.
   */
  mark(groups: KvDiff[]):
    | { channel: string; begin: string; end: string; settle(ok: boolean): void }
    | undefined;
}

/**
 * Options of `watchRedis`.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import type { RedisWatchOptions } from "./_redis_watch.ts";
 * const options: RedisWatchOptions = {
 *   prefix: "jupyterhub/routes/",
 *   pattern: "jupyterhub/routes/*",
 *   sink: { changed() {}, reset() {} },
 *   db: 0,
 *   log: console.log,
 * };
 * assert.ok(options.pattern.startsWith(options.prefix));
 * ```
 */
export interface RedisWatchOptions {
  /** The watched key prefix; it names the channel of the commit markers and barriers. */
  prefix: string;
  /** The redis glob matching exactly the keys under `prefix`. */
  pattern: string;
  /** Receives the changes. */
  sink: KvWatchSink;
  /** The database number, whose keyspace channel is watched. */
  db: number;
  /** Receives connection events of the subscriber. */
  log: (message: string) => void;
}

/**
 * Watches the keys under `prefix` through keyspace notifications on a second connection.
 * They carry no values: a key changed by another process marks its record to be read again.
 * This process's own commits are framed by two messages published inside their MULTI, and the
 * events between them are replaced by the values committed. A sync publishes a barrier message
 * on the same connection's channel: redis delivers messages in order, so once it arrives every
 * earlier change has been reported.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { type PublishingClient, type Subscriber, watchRedis } from "./_redis_watch.ts";
 * // An in-process stand-in for a redis client: channel messages only.
 * const channels = new Map<string, (message: string) => void>();
 * const subscriber: Subscriber = {
 *   on: () => subscriber,
 *   connect: () => Promise.resolve(),
 *   pSubscribe: () => Promise.resolve(),
 *   subscribe: (channel, listener) => Promise.resolve(void channels.set(channel, listener)),
 *   quit: () => Promise.resolve(),
 *   destroy() {},
 *   isReady: false,
 *   isOpen: false,
 * };
 * const client: PublishingClient = {
 *   publish: (channel, message) => Promise.resolve(channels.get(channel)?.(message)),
 *   duplicate: () => subscriber,
 * };
 * const watch = await watchRedis(client, {
 *   prefix: "jupyterhub/routes/",
 *   pattern: "jupyterhub/routes/*",
 *   sink: { changed() {}, reset() {} },
 *   db: 0,
 *   log: () => {},
 * });
 * await watch.sync(); // the barrier came back: every earlier change has been reported
 * assert.equal(watch.mark([])?.channel, "jupyterhub-traefik-proxy:jupyterhub/routes/");
 * await watch.close();
 * ```
 * @throws {Error} from `sync()` when the watch is down or its barrier does not come back.
 */
export async function watchRedis(
  client: PublishingClient,
  options: RedisWatchOptions,
): Promise<RedisWatch> {
  const { prefix, sink, log } = options;
  const id = crypto.randomUUID();
  const channel = `jupyterhub-traefik-proxy:${prefix}`;
  const keyspace = `__keyspace@${options.db}__:`;
  let sequence = 0;
  let up = false;
  let ready = false;
  let lastError = "";
  const barriers = new Map<string, () => void>();
  interface Commit {
    groups: KvDiff[];
    ok?: boolean;
    keys?: string[]; // keys reported between its markers, once the end marker came
  }
  const commits = new Map<string, Commit>();
  let framing: { name: string; keys: string[] } | undefined;

  function apply(commit: Commit): void {
    if (commit.ok) {
      for (const group of commit.groups) {
        for (const key of group.delete) sink.changed(key, null);
        for (const [key, value] of group.set) sink.changed(key, value);
      }
    } else {
      for (const key of commit.keys ?? []) sink.changed(key, undefined);
    }
  }

  function lost(): void {
    up = false;
    framing = undefined;
    commits.clear(); // an end marker that still comes marks its keys to be read again
    sink.reset();
  }

  const subscriber = client.duplicate();
  subscriber.on("error", (error: Error) => {
    if (error.message !== lastError) log(`route watch: ${error.message}`);
    lastError = error.message;
    lost();
  });
  subscriber.on("end", lost);
  subscriber.on("ready", () => {
    // After a reconnect, events of the gap are lost: read everything again.
    if (ready) {
      lost();
      up = true; // the client subscribes again before it is ready
    }
    ready = true;
  });
  await subscriber.connect();
  await subscriber.pSubscribe(`${keyspace}${options.pattern}`, (_event, name) => {
    const key = name.slice(keyspace.length);
    if (framing) framing.keys.push(key);
    else sink.changed(key, undefined);
  });
  await subscriber.subscribe(channel, (message) => {
    const [kind, owner, name] = message.split(" ");
    if (owner !== id) return; // another process's barrier or commit
    if (kind === "sync") {
      barriers.get(name)?.();
    } else if (kind === "begin") {
      framing = { name, keys: [] };
    } else if (kind === "end" && framing?.name === name) {
      const commit = commits.get(name);
      const keys = framing.keys;
      framing = undefined;
      if (!commit) {
        for (const key of keys) sink.changed(key, undefined);
        return;
      }
      commit.keys = keys;
      if (commit.ok !== undefined) {
        commits.delete(name);
        apply(commit);
      }
    }
  });
  up = true;

  return {
    mark(groups) {
      if (!up) return undefined;
      const name = String(++sequence);
      const commit: Commit = { groups };
      commits.set(name, commit);
      return {
        channel,
        begin: `begin ${id} ${name}`,
        end: `end ${id} ${name}`,
        settle(ok) {
          commit.ok = ok;
          if (!ok && commit.keys === undefined) {
            // Not executed (or its end marker is still coming): nothing to apply.
            commits.delete(name);
            return;
          }
          if (commit.keys !== undefined) {
            commits.delete(name);
            apply(commit);
          }
        },
      };
    },
    async sync() {
      if (!up) throw new Error("the redis route watch is down");
      const name = String(++sequence);
      const { promise, resolve } = Promise.withResolvers<void>();
      barriers.set(name, resolve);
      try {
        await client.publish(channel, `sync ${id} ${name}`);
        if (await withTimeout(promise, SYNC_TIMEOUT_MS) === TIMED_OUT) {
          throw new Error("the redis route watch did not answer in time");
        }
      } finally {
        barriers.delete(name);
      }
      if (!up) throw new Error("the redis route watch is down");
    },
    async close() {
      up = false;
      if (subscriber.isReady) {
        await withTimeout(subscriber.quit().catch(() => {}), 2_000);
      }
      if (subscriber.isOpen) subscriber.destroy();
    },
  };
}
