import assert from "node:assert/strict";
import { type KvClient, kvLayout, kvStore, type KvWatchSink } from "./kv_store.ts";
import { routeKeys } from "../lib/core/kv_layout.ts";
import type { Route, RouteChange } from "../lib/core/types.ts";

// An in-memory key-value store whose watch reports every change with its value (as etcd's
// does), and whose reads of every route can be held while other writers change it.
function fakeStore() {
  const pairs = new Map<string, string>();
  let sink: KvWatchSink | undefined;
  let hold: Promise<void> | undefined;
  const client: KvClient = {
    provider: "fake",
    async getPrefix(prefix) {
      const snapshot = new Map([...pairs].filter(([key]) => key.startsWith(prefix)));
      if (hold) await hold; // answers with what the store held when the read began
      return snapshot;
    },
    commit(groups) {
      for (const group of groups) {
        for (const key of group.delete) pairs.delete(key), sink?.changed(key, null);
        for (const [key, value] of group.set) pairs.set(key, value), sink?.changed(key, value);
      }
      return Promise.resolve();
    },
    close: () => Promise.resolve(),
    watch(_prefix, watchSink) {
      sink = watchSink;
      return Promise.resolve({ sync: () => Promise.resolve(), close: () => Promise.resolve() });
    },
  };
  return {
    client,
    /** Writes a route behind the store's back (another replica), reported by the watch. */
    writeElsewhere(route: Route) {
      return client.commit([{ set: routeKeys(route, kvLayout({})), delete: [] }]);
    },
    /** Holds every read of the whole table that begins until `release` is called. */
    holdReads() {
      const { promise, resolve } = Promise.withResolvers<void>();
      hold = promise;
      return () => {
        hold = undefined;
        resolve();
      };
    },
    /** The watch lost events: everything must be read again. */
    lose: () => sink!.reset(),
  };
}

const route = (name: string, port = 9000): Route => ({
  routespec: `/user/${name}/`,
  target: `http://127.0.0.1:${port}`,
  data: {},
});

Deno.test("kvStore: changes reported while the table is read again reach a mirror, and nothing is dropped meanwhile", async () => {
  const fake = fakeStore();
  const store = await kvStore(fake.client);
  await store.apply({ set: [route("kept")] });
  const handed: RouteChange[] = [];
  const table = new Map<string, Route>();
  const mirror = await store.mirror({
    apply(change) {
      handed.push(change);
      for (const r of change.set ?? []) table.set(r.routespec, r);
      for (const spec of change.delete ?? []) table.delete(spec);
      return Promise.resolve();
    },
  });
  try {
    assert.deepEqual([...table.keys()], ["/user/kept/"]);
    // The watch loses events: the next pass reads the whole table again; while that read is
    // under way another replica adds a route and moves the kept one (the read misses both).
    const release = fake.holdReads();
    fake.lose();
    await new Promise((resolve) => setTimeout(resolve, 10));
    await fake.writeElsewhere(route("new"));
    await fake.writeElsewhere(route("kept", 9001));
    release();
    const deadline = Date.now() + 2_000;
    while (
      !(table.get("/user/new/") && table.get("/user/kept/")?.target === "http://127.0.0.1:9001")
    ) {
      assert.ok(Date.now() < deadline, `the mirror has ${JSON.stringify([...table.values()])}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const dropped = handed.flatMap((change) => change.delete ?? []);
    assert.deepEqual(dropped, [], "a route changed during the read was never handed as gone");
  } finally {
    await mirror.close();
    await store.close();
  }
});
