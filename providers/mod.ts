/**
 * The provider registry: where routes live, chosen by `kind`. `openStore` opens the store and
 * says how traefik reads it, so the rest of the proxy never names a provider.
 *
 * The redis, etcd and consul modules are loaded only when a store of theirs is opened: importing
 * this module never loads their clients.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { openStore } from "./mod.ts";
 * const workDir = await Deno.makeTempDir();
 * const opened = await openStore({ kind: "file" }, { workDir });
 * assert.equal(opened.store.provider, "file");
 * await opened.close();
 * await Deno.remove(workDir, { recursive: true });
 * ```
 *
 * @module
 */

import { ConfigError } from "../lib/core/errors.ts";
import type { ConfigTree } from "../lib/core/types.ts";
import type { EntryTree } from "../lib/core/entry_tree.ts";
import type { ConsulStoreOptions } from "./consul.ts";
import type { EtcdStoreOptions } from "./etcd.ts";
import { fileProvider } from "./file.ts";
import type { OpenedStore, StoreContext, StoreProvider } from "./provider.ts";
import type { RedisStoreOptions } from "./redis.ts";

export type { Store } from "../lib/core/store.ts";
export type { ConfigTree, JsonValue, Route, RouteChange, RouteData } from "../lib/core/types.ts";
export type { ConsulStoreOptions } from "./consul.ts";
export type { EtcdStoreOptions } from "./etcd.ts";
export type { FeedStartOptions, OpenedStore, StoreContext, StoreProvider } from "./provider.ts";
export type { RedisStoreOptions } from "./redis.ts";

/**
 * The file provider: routes in one TOML or YAML dynamic-configuration file.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { type FileProviderOptions, openStore } from "./mod.ts";
 * const workDir = await Deno.makeTempDir();
 * const provider: FileProviderOptions = { kind: "file", path: `${workDir}/routes.yaml` };
 * const opened = await openStore(provider, { workDir });
 * assert.deepEqual(opened.providers, { file: { filename: provider.path, watch: true } });
 * await opened.close();
 * await Deno.remove(workDir, { recursive: true });
 * ```
 */
export interface FileProviderOptions {
  /** Provider kind. */
  kind: "file";
  /**
   * Path of the dynamic-configuration file (`*.toml`, `*.yaml`, `*.yml`); kept across
   * restarts. Default: a private file in the work directory.
   */
  path?: string;
}

/**
 * The redis provider (recommended for several nodes).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import type { RedisProviderOptions } from "./mod.ts";
 * const provider: RedisProviderOptions = { kind: "redis", url: "redis://127.0.0.1:6379" };
 * assert.equal(provider.kind, "redis");
 * ```
 */
export interface RedisProviderOptions extends RedisStoreOptions {
  /** Provider kind. */
  kind: "redis";
}

/**
 * The etcd provider.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import type { EtcdProviderOptions } from "./mod.ts";
 * const provider: EtcdProviderOptions = { kind: "etcd", urls: ["http://127.0.0.1:2379"] };
 * assert.equal(provider.kind, "etcd");
 * ```
 */
export interface EtcdProviderOptions extends EtcdStoreOptions {
  /** Provider kind. */
  kind: "etcd";
}

/**
 * The consul provider.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ConsulProviderOptions } from "./mod.ts";
 * const provider: ConsulProviderOptions = { kind: "consul", url: "http://127.0.0.1:8500" };
 * assert.equal(provider.kind, "consul");
 * ```
 */
export interface ConsulProviderOptions extends ConsulStoreOptions {
  /** Provider kind. */
  kind: "consul";
}

/**
 * Where routes live.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ProviderOptions } from "./mod.ts";
 * const providers: ProviderOptions[] = [{ kind: "file" }, { kind: "redis" }, { kind: "etcd" }];
 * assert.equal(providers.length, 3);
 * ```
 */
export type ProviderOptions =
  | FileProviderOptions
  | RedisProviderOptions
  | EtcdProviderOptions
  | ConsulProviderOptions;

type Kind = ProviderOptions["kind"];
type OptionsOf<K extends Kind> = Extract<ProviderOptions, { kind: K }>;

/** Each kind's provider, loaded on first use. */
const REGISTRY: { readonly [K in Kind]: () => Promise<StoreProvider<OptionsOf<K>>> } = {
  file: () => Promise.resolve(fileProvider),
  redis: async () => (await import("./redis.ts")).redisProvider,
  etcd: async () => (await import("./etcd.ts")).etcdProvider,
  consul: async () => (await import("./consul.ts")).consulProvider,
};

/**
 * Options of `openStore`: what every store is opened with, whatever its provider.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { openStore, type OpenStoreOptions } from "./mod.ts";
 * const options: OpenStoreOptions = { workDir: await Deno.makeTempDir(), entryPoint: "web" };
 * const opened = await openStore({ kind: "file" }, options);
 * assert.equal(opened.store.entryPoint, "web");
 * await opened.close();
 * await Deno.remove(options.workDir, { recursive: true });
 * ```
 */
export interface OpenStoreOptions {
  /**
   * A private directory for the store's files (the default routes file, the private file of a
   * shared store); the caller removes it after `close()`.
   */
  workDir: string;
  /** Name of traefik's public entry point that routes attach to; default `http`. */
  entryPoint?: string;
  /** traefik's servers transport every route's service uses (`name@provider`); default none. */
  serversTransport?: string;
  /** The URL traefik reaches a target at, in files rendered for it (`StoreContext`). */
  targetUrl?: (target: string) => string;
  /**
   * The dynamic configuration this process writes beside the routes (its API router, TLS
   * certificates, healthz, operator extras); default none.
   */
  fixed?: ConfigTree;
  /** Receives notices (skipped entries, lost connections). */
  log?: (message: string) => void;
  /**
   * This process starts the traefik that serves the routes, so a shared store may feed it from
   * a private file (see `openSharedStore`); default false: traefik reads the store itself.
   */
  feed?: boolean;
  /** With `feed`: fill traefik's file only at `OpenedStore.startFeed` (see `StoreContext`). */
  deferFeed?: boolean;
  /** With `feed`: short rules in traefik's file (see `StoreContext`); default false. */
  shortRules?: boolean;
  /** With `feed` and `shortRules`: a tree of entry points (see `StoreContext`); default none. */
  tree?: EntryTree;
}

/**
 * Opens the store `provider` describes, and returns it with traefik's static `providers`
 * section that reads it and a `close()` for both. A store that several processes may share
 * (redis, etcd) holds only routes: `fixed` then goes to a private file in `workDir`, which the
 * section names too, so that processes sharing the store never overwrite each other's.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { openStore } from "./mod.ts";
 * const workDir = await Deno.makeTempDir();
 * const opened = await openStore({ kind: "file" }, { workDir, fixed: { tls: { options: {} } } });
 * await opened.store.apply({
 *   set: [{ routespec: "/a/", target: "http://127.0.0.1:9000", data: {} }],
 * });
 * assert.deepEqual(opened.providers, { file: { filename: `${workDir}/rules.toml`, watch: true } });
 * assert.match(await Deno.readTextFile(`${workDir}/rules.toml`), /127\.0\.0\.1:9000/);
 * await opened.close();
 * await Deno.remove(workDir, { recursive: true });
 * ```
 * @throws {ConfigError} for an unknown `kind`, or a file path that is not TOML or YAML.
 * @throws {StoreError} when the store cannot be opened.
 */
export async function openStore(
  provider: ProviderOptions,
  options: OpenStoreOptions,
): Promise<OpenedStore> {
  if (!Object.hasOwn(REGISTRY, provider.kind)) {
    throw new ConfigError(
      `unknown provider ${JSON.stringify(provider.kind)}; use one of ` +
        Object.keys(REGISTRY).join(", "),
    );
  }
  return await open(provider.kind, provider, {
    workDir: options.workDir,
    entryPoint: options.entryPoint ?? "http",
    serversTransport: options.serversTransport,
    targetUrl: options.targetUrl,
    fixed: options.fixed ?? {},
    log: options.log ?? (() => {}),
    feed: options.feed ?? false,
    deferFeed: options.deferFeed ?? false,
    shortRules: options.shortRules ?? false,
    tree: options.tree,
  });
}

// `kind` and `provider` name the same kind: the registry's entry for it takes these options.
async function open<K extends Kind>(
  kind: K,
  provider: OptionsOf<K>,
  context: StoreContext,
): Promise<OpenedStore> {
  const load: () => Promise<StoreProvider<OptionsOf<K>>> = REGISTRY[kind];
  return (await load()).open(provider, context);
}
