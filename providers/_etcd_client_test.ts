import assert from "node:assert/strict";
import { etcdClient, EtcdRequestError } from "./_etcd_client.ts";
import { startEtcd } from "../tests/stores.ts";
import { freePort } from "../tests/helpers.ts";

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
  // A peer that starts HTTP/2 (its SETTINGS), then reads what comes and never answers.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  const reading: Promise<void>[] = [];
  const accepting = (async () => {
    for await (const conn of listener) {
      conns.push(conn);
      reading.push((async () => {
        const buffer = new Uint8Array(4096);
        try {
          await conn.write(new Uint8Array([0, 0, 0, 4, 0, 0, 0, 0, 0])); // an empty SETTINGS
          while (await conn.read(buffer) !== null) { /* never answered */ }
        } catch {
          // closed
        }
      })());
    }
  })();
  const etcd = etcdClient({ urls: [`http://127.0.0.1:${listener.addr.port}`], timeoutMs: 300 });
  try {
    await assert.rejects(etcd.range({ key: "a" }), EtcdRequestError);
    await assert.rejects(etcd.range({ key: "a" }), /did not answer/);
    assert.equal(conns.length, 2, "the second request went on a new connection");
  } finally {
    etcd.close();
    listener.close();
    await accepting.catch(() => {});
    for (const conn of conns) {
      try {
        conn.close();
      } catch {
        // closed by the client
      }
    }
    await Promise.all(reading);
  }
});
