import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { etcdProviderConfig, packTransactions, prefixEnd } from "./etcd.ts";

Deno.test("packTransactions keeps each route's operations in one transaction of <= 128", () => {
  const groups = Array.from(
    { length: 30 },
    (_, g) => Array.from({ length: 12 }, (_, i) => g * 100 + i),
  );
  const txns = packTransactions(groups);
  assert.ok(txns.every((t) => t.length <= 128));
  assert.deepEqual(txns.flat(), groups.flat());
  for (const group of groups) {
    assert.equal(txns.filter((t) => t.includes(group[0])).length, 1);
    assert.ok(txns.find((t) => t.includes(group[0]))!.includes(group[11]), "not split");
  }
  assert.deepEqual(packTransactions([[1, 2, 3, 4, 5]], 2), [[1, 2], [3, 4], [5]]);
});

Deno.test("etcd endpoints become traefik's provider section", () => {
  assert.deepEqual(
    etcdProviderConfig({ urls: ["http://127.0.0.1:2379"], username: "root", password: "pw" }),
    { endpoints: ["127.0.0.1:2379"], rootKey: "traefik", username: "root", password: "pw" },
  );
});

Deno.test("prefixEnd bounds exactly the keys that start with a prefix", () => {
  assert.equal(prefixEnd(Buffer.from("jupyterhub/routes/")).toString(), "jupyterhub/routes0");
  assert.deepEqual([...prefixEnd(Buffer.from([0x61, 0xff]))], [0x62]);
  assert.deepEqual([...prefixEnd(Buffer.from([0xff]))], [0]);
});
