import assert from "node:assert/strict";
import { feedPacer } from "./feed_pacer.ts";
import type { FeedWrite } from "../core/feed_stamp.ts";
import type { Route, RouteChange } from "../core/types.ts";

const route = (routespec: string, target = "http://127.0.0.1:9000"): Route => ({
  routespec,
  target,
  data: {},
});
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A fed file and a traefik that applies each write `rebuildMs` after it was made. */
function fakeFeed(options: { rebuildMs: number; failures?: number }) {
  let listener = (_: FeedWrite) => {};
  let failures = options.failures ?? 0;
  const table = new Map<string, Route>();
  const writes: { at: number; change: RouteChange }[] = [];
  return {
    writes,
    target: {
      apply(change: RouteChange) {
        if (failures-- > 0) return Promise.reject(new Error("disk full"));
        for (const r of change.set ?? []) table.set(r.routespec, r);
        for (const spec of change.delete ?? []) table.delete(spec);
        writes.push({ at: Date.now(), change });
        listener({ write: writes.length, table: new Map(table) });
        return Promise.resolve();
      },
    },
    feed: {
      writes: {
        subscribe(l: (write: FeedWrite) => void) {
          listener = l;
          return () => listener = () => {};
        },
      },
      applied() {
        const now = Date.now();
        return Promise.resolve(writes.filter((w) => w.at + options.rebuildMs <= now).length);
      },
      pollMs: 5,
    },
  };
}

Deno.test("feedPacer writes the first change before apply resolves", async () => {
  const fake = fakeFeed({ rebuildMs: 0 });
  const pacer = feedPacer(fake.target, fake.feed);
  await pacer.apply({ set: [route("/user/a/")] });
  assert.equal(fake.writes.length, 1);
  await pacer.close();
});

Deno.test("feedPacer lets traefik idle twice its rebuild before new routes, and writes them together", async () => {
  const fake = fakeFeed({ rebuildMs: 100 });
  const pacer = feedPacer(fake.target, fake.feed);
  try {
    await pacer.apply({ set: [route("/user/a/")] });
    for (const user of ["b", "c", "d"]) {
      await pacer.apply({ set: [route(`/user/${user}/`)] }); // taken at once
      await sleep(20);
    }
    assert.equal(pacer.pending, 3);
    await sleep(400); // applied after ~100 ms, then 2 x ~100 ms idle
    assert.equal(fake.writes.length, 2);
    const gap = fake.writes[1].at - fake.writes[0].at;
    assert.ok(gap >= 280, `the second write came ${gap} ms after the first`);
    assert.deepEqual(fake.writes[1].change.set?.map((r) => r.routespec), [
      "/user/b/",
      "/user/c/",
      "/user/d/",
    ]);
  } finally {
    await pacer.close();
  }
});

Deno.test("feedPacer writes a deletion as soon as traefik applied the last write", async () => {
  const fake = fakeFeed({ rebuildMs: 100 });
  const pacer = feedPacer(fake.target, { ...fake.feed, maxDeferMs: 10_000 });
  try {
    await pacer.apply({ set: [route("/user/a/"), route("/user/b/")] });
    await pacer.apply({ delete: ["/user/a/"] });
    await pacer.apply({ set: [route("/user/c/")] }); // rides along
    await sleep(250);
    assert.equal(fake.writes.length, 2);
    const gap = fake.writes[1].at - fake.writes[0].at;
    assert.ok(gap >= 95 && gap < 200, `the deletion was written ${gap} ms after the first write`);
    assert.deepEqual(fake.writes[1].change, { set: [route("/user/c/")], delete: ["/user/a/"] });
  } finally {
    await pacer.close();
  }
});

Deno.test("feedPacer retries a failed write with what arrived since", async () => {
  const fake = fakeFeed({ rebuildMs: 0, failures: 1 });
  const lines: string[] = [];
  const pacer = feedPacer(fake.target, {
    ...fake.feed,
    retryMs: 50,
    log: (line) => lines.push(line),
  });
  try {
    await assert.rejects(pacer.apply({ set: [route("/user/a/")] }), /could not be written/);
    await pacer.apply({ set: [route("/user/b/")] });
    await sleep(150);
    assert.equal(fake.writes.length, 1);
    assert.deepEqual(fake.writes[0].change.set?.map((r) => r.routespec), ["/user/a/", "/user/b/"]);
    assert.match(lines[0], /disk full; retrying/);
  } finally {
    await pacer.close();
  }
});

Deno.test("feedPacer writes after traefik's apply timeout when its stamp never moves", async () => {
  const fake = fakeFeed({ rebuildMs: 0 });
  const pacer = feedPacer(fake.target, {
    ...fake.feed,
    applied: () => Promise.resolve(undefined),
    appliedTimeoutMs: 80,
    idleFactor: 0,
  });
  try {
    await pacer.apply({ set: [route("/user/a/")] });
    await pacer.apply({ delete: ["/user/a/"] });
    await sleep(40);
    assert.equal(fake.writes.length, 1, "waits for traefik");
    await sleep(120);
    assert.equal(fake.writes.length, 2);
  } finally {
    await pacer.close();
  }
});

Deno.test("feedPacer writes a route inside a pending one without the idle wait", async () => {
  const fake = fakeFeed({ rebuildMs: 50 });
  const pacer = feedPacer(fake.target, { ...fake.feed, maxDeferMs: 10_000, idleFactor: 20 });
  try {
    await pacer.apply({ set: [route("/user/b/")] });
    await sleep(80); // applied: a deferred route would now wait 20 x 50 ms
    await pacer.apply({ set: [route("/user/a/")] });
    await pacer.apply({ set: [route("/user/a/lab/")] }); // waits on traefik in the fallback
    await sleep(60);
    assert.equal(fake.writes.length, 2);
    assert.deepEqual(fake.writes[1].change.set?.map((r) => r.routespec), [
      "/user/a/",
      "/user/a/lab/",
    ]);
  } finally {
    await pacer.close();
  }
});
