import assert from "node:assert/strict";
import { CONSUL_MAX_TXN_OPS, consulTransactions } from "./consul.ts";

const group = (name: string, keys: number, valueBytes = 10) => ({
  set: new Map(
    Array.from(
      { length: keys },
      (_, i) => [`jupyterhub/routes/${name}/k${i}`, "x".repeat(valueBytes)],
    ),
  ),
  delete: [],
});

Deno.test("consulTransactions keeps each route whole, within 64 operations", () => {
  const txns = consulTransactions([group("a", 30), group("b", 30), group("c", 30)]);
  assert.deepEqual(txns.map((txn) => txn.length), [60, 30]);
  for (const txn of txns) assert.ok(txn.length <= CONSUL_MAX_TXN_OPS);
});

Deno.test("consulTransactions stays under consul's request size, splitting only a huge route", () => {
  // Three routes with 64 KiB of data each, written twice (data_json and data/...): 170 KiB each
  // in base64, so two fit in a transaction and the third goes in the next.
  const big = (name: string) => group(name, 2, 64 * 1024);
  const txns = consulTransactions([big("a"), big("b"), big("c")]);
  assert.deepEqual(txns.map((txn) => txn.length), [4, 2]);
  // One route larger than a transaction is split on its own.
  const huge = consulTransactions([group("h", 8, 100 * 1024)]);
  assert.ok(huge.length > 1);
  assert.equal(huge.flat().length, 8);
});
