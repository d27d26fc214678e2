import assert from "node:assert/strict";
import { type KvClient, kvLayout, kvStore, type KvWatchSink } from "./kv_store.ts";
import { routeFromRecord, routeKeys } from "../lib/core/kv_layout.ts";
import type { KvDiff } from "../lib/core/kv.ts";
import type { Route, RouteChange } from "../lib/core/types.ts";

// An in-memory key-value store whose watch reports every change with its value (as etcd's
// does), and whose reads of every route can be held while other writers change it. Keys carry
// the revision of their last change, for `commitUnchanged`; the watch's reports can be held back.
function fakeStore() {
  const pairs = new Map<string, string>();
  const revisions = new Map<string, number>();
  let revision = 0;
  let seen = 0; // the revision up to which the watch has reported
  let sink: KvWatchSink | undefined;
  let hold: Promise<void> | undefined;
  let held: (() => void)[] | undefined; // reports held back
  let syncs = 0;
  let guardsFailed = 0;
  function write(groups: KvDiff[]): void {
    revision++;
    for (const group of groups) {
      for (const key of group.delete) pairs.delete(key), revisions.delete(key);
      for (const [key, value] of group.set) pairs.set(key, value), revisions.set(key, revision);
    }
    const at = revision;
    const report = () => {
      for (const group of groups) {
        for (const key of group.delete) sink?.changed(key, null);
        for (const [key, value] of group.set) sink?.changed(key, value);
      }
      seen = at;
    };
    if (held) held.push(report);
    else report();
  }
  const client: KvClient = {
    provider: "fake",
    async getPrefix(prefix) {
      const snapshot = new Map([...pairs].filter(([key]) => key.startsWith(prefix)));
      if (hold) await hold; // answers with what the store held when the read began
      return snapshot;
    },
    commit(groups) {
      write(groups);
      return Promise.resolve();
    },
    commitUnchanged(records, since) {
      if (since === undefined) return Promise.resolve(records.map(() => false));
      return Promise.resolve(records.map(({ diff, guarded }) => {
        const changed = [...revisions].some(([key, at]) => key.startsWith(guarded) && at > since);
        if (changed) guardsFailed++;
        else write([diff]);
        return !changed;
      }));
    },
    close: () => Promise.resolve(),
    watch(_prefix, watchSink) {
      sink = watchSink;
      return Promise.resolve({
        sync: () => (syncs++, Promise.resolve()),
        close: () => Promise.resolve(),
        get revision() {
          return seen;
        },
      });
    },
  };
  return {
    client,
    pairs,
    /** Writes a route behind the store's back (another replica), reported by the watch. */
    writeElsewhere(route: Route) {
      return client.commit([{ set: routeKeys(route, kvLayout({})), delete: [] }]);
    },
    /** Writes a route behind the store's back, reported without values (as redis does). */
    writeUnvalued(route: Route) {
      revision++;
      for (const [key, value] of routeKeys(route, kvLayout({}))) {
        pairs.set(key, value);
        revisions.set(key, revision);
        sink?.changed(key, undefined);
      }
    },
    /** Holds the watch's reports back until the returned function is called. */
    holdReports() {
      held = [];
      return () => {
        const reports = held ?? [];
        held = undefined;
        for (const report of reports) report();
      };
    },
    /** How many writes `commitUnchanged` refused. */
    get guardsFailed() {
      return guardsFailed;
    },
    /** How many times the watch was synced. */
    get syncs() {
      return syncs;
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

/** A mirror target that keeps the table it is handed, and every change. */
function mirrorTable() {
  const table = new Map<string, Route>();
  const handed: RouteChange[] = [];
  return {
    table,
    handed,
    apply(change: RouteChange) {
      handed.push(change);
      for (const r of change.set ?? []) table.set(r.routespec, r);
      for (const spec of change.delete ?? []) table.delete(spec);
      return Promise.resolve();
    },
    /** Waits until `done` holds, 2 s at most. */
    async until(done: () => boolean) {
      const deadline = Date.now() + 2_000;
      while (!done()) {
        assert.ok(Date.now() < deadline, `the mirror has ${JSON.stringify([...table.values()])}`);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    },
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
  const target = mirrorTable();
  const { table, handed } = target;
  const mirror = await store.mirror(target);
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
    await target.until(() =>
      table.get("/user/new/") !== undefined &&
      table.get("/user/kept/")?.target === "http://127.0.0.1:9001"
    );
    const dropped = handed.flatMap((change) => change.delete ?? []);
    assert.deepEqual(dropped, [], "a route changed during the read was never handed as gone");
  } finally {
    await mirror.close();
    await store.close();
  }
});

Deno.test("kvStore: a mirror passes changes that came with their values on without a round trip to the store, and reads those that came without", async () => {
  const fake = fakeStore();
  const store = await kvStore(fake.client);
  const target = mirrorTable();
  const { table, until } = target;
  const mirror = await store.mirror(target);
  try {
    const before = fake.syncs;
    await store.apply({ set: [route("own")] });
    await store.apply({ set: [route("own", 9001)] });
    await until(() => table.get("/user/own/")?.target === "http://127.0.0.1:9001");
    assert.equal(fake.syncs, before, "the watch's values were enough");
    fake.writeUnvalued(route("other"));
    await until(() => table.has("/user/other/"));
    assert.ok(fake.syncs > before, "a change without values was read from the store");
  } finally {
    await mirror.close();
    await store.close();
  }
});

Deno.test("kvStore: a write from the watched copy never overwrites a change the copy has not seen yet", async () => {
  const fake = fakeStore();
  const store = await kvStore(fake.client);
  const layout = kvLayout({});
  const record = "jupyterhub/routes/router__2Fuser_2Fa_2F";
  const stored = () => new Map([...fake.pairs].filter(([key]) => key.startsWith(`${record}/`)));
  try {
    await store.apply({ set: [{ ...route("a"), data: { user: "a" } }] });
    await store.getAllRoutes(); // the copy is loaded
    // Another replica changes the route (new data key); the watch has not reported it yet.
    const release = fake.holdReports();
    await fake.writeElsewhere({ ...route("a", 9001), data: { user: "a", extra: 1 } });
    // Written from the copy, this would keep the data key the copy does not know.
    await store.apply({ set: [{ ...route("a", 9002), data: {} }] });
    release();
    const expected = routeKeys({ ...route("a", 9002), data: {} }, layout);
    assert.deepEqual(
      stored(),
      new Map([...expected].filter(([key]) => key.startsWith(`${record}/`))),
    );
    assert.deepEqual(routeFromRecord(stored(), record)?.data, {});
    assert.equal(fake.guardsFailed, 1, "the condition saw the other replica's change");
    // With the copy current, the next write needs no read and keeps the record exact.
    await store.getAllRoutes();
    await store.apply({ set: [{ ...route("a", 9003), data: { user: "b" } }] });
    assert.equal(fake.guardsFailed, 1);
    assert.deepEqual(routeFromRecord(stored(), record)?.data, { user: "b" });
    assert.equal(stored().get(`${record}/target`), "http://127.0.0.1:9003");
  } finally {
    await store.close();
  }
});

Deno.test("kvStore: a route that cannot be written is refused before its batch, which still goes out", async () => {
  const fake = fakeStore();
  const store = await kvStore(fake.client);
  try {
    const bad = { ...route("bad"), routespec: "/user/%ZZ/" }; // its path does not decode
    const [refused, written] = await Promise.allSettled([
      store.apply({ set: [bad] }),
      store.apply({ set: [route("good")] }),
    ]);
    assert.equal(refused.status, "rejected");
    assert.equal(written.status, "fulfilled");
    assert.deepEqual([...(await store.getAllRoutes()).keys()], ["/user/good/"]);
  } finally {
    await store.close();
  }
});

Deno.test("kvStore: a mirror hands a target only the routes it wants, and one that stops being wanted as gone", async () => {
  const fake = fakeStore();
  const store = await kvStore(fake.client);
  await store.apply({ set: [route("a", 9001), route("b", 9002)] });
  const target = { ...mirrorTable(), wants: (r: Route) => r.target.endsWith("1") };
  const { table, handed, until } = target;
  const mirror = await store.mirror(target);
  try {
    // The first pass: the whole table, the wanted part of it.
    assert.deepEqual([...table.keys()], ["/user/a/"]);
    // Wanted from now on: handed on; no longer wanted: handed on as gone; never wanted: nothing.
    await store.apply({ set: [route("b", 9011), route("a", 9000)] });
    await until(() => table.has("/user/b/") && !table.has("/user/a/"));
    const count = handed.length;
    await store.apply({ set: [route("c", 9002)] });
    await store.apply({ delete: ["/user/c/"] });
    await store.apply({ set: [route("d", 9021)] });
    await until(() => table.has("/user/d/"));
    const later = handed.slice(count);
    assert.deepEqual(later.flatMap((change) => change.delete ?? []), []);
    assert.deepEqual(later.flatMap((change) => (change.set ?? []).map((r) => r.routespec)), [
      "/user/d/",
    ]);
    // After a reset (the whole table again), the same.
    fake.lose();
    await store.apply({ set: [route("e", 9031)] });
    await until(() => table.has("/user/e/"));
    assert.deepEqual([...table.keys()].sort(), ["/user/b/", "/user/d/", "/user/e/"]);
  } finally {
    await mirror.close();
    await store.close();
  }
});
