/**
 * What a provider module contributes to the registry in `mod.ts`: how to open its store, and
 * traefik's static `providers` section that reads it.
 *
 * @module
 */

import type { Store } from "../lib/core/store.ts";
import type { ConfigTree, Route } from "../lib/core/types.ts";
import type { FeedWrites } from "../lib/core/feed_stamp.ts";
import type { EntryTree } from "../lib/core/entry_tree.ts";

export type { Store } from "../lib/core/store.ts";
export type { ConfigTree, JsonValue, Route, RouteChange, RouteData } from "../lib/core/types.ts";

/**
 * What every store is opened with, whatever its provider.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import type { StoreContext } from "./provider.ts";
 * const context: StoreContext = {
 *   entryPoint: "http",
 *   fixed: { http: { middlewares: {} } },
 *   workDir: await Deno.makeTempDir(),
 *   log: console.log,
 *   feed: false,
 * };
 * assert.equal(context.entryPoint, "http");
 * await Deno.remove(context.workDir);
 * ```
 */
export interface StoreContext {
  /** Name of traefik's public entry point that routes attach to. */
  entryPoint: string;
  /** traefik's servers transport every route's service uses (`name@provider`); default none. */
  serversTransport?: string;
  /**
   * The URL traefik reaches a target at, in the files this process renders for traefik (not in
   * a store traefik reads itself); default the target.
   */
  targetUrl?: (target: string) => string;
  /**
   * The dynamic configuration this process writes beside the routes (its API router, TLS
   * certificates, healthz, operator extras).
   */
  fixed: ConfigTree;
  /** A private directory, removed by the caller after `close()`. */
  workDir: string;
  /** Receives notices (skipped entries, lost connections). */
  log: (message: string) => void;
  /**
   * This process starts the traefik that serves the routes: a shared store may feed it from a
   * private file instead of having traefik read the store itself.
   */
  feed: boolean;
  /**
   * With `feed`: hand the routes to traefik's file only when `OpenedStore.startFeed` is called
   * (once traefik runs, with a fallback serving the routes meanwhile), so that a traefik starting
   * on a large table comes up at once instead of after building every router.
   */
  deferFeed?: boolean;
  /**
   * With `feed`: traefik's catch-all router goes to this process's fallback, so the file this
   * process renders for traefik may leave a route's bare path to it (`FileStoreOptions.shortRules`).
   */
  shortRules?: boolean;
  /**
   * With `feed` and `shortRules`: the traefik this process starts has the loopback entry points
   * of this tree, and its catch-all router listens on them too (`FileStoreOptions.tree`).
   */
  tree?: EntryTree;
}

/**
 * What `OpenedStore.startFeed` needs to pace traefik's file.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import type { FeedStartOptions } from "./provider.ts";
 * const options: FeedStartOptions = { applied: () => Promise.resolve(3) };
 * assert.equal(await options.applied(), 3);
 * ```
 */
export interface FeedStartOptions {
  /** The number of the newest write of the file traefik has applied (its feed stamp). */
  applied(): Promise<number | undefined>;
  /** Receives a line when a write of the file fails (it is retried). */
  log?: (message: string) => void;
}

/**
 * An opened store, traefik's static `providers` section that reads it (and the process's fixed
 * configuration), and how to close both.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { fileProvider } from "./file.ts";
 * import type { OpenedStore } from "./provider.ts";
 * const workDir = await Deno.makeTempDir();
 * const opened: OpenedStore = await fileProvider.open({}, {
 *   entryPoint: "http",
 *   fixed: {},
 *   workDir,
 *   log: () => {},
 *   feed: false,
 * });
 * assert.deepEqual(Object.keys(opened.providers), ["file"]);
 * await opened.close();
 * await Deno.remove(workDir, { recursive: true });
 * ```
 */
export interface OpenedStore {
  /** The route store. */
  readonly store: Store;
  /** traefik's static `providers` section, e.g. `{ file: { filename, watch: true } }`. */
  readonly providers: ConfigTree;
  /**
   * The provider traefik knows the routes by (`router@<provider>`): `file` for a traefik fed
   * from a file, else the store's own.
   */
  readonly traefikProvider: string;
  /**
   * Starts handing the routes to traefik's file, when `deferFeed` held it back; resolves once
   * the file holds the whole table. From then on writes go at the pace traefik takes them
   * (`feedPacer`): a change a caller waits on traefik for once traefik has applied the last
   * write, new routes (which the fallback serves meanwhile) after traefik has idled a while.
   * Absent when there is nothing to start.
   */
  startFeed?(options: FeedStartOptions): Promise<void>;
  /**
   * The writes of the file traefik is fed from, each stamped with its number
   * (`feedStampConfig`): traefik's API then tells which one it has applied. Absent when traefik
   * reads the store itself.
   */
  readonly feedWrites?: FeedWrites;
  /**
   * Environment variables traefik needs to read the store (a token it must not find in a
   * file, e.g. `CONSUL_HTTP_TOKEN`). Absent when there are none.
   */
  readonly traefikEnv?: Record<string, string>;
  /**
   * Replaces this process's fixed configuration (`StoreContext.fixed`) in the file traefik reads
   * it from (a renewed certificate); resolves once written.
   */
  setFixed(fixed: ConfigTree): Promise<void>;
  /**
   * Makes traefik load the given routes again and drop the given routespecs' routers (drift):
   * rewrites the file traefik reads (it holds the whole table), or the routes' keys in a store
   * traefik reads itself.
   */
  repair(drift: { set: Route[]; delete: string[] }): Promise<void>;
  /** Waits for pending writes and closes everything `open` opened. */
  close(): Promise<void>;
}

/**
 * A provider as the registry knows it: given its own options (`O`) and the context every store
 * shares, it opens its store.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { memoryStore } from "./memory.ts";
 * import type { StoreProvider } from "./provider.ts";
 * const memoryProvider: StoreProvider<Record<never, never>> = {
 *   open() {
 *     const store = memoryStore();
 *     return Promise.resolve({
 *       store,
 *       providers: {},
 *       traefikProvider: store.provider,
 *       setFixed: () => Promise.resolve(), // no file for traefik here
 *       repair: () => Promise.resolve(),
 *       close: () => store.close(),
 *     });
 *   },
 * };
 * const opened = await memoryProvider.open({}, {
 *   entryPoint: "http",
 *   fixed: {},
 *   workDir: "/nonexistent",
 *   log: () => {},
 *   feed: false,
 * });
 * assert.equal(opened.store.provider, "memory");
 * ```
 */
export interface StoreProvider<O> {
  /**
   * Opens the store described by `options`.
   *
   * @throws {StoreError | ConfigError} when the store cannot be opened; nothing stays open.
   */
  open(options: O, context: StoreContext): Promise<OpenedStore>;
}
