import assert from "node:assert/strict";
import { routeIndex, routespecPrefixes } from "./route_index.ts";
import type { Route } from "./types.ts";

const route = (routespec: string, target = `http://127.0.0.1:9000${routespec}`): Route => ({
  routespec,
  target,
  data: {},
});

function indexOf(...specs: string[]) {
  const index = routeIndex();
  index.apply({ set: specs.map((spec) => route(spec)) });
  return index;
}

Deno.test("match: the longest whole-segment prefix wins", () => {
  const index = indexOf("/", "/user/", "/user/alice/", "/user/alice/lab/");
  const cases: [string, string | undefined][] = [
    ["/", "/"],
    ["/hub/login", "/"],
    ["/user", "/user/"],
    ["/user/", "/user/"],
    ["/user/bob", "/user/"],
    ["/user/alice", "/user/alice/"],
    ["/user/alice/", "/user/alice/"],
    ["/user/alice/tree/x", "/user/alice/"],
    ["/user/alicex", "/user/"],
    ["/user/alice/lab", "/user/alice/lab/"],
    ["/user/alice/labx/y", "/user/alice/"],
  ];
  for (const [path, want] of cases) {
    assert.equal(index.match({ path })?.routespec, want, path);
  }
});

Deno.test("match: every spelling of a reserved character is the same path", () => {
  const index = indexOf("/user/a%24b/", "/user/c%2Fd/", "/user/%C3%A9/");
  assert.equal(index.match({ path: "/user/a$b/x" })?.routespec, "/user/a%24b/");
  assert.equal(index.match({ path: "/user/a%24b" })?.routespec, "/user/a%24b/");
  assert.equal(index.match({ path: "/user/a%24B" }), undefined); // "B" is not "b"
  assert.equal(index.match({ path: "/user/%61%24b/" })?.routespec, "/user/a%24b/");
  // An encoded slash stays inside its segment.
  assert.equal(index.match({ path: "/user/c%2Fd/api" })?.routespec, "/user/c%2Fd/");
  assert.equal(index.match({ path: "/user/c/d/api" }), undefined);
  // traefik passes "%2f" on as "%2F" (tests/fallback_test.ts): one encoded slash either way.
  assert.equal(index.match({ path: "/user/c%2fd/api" })?.routespec, "/user/c%2Fd/");
  assert.equal(index.match({ path: "/user/%c3%a9/" })?.routespec, "/user/%C3%A9/");
  // An invalid segment ends the match at the segment before it.
  assert.equal(index.match({ path: "/user/%zz/a%24b/" }), undefined);
});

Deno.test("match: host routes by priority, as traefik orders them", () => {
  const index = indexOf("/", "h.example/", "h.example/user/a/", "/user/b/");
  assert.equal(
    index.match({ path: "/user/a/", host: "H.Example:8000" })?.routespec,
    "h.example/user/a/",
  );
  assert.equal(index.match({ path: "/user/a/", host: "other" })?.routespec, "/");
  assert.equal(index.match({ path: "/x", host: "h.example." })?.routespec, "h.example/");
  // The host root (priority 100 + 9 + 1) outranks the path route /user/b/ (100 + 8).
  assert.equal(index.match({ path: "/user/b/", host: "h.example" })?.routespec, "h.example/");
  assert.equal(index.match({ path: "/user/b/" })?.routespec, "/user/b/");
  assert.equal(index.match({ path: "/user/b/", host: null })?.routespec, "/user/b/");
});

Deno.test("apply: replace, delete and hosts that share a key", () => {
  const index = indexOf("/user/a/");
  index.apply({ set: [route("/user/a/", "http://127.0.0.1:1")] });
  assert.equal(index.match({ path: "/user/a/" })?.target, "http://127.0.0.1:1");
  assert.equal(index.size, 1);
  index.apply({ set: [route("H.example/"), route("h.example:80/")] });
  assert.equal(index.size, 3);
  assert.equal(index.match({ path: "/", host: "h.example" })?.routespec, "h.example:80/");
  index.apply({ delete: ["h.example:80/"] });
  assert.equal(index.match({ path: "/", host: "h.example" })?.routespec, "H.example/");
  index.apply({ delete: ["H.example/", "/user/a/", "/nothing/"] });
  assert.equal(index.size, 0);
  assert.equal(index.get("/user/a/"), undefined);
  assert.equal(index.match({ path: "/user/a/" }), undefined);
});

Deno.test("routespecPrefixes: proper prefixes, and path routes for a host route", () => {
  assert.deepEqual(routespecPrefixes("/"), []);
  assert.deepEqual(routespecPrefixes("/user/a/"), ["/", "/user/"]);
  assert.deepEqual(routespecPrefixes("/user/a%24b"), ["/", "/user/"]);
  assert.deepEqual(routespecPrefixes("h.example/"), ["/"]);
  assert.deepEqual(routespecPrefixes("h.example/a/"), ["h.example/", "/", "/a/"]);
});
