/**
 * Opening a store that several processes may share (redis, etcd), and how this process's
 * traefik reads it.
 *
 * @module
 */

import { runAll } from "../lib/async/run_all.ts";
import type { MirrorTarget, Store } from "../lib/core/store.ts";
import type { ConfigTree, Route } from "../lib/core/types.ts";
import { fileStore, pacedFeed } from "./file.ts";
import type { KvStore } from "./kv_store.ts";
import type { FeedStartOptions, OpenedStore, StoreContext } from "./provider.ts";

/**
 * Opens a shared store. This process's own configuration (`context.fixed`: API router, TLS,
 * healthz) goes to a private file, so that processes sharing one store never overwrite each
 * other's. With `context.feed` (a traefik started by this process) the routes go to that file
 * too, rendered from the watched copy of the store and kept current by its watch
 * (`KvStore.mirror`): traefik's file provider reloads far faster than its redis or etcd
 * provider, which reread the whole store on every change. Otherwise traefik reads both the
 * file and the store itself, through `section`, its static `providers.<store.provider>`
 * section. A store that cannot be watched is read by traefik itself, with a notice.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { openSharedStore } from "./_shared_store.ts";
 * import { memoryStore } from "./memory.ts";
 * const workDir = await Deno.makeTempDir();
 * const opened = await openSharedStore(() => Promise.resolve(memoryStore()), { rootKey: "t" }, {
 *   entryPoint: "http",
 *   fixed: {},
 *   workDir,
 *   log: () => {},
 *   feed: false,
 * });
 * assert.deepEqual(opened.providers, {
 *   file: { filename: `${workDir}/instance.toml`, watch: true },
 *   memory: { rootKey: "t" },
 * });
 * assert.equal(opened.traefikProvider, "memory");
 * await opened.close();
 * await Deno.remove(workDir, { recursive: true });
 * ```
 * @throws {StoreError | ConfigError} when the store or the file cannot be opened; nothing
 *   stays open.
 */
export async function openSharedStore(
  open: () => Promise<Store | KvStore>,
  section: ConfigTree,
  context: StoreContext,
  traefikEnv?: Record<string, string>,
): Promise<OpenedStore> {
  const store = await open();
  const closing: (() => Promise<void>)[] = [() => store.close()];
  try {
    if (context.feed && store.mirror) {
      const file = await fileStore({
        path: `${context.workDir}/routes.toml`,
        entryPoint: context.entryPoint,
        serversTransport: context.serversTransport,
        targetUrl: context.targetUrl,
        fixed: context.fixed,
        records: false, // derived from the store; never read back
        stamp: true,
        shortRules: context.shortRules === true,
        tree: context.shortRules === true ? context.tree : undefined,
      });
      closing.unshift(() => file.close());
      const feed = async (target: MirrorTarget = file) => {
        const mirror = await store.mirror!(target);
        closing.unshift(() => mirror.close());
        return mirror;
      };
      try {
        const opened = {
          store,
          providers: { file: { filename: file.path, watch: true } },
          traefikProvider: file.provider,
          feedWrites: file.written,
          setFixed: (fixed: ConfigTree) => file.setFixed(fixed),
          // The file holds what the store's copy handed it; what traefik lacks goes in again.
          repair: (drift: { set: Route[]; delete: string[] }) => file.apply(drift),
          close: () => runAll(closing),
        };
        if (!context.deferFeed) {
          await feed();
          return opened;
        }
        // The store can be followed (or this throws now, not once traefik runs). Not through
        // `feed`: a closed mirror kept among the closings would keep its copy of the table.
        await (await store.mirror({ apply: () => Promise.resolve() })).close();
        let started: Promise<void> | undefined;
        return {
          ...opened,
          startFeed: (options: FeedStartOptions) =>
            started ??= pacedFeed(store, { fed: file, ...options }).then((feed) => {
              closing.unshift(() => feed.close());
            }),
        };
      } catch (error) {
        context.log(
          `${store.provider}: traefik reads the store itself (${(error as Error).message})`,
        );
        await file.close();
        closing.shift();
        await Deno.remove(file.path).catch(() => {});
      }
    }
    const instance = await fileStore({
      path: `${context.workDir}/instance.toml`,
      entryPoint: context.entryPoint,
      fixed: context.fixed,
    });
    closing.unshift(() => instance.close());
    return {
      store,
      providers: { file: { filename: instance.path, watch: true }, [store.provider]: section },
      traefikProvider: store.provider,
      setFixed: (fixed) => instance.setFixed(fixed),
      repair: (drift) =>
        "rewriteTraefikKeys" in store ? store.rewriteTraefikKeys(drift) : Promise.resolve(),
      ...(traefikEnv ? { traefikEnv } : {}),
      close: () => runAll(closing),
    };
  } catch (error) {
    await runAll(closing);
    throw error;
  }
}
