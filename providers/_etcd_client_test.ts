import assert from "node:assert/strict";
import { etcdClient, EtcdRequestError } from "./_etcd_client.ts";
import { startEtcd } from "../tests/stores.ts";
import { freePort, silentServer } from "../tests/helpers.ts";
import { fakeHttp2Server, goAway, within } from "../tests/http2_peer.ts";
import { FRAME } from "../lib/net/_http2_frame.ts";

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

Deno.test("etcd client: an endpoint that goes away before processing is tried twice, then the next", async () => {
  const server = await startEtcd();
  const leaving = fakeHttp2Server({ handshake: true });
  const etcd = etcdClient({ urls: [`http://127.0.0.1:${leaving.port}`, server.url] });
  // Each connection to the first endpoint is sent away once its first request arrives.
  const refuse = (async () => {
    for (let i = 0; i < 2; i++) {
      const peer = await leaving.peer(i);
      await peer.next(FRAME.HEADERS, 1);
      await peer.send(goAway(0));
    }
  })();
  try {
    assert.equal((await within(etcd.txn([{ put: { key: "k", value: "v" } }]), 10_000)).ok, true);
    await refuse;
    assert.equal(leaving.peers.length, 2, "one retry on a new connection, not more");
    const read = await etcd.range({ key: "k" });
    assert.deepEqual(read.pairs.map(({ key, value }) => [key, value]), [["k", "v"]]);
  } finally {
    etcd.close();
    await leaving.close();
    await server.stop();
  }
});
