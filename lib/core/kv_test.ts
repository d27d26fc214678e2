import assert from "node:assert/strict";
import { diff, flatten, unflatten } from "./kv.ts";
import { routeConfig } from "./route_config.ts";

const route = {
  routespec: "/user/alice/",
  target: "http://127.0.0.1:9000",
  data: { user: "alice", server_name: "" },
};

Deno.test("flatten and unflatten round-trip traefik's key-value layout", () => {
  const config = routeConfig(route, { entryPoint: "http" });
  const flat = flatten(config, "traefik");
  assert.equal(
    flat.get("traefik/http/routers/router__2Fuser_2Falice_2F/rule"),
    'Path("/user/alice") || PathPrefix("/user/alice/")',
  );
  assert.equal(flat.get("traefik/http/routers/router__2Fuser_2Falice_2F/entryPoints/0"), "http");
  assert.equal(
    flat.get("traefik/http/services/service__2Fuser_2Falice_2F/loadBalancer/servers/0/url"),
    "http://127.0.0.1:9000",
  );
  assert.equal(
    flat.get("traefik/http/services/service__2Fuser_2Falice_2F/loadBalancer/passHostHeader"),
    "true",
  );
  const back = unflatten(flat, "traefik") as { http: { routers: Record<string, unknown> } };
  assert.deepEqual(back.http.routers.router__2Fuser_2Falice_2F, {
    rule: 'Path("/user/alice") || PathPrefix("/user/alice/")',
    service: "service__2Fuser_2Falice_2F",
    entryPoints: ["http"],
    priority: "112",
  });
});

Deno.test("unflatten ignores keys outside the prefix; flatten writes no key for empty values", () => {
  assert.deepEqual(unflatten(new Map([["other/x", "1"]]), "traefik"), {});
  assert.deepEqual(flatten({ a: {}, b: [], c: null }, "p"), new Map());
});

Deno.test("diff lists changed, new and removed keys", () => {
  const before = new Map([["a", "1"], ["b", "2"], ["c", "3"]]);
  const after = new Map([["a", "1"], ["b", "20"], ["d", "4"]]);
  const change = diff(before, after);
  assert.deepEqual([...change.set], [["b", "20"], ["d", "4"]]);
  assert.deepEqual(change.delete, ["c"]);
  assert.deepEqual(diff(after, after), { set: new Map(), delete: [] });
});

Deno.test("flatten: keys in the tree's order, and nesting deeper than the call stack", () => {
  const tree = { b: { y: "1", x: ["p", { q: 2 }] }, a: true, n: null };
  assert.deepEqual([...flatten(tree, "t").entries()], [
    ["t/b/y", "1"],
    ["t/b/x/0", "p"],
    ["t/b/x/1/q", "2"],
    ["t/a", "true"],
  ]);
  // 20,000 levels (a route's data that JSON.stringify accepts could be this deep).
  let deep: unknown = "leaf";
  for (let i = 0; i < 20_000; i++) deep = [deep];
  const flat = flatten({ data: deep } as Record<string, unknown>, "");
  assert.equal(flat.size, 1);
  assert.equal([...flat.keys()][0].length, "data".length + 2 * 20_000);
});
