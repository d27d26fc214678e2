/**
 * Flattening of configuration trees into key-value pairs, the way back, and the diff of two
 * flattened trees. This is how traefik reads its configuration from redis, etcd and consul.
 *
 * @module
 */

import { isPlainObject } from "./tree.ts";
import type { ConfigTree } from "./types.ts";

/** The keys to write and the keys to delete to turn one flattened tree into another. */
export interface KvDiff {
  /** Keys whose value is new or changed. */
  set: Map<string, string>;
  /** Keys that are gone. */
  delete: string[];
}

/**
 * Flattens a tree into `prefix/a/b/c = value` pairs: arrays become index keys, booleans
 * `"true"`/`"false"`, numbers their decimal form; `null`, `undefined` and empty objects or
 * arrays produce no key.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { flatten } from "./kv.ts";
 * const tree = { http: { routers: { r: { entryPoints: ["http"] } } } };
 * assert.deepEqual(flatten(tree, "traefik"), new Map([["traefik/http/routers/r/entryPoints/0", "http"]]));
 * ```
 */
export function flatten(tree: ConfigTree, prefix: string): Map<string, string> {
  const out = new Map<string, string>();
  // Depth first with a stack of its own (children pushed last to first, so they come out in
  // order): a deeply nested value cannot exhaust the call stack. Values and keys on two
  // stacks, no pair per node: every route's write flattens its keys.
  const values: unknown[] = [tree];
  const keys: string[] = [prefix];
  while (values.length > 0) {
    const value = values.pop();
    const key = keys.pop()!;
    if (value === null || value === undefined) continue;
    if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) {
        values.push(value[i]);
        keys.push(`${key}/${i}`);
      }
    } else if (isPlainObject(value)) {
      const names = Object.keys(value);
      for (let i = names.length - 1; i >= 0; i--) {
        values.push(value[names[i]]);
        keys.push(key === "" ? names[i] : `${key}/${names[i]}`);
      }
    } else out.set(key, String(value));
  }
  return out;
}

/**
 * Rebuilds a tree from flattened pairs under `prefix`; objects whose keys are exactly
 * `0..n-1` become arrays. Values stay strings. Keys outside `prefix` are ignored.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { unflatten } from "./kv.ts";
 * assert.deepEqual(unflatten(new Map([["traefik/a/0", "x"], ["traefik/b", "y"]]), "traefik"), { a: ["x"], b: "y" });
 * ```
 */
export function unflatten(pairs: Iterable<[string, string]>, prefix: string): ConfigTree {
  const root: ConfigTree = {};
  const start = prefix === "" ? "" : prefix + "/";
  for (const [key, value] of pairs) {
    if (!key.startsWith(start)) continue;
    const parts = key.slice(start.length).split("/");
    let node = root;
    for (let i = 0; i < parts.length - 1; i++) {
      const next = node[parts[i]];
      if (!isPlainObject(next)) node[parts[i]] = {};
      node = node[parts[i]] as ConfigTree;
    }
    const last = parts[parts.length - 1];
    if (!isPlainObject(node[last])) node[last] = value;
  }
  return arrays(root) as ConfigTree;
}

function arrays(value: unknown): unknown {
  if (!isPlainObject(value)) return value;
  const keys = Object.keys(value);
  for (const key of keys) value[key] = arrays(value[key]);
  if (keys.length > 0 && keys.every((k, i) => k === String(i))) return keys.map((k) => value[k]);
  return value;
}

/**
 * The changes that turn flattened `before` into flattened `after`.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { diff } from "./kv.ts";
 * const before = new Map([["a", "1"], ["b", "2"]]);
 * const after = new Map([["a", "1"], ["c", "3"]]);
 * assert.deepEqual(diff(before, after), { set: new Map([["c", "3"]]), delete: ["b"] });
 * ```
 */
export function diff(before: Map<string, string>, after: Map<string, string>): KvDiff {
  const set = new Map<string, string>();
  for (const [key, value] of after) if (before.get(key) !== value) set.set(key, value);
  const deleted: string[] = [];
  for (const key of before.keys()) if (!after.has(key)) deleted.push(key);
  return { set, delete: deleted };
}
