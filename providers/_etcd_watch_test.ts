import assert from "node:assert/strict";
import { type EtcdWatchClient, watchEtcd } from "./_etcd_watch.ts";

Deno.test("watchEtcd: a watch that does not report the fence key's write is established again", async () => {
  let revision = 7;
  let reconnects = 0;
  const client: EtcdWatchClient = {
    // A watch that stays silent: etcd took it, then never reported anything.
    watch(_range, listener) {
      listener.connected();
      return Promise.resolve({
        reconnect: () => void reconnects++,
        cancel: () => Promise.resolve(),
      });
    },
    range: () => Promise.resolve({ pairs: [], more: false, revision }),
    txn: () => Promise.resolve({ ok: true, revision: ++revision }),
  };
  const watch = await watchEtcd(client, "jupyterhub/routes/", { changed() {}, reset() {} });
  try {
    await assert.rejects(watch.sync(), /did not catch up/);
    assert.equal(reconnects, 1);
  } finally {
    await watch.close();
  }
});
