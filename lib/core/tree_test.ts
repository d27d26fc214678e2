import assert from "node:assert/strict";
import { deepMerge } from "./tree.ts";

Deno.test("deepMerge merges objects and replaces arrays and scalars", () => {
  const base = { a: { b: 1, c: [1, 2] }, d: "x" };
  const merged = deepMerge(base, { a: { c: [3], e: true }, d: "y" });
  assert.deepEqual(merged, { a: { b: 1, c: [3], e: true }, d: "y" });
  assert.deepEqual(base, { a: { b: 1, c: [1, 2] }, d: "x" }, "inputs unchanged");
});
