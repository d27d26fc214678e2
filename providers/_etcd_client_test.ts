import assert from "node:assert/strict";
import { etcdClient, EtcdRequestError } from "./_etcd_client.ts";
import { startEtcd } from "../tests/stores.ts";
import { freePort, silentServer } from "../tests/helpers.ts";

Deno.test("etcd client: a request that cannot connect to one endpoint goes to the next", async () => {
  const server = await startEtcd();
  const nowhere = `http://127.0.0.1:${freePort()}`; // nothing listens there
  const etcd = etcdClient({ urls: [nowhere, server.url] });
  try {
    assert.equal((await etcd.txn([{ put: { key: "k", value: "v" } }])).ok, true);
    const read = await etcd.range({ key: "k" });
    assert.deepEqual(read.pairs.map(({ key, value }) => [key, value]), [["k", "v"]]);
  } finally {
    etcd.close();
    await server.stop();
  }
});

Deno.test("etcd client: a connection that stops answering is dropped after the timeout", async () => {
  // A peer that starts HTTP/2 (an empty SETTINGS), then never answers.
  const peer = silentServer({ greeting: new Uint8Array([0, 0, 0, 4, 0, 0, 0, 0, 0]) });
  const etcd = etcdClient({ urls: [`http://127.0.0.1:${peer.port}`], timeoutMs: 300 });
  try {
    await assert.rejects(etcd.range({ key: "a" }), EtcdRequestError);
    await assert.rejects(etcd.range({ key: "a" }), /did not answer/);
    assert.equal(peer.accepted.length, 2, "the second request went on a new connection");
  } finally {
    etcd.close();
    await peer.close();
  }
});
