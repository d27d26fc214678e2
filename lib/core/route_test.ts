import assert from "node:assert/strict";
import { createRoute, validateData, validateTarget } from "./route.ts";
import { RouteDataError, RoutespecError, TargetError } from "./errors.ts";

const now = new Date("2026-01-02T03:04:05.000Z");

Deno.test("validateTarget accepts http(s) URLs and rejects everything else", () => {
  for (const ok of ["http://127.0.0.1:8888", "https://h.example/prefix", "http://[::1]:80"]) {
    assert.equal(validateTarget(ok), ok);
  }
  for (
    const bad of [
      3,
      null,
      "",
      "127.0.0.1:80",
      "ftp://x",
      "http://u:p@h",
      "http://h/a b",
      "http://h/?q",
    ]
  ) {
    assert.throws(() => validateTarget(bad), TargetError, String(bad));
  }
});

Deno.test("validateData takes JSON objects only and copies them", () => {
  const data = { a: [1, { b: true }] };
  const copy = validateData(data);
  assert.deepEqual(copy, data);
  assert.notEqual(copy, data);
  assert.deepEqual(validateData(undefined), {});
  for (const bad of [[], "x", 3, { big: "x".repeat(70_000) }]) {
    assert.throws(() => validateData(bad), RouteDataError);
  }
});

Deno.test("createRoute canonicalises the routespec", () => {
  assert.equal(
    createRoute({ routespec: "/a", target: "http://h:1" }, { now: new Date(0) }).routespec,
    "/a/",
  );
});

Deno.test("createRoute sets lastActivity to now when omitted and keeps it when given", () => {
  const input = { routespec: "/user/a", target: "http://127.0.0.1:9000" };
  assert.deepEqual(createRoute(input, { now }), {
    routespec: "/user/a/",
    target: "http://127.0.0.1:9000",
    data: {},
    lastActivity: "2026-01-02T03:04:05.000Z",
  });
  const given = "2020-05-06T07:08:09.000Z";
  assert.equal(createRoute({ ...input, lastActivity: given }, { now }).lastActivity, given);
});

Deno.test("createRoute rejects an invalid routespec, target, data or lastActivity", () => {
  const valid = { routespec: "/user/a/", target: "http://127.0.0.1:9000" };
  const rows = [
    { input: { ...valid, routespec: "/a b/" }, error: RoutespecError },
    { input: { ...valid, target: "ftp://x" }, error: TargetError },
    { input: { ...valid, data: [] as unknown as Record<string, never> }, error: RouteDataError },
    { input: { ...valid, lastActivity: "yesterday" }, error: RouteDataError },
  ];
  for (const { input, error } of rows) {
    assert.throws(() => createRoute(input, { now }), error, JSON.stringify(input));
  }
});
