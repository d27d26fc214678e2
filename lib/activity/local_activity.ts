/**
 * Activity of one node's routes (the file provider): in memory, and saved in a JSON file beside
 * the routes file when there is one, so that a restarted proxy keeps it. Never in the file
 * traefik watches: writing it would make traefik rebuild its routers.
 *
 * @module
 */

import type { ActivitySink } from "./tracker.ts";

/**
 * Options of `localActivity`.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import type { LocalActivityOptions } from "./local_activity.ts";
 * const options: LocalActivityOptions = { path: "/var/lib/proxy/routes.toml.activity.json" };
 * assert.ok(options.path?.endsWith(".json"));
 * ```
 */
export interface LocalActivityOptions {
  /** The JSON file (`{"<routespec>": "<ISO 8601>"}`); default none: memory only. */
  path?: string;
}

/**
 * The activity sink of one node; reads the file now if it exists.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { localActivity } from "./local_activity.ts";
 * const dir = await Deno.makeTempDir();
 * const path = `${dir}/routes.toml.activity.json`;
 * const sink = localActivity({ path });
 * await sink.raise(new Map([["/user/a/", "2026-01-01T00:01:00.000Z"]]));
 * await sink.raise(new Map([["/user/a/", "2026-01-01T00:00:00.000Z"]])); // earlier: kept as is
 * const reopened = localActivity({ path });
 * assert.deepEqual(await reopened.read(), new Map([["/user/a/", "2026-01-01T00:01:00.000Z"]]));
 * await Deno.remove(dir, { recursive: true });
 * ```
 * @throws {SyntaxError} (from `read`) when the file is not a JSON object of strings.
 */
export function localActivity(options: LocalActivityOptions = {}): ActivitySink {
  const path = options.path;
  let loaded: Promise<Map<string, string>> | undefined;
  let saving: Promise<void> = Promise.resolve();

  function times(): Promise<Map<string, string>> {
    // A failed read is tried again next time (the file may have been fixed or removed).
    loaded ??= load().catch((error) => {
      loaded = undefined;
      throw error;
    });
    return loaded;
  }

  async function load(): Promise<Map<string, string>> {
    if (path === undefined) return new Map();
    let text: string;
    try {
      text = await Deno.readTextFile(path);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return new Map();
      throw error;
    }
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
      throw new SyntaxError(`${path} is not a JSON object of routes' activity; remove it`);
    }
    const map = new Map<string, string>();
    for (const [routespec, time] of Object.entries(parsed)) {
      if (typeof time === "string" && !Number.isNaN(Date.parse(time))) map.set(routespec, time);
    }
    return map;
  }

  function save(map: Map<string, string>): Promise<void> {
    if (path === undefined) return Promise.resolve();
    const text = JSON.stringify(Object.fromEntries(map));
    // A failed save (a full disk) fails its caller, not every later save.
    const save = saving.catch(() => {}).then(async () => {
      const temp = `${path}.${crypto.randomUUID()}.tmp`;
      try {
        await Deno.writeTextFile(temp, text, { mode: 0o600 });
        await Deno.rename(temp, path);
      } catch (error) {
        await Deno.remove(temp).catch(() => {});
        throw error;
      }
    });
    saving = save;
    return save;
  }

  return {
    async read() {
      return new Map(await times());
    },
    async readOne(routespec) {
      return (await times()).get(routespec);
    },
    async raise(updates) {
      const map = await times();
      let changed = false;
      for (const [routespec, time] of updates) {
        const current = map.get(routespec);
        if (current === undefined || Date.parse(current) < Date.parse(time)) {
          map.set(routespec, time);
          changed = true;
        }
      }
      if (changed) await save(map);
    },
    async forget(routespec) {
      const map = await times();
      if (map.delete(routespec)) await save(map);
    },
  };
}
