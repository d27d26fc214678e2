import assert from "node:assert/strict";
import { type ActivitySink, activityTracker } from "./tracker.ts";
import { localActivity } from "./local_activity.ts";

Deno.test("activityTracker writes marks in batches and never moves a route back", async () => {
  let clock = Date.parse("2026-01-01T00:00:00Z");
  const sink = localActivity();
  const tracker = activityTracker({ sink, now: () => clock, intervalMs: 3_600_000 });
  try {
    tracker.seen("/user/a/");
    clock += 1_000;
    tracker.seen("/user/b/");
    assert.deepEqual(await sink.read(), new Map(), "nothing written before the interval");
    await tracker.flush();
    assert.equal(tracker.written, 2);
    assert.deepEqual(
      await sink.read(),
      new Map([["/user/a/", "2026-01-01T00:00:00.000Z"], ["/user/b/", "2026-01-01T00:00:01.000Z"]]),
    );
    // Another replica wrote a later time: an earlier mark does not lower it.
    await sink.raise(new Map([["/user/a/", "2026-01-01T01:00:00.000Z"]]));
    clock += 1_000;
    tracker.seen("/user/a/");
    assert.equal((await tracker.lastActivity()).get("/user/a/"), "2026-01-01T01:00:00.000Z");
    await tracker.flush();
    assert.equal((await sink.read()).get("/user/a/"), "2026-01-01T01:00:00.000Z");
  } finally {
    await tracker.close();
  }
});

Deno.test("activityTracker keeps the marks of a failed write for the next one", async () => {
  const times = new Map<string, string>();
  let failing = true;
  const sink: ActivitySink = {
    read: () => Promise.resolve(new Map(times)),
    readOne: (routespec) => Promise.resolve(times.get(routespec)),
    raise(updates) {
      if (failing) return Promise.reject(new Error("the store is down"));
      for (const [routespec, time] of updates) times.set(routespec, time);
      return Promise.resolve();
    },
    forget: (routespec) => Promise.resolve(void times.delete(routespec)),
  };
  const logged: string[] = [];
  const tracker = activityTracker({
    sink,
    now: () => 0,
    intervalMs: 3_600_000,
    log: (m) => logged.push(m),
  });
  try {
    tracker.seen("/user/a/");
    await tracker.flush();
    assert.equal(times.size, 0);
    assert.match(logged[0], /could not write routes' activity \(kept for the next write\)/);
    failing = false;
    await tracker.flush();
    assert.deepEqual(times, new Map([["/user/a/", "1970-01-01T00:00:00.000Z"]]));
    await tracker.forget("/user/a/");
    assert.equal(times.size, 0);
  } finally {
    await tracker.close();
  }
});

Deno.test("activityTracker writes its last marks when it closes", async () => {
  const sink = localActivity();
  const tracker = activityTracker({ sink, now: () => 5_000, intervalMs: 3_600_000 });
  tracker.seen("/user/a/");
  await tracker.close();
  tracker.seen("/user/b/"); // after close: ignored
  assert.deepEqual([...(await sink.read()).keys()], ["/user/a/"]);
});

Deno.test("activityTracker writes no marks of deleted routes and drops their stored activity", async () => {
  const sink = localActivity();
  await sink.raise(new Map([["/user/gone-long-ago/", "2026-01-01T00:00:00.000Z"]]));
  const table = new Set(["/user/a/"]);
  const tracker = activityTracker({
    sink,
    now: () => 0,
    intervalMs: 3_600_000,
    table: () => Promise.resolve(table),
  });
  try {
    tracker.seen("/user/a/");
    tracker.seen("/user/deleted/"); // a websocket still open on a deleted route
    await tracker.flush();
    assert.deepEqual(
      [...(await sink.read()).keys()].sort(),
      ["/user/a/", "/user/gone-long-ago/"],
    );
    // Every 60th write sweeps what is gone.
    for (let i = 0; i < 59; i++) {
      tracker.seen("/user/a/");
      await tracker.flush();
    }
    assert.deepEqual([...(await sink.read()).keys()], ["/user/a/"]);
  } finally {
    await tracker.close();
  }
});

Deno.test("activityTracker answers the marks being written", async () => {
  const stored = new Map<string, string>();
  let release!: () => void;
  const sink: ActivitySink = {
    read: () => Promise.resolve(new Map(stored)),
    readOne: (routespec) => Promise.resolve(stored.get(routespec)),
    async raise(updates) {
      await new Promise<void>((resolve) => release = resolve);
      for (const [routespec, time] of updates) stored.set(routespec, time);
    },
    forget: () => Promise.resolve(),
  };
  const tracker = activityTracker({ sink, now: () => 1_000, intervalMs: 3_600_000 });
  tracker.seen("/user/a/");
  const writing = tracker.flush();
  await new Promise((resolve) => setTimeout(resolve, 10)); // the write is under way
  assert.equal(await tracker.lastActivityOf("/user/a/"), "1970-01-01T00:00:01.000Z");
  assert.equal((await tracker.lastActivity()).get("/user/a/"), "1970-01-01T00:00:01.000Z");
  release();
  await writing;
  await tracker.close();
});
