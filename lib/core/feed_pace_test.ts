import assert from "node:assert/strict";
import { feedWriteDelay, needsTraefik } from "./feed_pace.ts";
import type { Route } from "./types.ts";

const route = (routespec: string, target = "http://127.0.0.1:9000"): Route => ({
  routespec,
  target,
  data: {},
});
const written = new Map(
  ["/user/a/", "/user/b/", "h.example/", "/"].map((spec) => [spec, route(spec)]),
);

Deno.test("needsTraefik: what the fallback cannot serve alone", async (t) => {
  const rows: [string, Parameters<typeof needsTraefik>[0], boolean][] = [
    ["a new route", { set: [route("/user/c/")] }, false],
    ["the same route again", { set: [route("/user/a/")] }, false],
    ["a new target", { set: [route("/user/a/", "http://127.0.0.1:9001")] }, true],
    ["a route under a written one", { set: [route("/user/a/lab/")] }, true],
    ["a route under one set with it", { set: [route("/x/"), route("/x/y/")] }, true],
    ["a route only / captures", { set: [route("/hub/")] }, false],
    ["the root route", { set: [route("/", "http://127.0.0.1:9001")] }, true],
    ["a host route under a written host", { set: [route("h.example/user/")] }, true],
    ["a host route under a written path", { set: [route("h2.example/user/a/")] }, true],
    ["a route on another host", { set: [route("h2.example/")] }, false],
    ["a deletion of a written route", { delete: ["/user/b/"] }, true],
    ["a deletion of a route never written", { delete: ["/user/zz/"] }, false],
    ["nothing", {}, false],
    ["a route under one pending", { set: [route("/p/q/")] }, true],
  ];
  for (const [name, change, expected] of rows) {
    await t.step(
      name,
      () => assert.equal(needsTraefik(change, written, { pending: new Set(["/p/"]) }), expected),
    );
  }
});

Deno.test("feedWriteDelay: traefik idles between deferrable writes, urgent ones go once it applied", () => {
  const base = { now: 10_000, written: true, appliedAt: 9_000, rebuildMs: 2_000, pendingSince: 0 };
  assert.equal(feedWriteDelay({ ...base, urgent: false }), 3_000); // 9,000 + 4,000 - 10,000
  assert.equal(feedWriteDelay({ ...base, urgent: false, idleFactor: 1 }), 1_000);
  assert.equal(feedWriteDelay({ ...base, urgent: false, maxDeferMs: 1_500 }), 500);
  assert.equal(feedWriteDelay({ ...base, urgent: false, now: 20_000 }), 0);
  // New routes after a quiet while still wait, from their arrival.
  assert.equal(
    feedWriteDelay({ ...base, urgent: false, now: 20_000, pendingSince: 19_000 }),
    3_000,
  );
  assert.equal(feedWriteDelay({ ...base, urgent: true }), 0);
  assert.equal(feedWriteDelay({ ...base, urgent: true, appliedAt: undefined }), Infinity);
  assert.equal(feedWriteDelay({ ...base, urgent: false, written: false }), 0);
});
