/**
 * Deep merge of configuration trees.
 *
 * @module
 */

import type { ConfigTree } from "./types.ts";

/**
 * Merges `override` into `base` without changing either: plain objects merge key by key,
 * everything else (arrays, scalars) in `override` replaces what `base` has.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { deepMerge } from "./tree.ts";
 * assert.deepEqual(deepMerge({ log: { level: "WARN" }, api: {} }, { log: { level: "DEBUG" } }), { log: { level: "DEBUG" }, api: {} });
 * ```
 */
export function deepMerge(base: ConfigTree, override: ConfigTree): ConfigTree {
  const out: ConfigTree = { ...base };
  for (const [key, value] of Object.entries(override)) {
    const current = out[key];
    out[key] = isPlainObject(current) && isPlainObject(value) ? deepMerge(current, value) : value;
  }
  return out;
}

/**
 * True for objects that are neither arrays nor null.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { isPlainObject } from "./tree.ts";
 * assert.deepEqual(isPlainObject({}), true);
 * assert.deepEqual(isPlainObject([]), false);
 * ```
 */
export function isPlainObject(value: unknown): value is ConfigTree {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
