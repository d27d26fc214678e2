/**
 * Opening a store that several processes may share (redis, etcd).
 *
 * @module
 */

import { runAll } from "../lib/async/run_all.ts";
import type { Store } from "../lib/core/store.ts";
import type { ConfigTree } from "../lib/core/types.ts";
import { fileStore } from "./file.ts";
import type { OpenedStore, StoreContext } from "./provider.ts";

/**
 * Opens a shared store and, beside it, a private file for this process's own configuration
 * (`context.fixed`: API router, TLS, healthz), so that processes sharing one store never
 * overwrite each other's. traefik reads both: the file, and the store through `section`, its
 * static `providers.<store.provider>` section.
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
 * });
 * assert.deepEqual(opened.providers, {
 *   file: { filename: `${workDir}/instance.toml`, watch: true },
 *   memory: { rootKey: "t" },
 * });
 * await opened.close();
 * await Deno.remove(workDir, { recursive: true });
 * ```
 * @throws {StoreError | ConfigError} when the store or the file cannot be opened; nothing
 *   stays open.
 */
export async function openSharedStore(
  open: () => Promise<Store>,
  section: ConfigTree,
  context: StoreContext,
): Promise<OpenedStore> {
  const store = await open();
  try {
    const instance = await fileStore({
      path: `${context.workDir}/instance.toml`,
      entryPoint: context.entryPoint,
      fixed: context.fixed,
    });
    return {
      store,
      providers: { file: { filename: instance.path, watch: true }, [store.provider]: section },
      close: () => runAll([() => instance.close(), () => store.close()]),
    };
  } catch (error) {
    await store.close().catch(() => {});
    throw error;
  }
}
