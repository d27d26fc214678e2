import assert from "node:assert/strict";
import { routeCache } from "./route_cache.ts";
import { routeKeys } from "./kv_layout.ts";
import type { Route } from "./types.ts";

const LAYOUT = { traefikPrefix: "traefik", jupyterhubPrefix: "jupyterhub", entryPoint: "http" };

function keys(...routes: Route[]): Map<string, string> {
  return new Map(routes.flatMap((route) => [...routeKeys(route, LAYOUT)]));
}

const A: Route = { routespec: "/a/", target: "http://h:1", data: { n: 1 } };
const B: Route = { routespec: "/b/", target: "http://h:2", data: { user: "b" } };
const REC_A = "jupyterhub/routes/router__2Fa_2F";

function loaded(...routes: Route[]) {
  const cache = routeCache(LAYOUT);
  assert.equal(cache.load(keys(...routes), cache.beginRead()), true);
  return cache;
}

Deno.test("route cache: a full load gives the routes; traefik keys are ignored", () => {
  const cache = loaded(A, B);
  assert.equal(cache.loaded, true);
  assert.deepEqual(cache.routes(), new Map([["/a/", A], ["/b/", B]]));
  assert.deepEqual(cache.record(REC_A), A);
});

Deno.test("route cache: changes with values are applied at once, deletions remove routes", () => {
  const cache = loaded(A);
  for (const [key, value] of keys(B)) cache.changed(key, value);
  cache.changed(`${REC_A}/target`, "http://h:9");
  assert.equal(cache.routes().get("/a/")?.target, "http://h:9");
  assert.deepEqual(cache.routes().get("/b/"), B);
  for (const key of keys(A).keys()) cache.changed(key, null);
  assert.deepEqual([...cache.routes().keys()], ["/b/"]);
  assert.equal(cache.dirty.size, 0);
});

Deno.test("route cache: a change without its value marks the record dirty until it is read", () => {
  const cache = loaded(A);
  cache.changed(`${REC_A}/target`, undefined);
  assert.deepEqual([...cache.dirty], [REC_A]);
  const changed = { ...A, target: "http://h:7" };
  cache.loadRecords([REC_A], keys(changed), cache.beginRead());
  assert.equal(cache.dirty.size, 0);
  assert.deepEqual(cache.routes().get("/a/"), changed);
  // A record read back empty is gone.
  cache.changed(`${REC_A}/target`, undefined);
  cache.loadRecords([REC_A], new Map(), cache.beginRead());
  assert.equal(cache.routes().size, 0);
});

Deno.test("route cache: a change during a read leaves its record dirty (the read may predate it)", () => {
  const cache = routeCache(LAYOUT);
  const ticket = cache.beginRead();
  cache.changed(`${REC_A}/target`, "http://h:5"); // arrives while the read is under way
  cache.load(keys(A), ticket);
  assert.deepEqual([...cache.dirty], [REC_A]);
});

Deno.test("route cache: a reset voids the table and any read under way", () => {
  const cache = loaded(A);
  const ticket = cache.beginRead();
  cache.reset();
  assert.equal(cache.loaded, false);
  assert.equal(cache.load(keys(A, B), ticket), false);
  assert.equal(cache.loaded, false);
  assert.equal(cache.routes().size, 0);
});

Deno.test("route cache: keys outside the routes and fields a route does not need are ignored", () => {
  const cache = loaded(A);
  cache.changed("traefik/http/routers/x/rule", undefined);
  cache.changed("jupyterhub/other/x", "1");
  cache.changed(`${REC_A}/router`, "anything");
  assert.equal(cache.dirty.size, 0);
  assert.deepEqual(cache.routes().get("/a/"), A);
});
