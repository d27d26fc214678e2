import assert from "node:assert/strict";
import {
  completeRecord,
  misnamedRecords,
  RECORD_KEYS,
  recordPrefix,
  routeChange,
  routeFromRecord,
  routeKeys,
  routesFromKv,
  sentinelKeys,
} from "./kv_layout.ts";

const options = { traefikPrefix: "traefik", jupyterhubPrefix: "jupyterhub", entryPoint: "http" };
const route = {
  routespec: "/user/alice/",
  target: "http://127.0.0.1:9000",
  data: { user: "alice", server_name: "", hub: false, n: 3, nested: { a: [1, "x"] } },
  lastActivity: "2026-01-01T00:00:00.000Z",
};

Deno.test("routeKeys writes the Python proxy's key layout plus typed data", () => {
  const keys = routeKeys(route, options);
  const r = "router__2Fuser_2Falice_2F";
  const s = "service__2Fuser_2Falice_2F";
  assert.equal(
    keys.get(`traefik/http/routers/${r}/rule`),
    'Path("/user/alice") || PathPrefix("/user/alice/")',
  );
  assert.equal(keys.get(`traefik/http/routers/${r}/service`), s);
  assert.equal(keys.get(`traefik/http/routers/${r}/entryPoints/0`), "http");
  assert.equal(keys.get(`traefik/http/services/${s}/loadBalancer/servers/0/url`), route.target);
  assert.equal(keys.get(`traefik/http/services/${s}/loadBalancer/passHostHeader`), "true");
  assert.equal(keys.get(`jupyterhub/routes/${r}/routespec`), "/user/alice/");
  assert.equal(keys.get(`jupyterhub/routes/${r}/target`), route.target);
  assert.equal(keys.get(`jupyterhub/routes/${r}/router`), r);
  assert.equal(keys.get(`jupyterhub/routes/${r}/service`), s);
  assert.equal(keys.get(`jupyterhub/routes/${r}/data/user`), "alice");
  assert.equal(keys.get(`jupyterhub/routes/${r}/data/hub`), "false");
  assert.equal(keys.get(`jupyterhub/routes/${r}/data/nested/a/1`), "x");
  assert.deepEqual(JSON.parse(keys.get(`jupyterhub/routes/${r}/data_json`)!), route.data);
  assert.equal(recordPrefix(route.routespec, options), `jupyterhub/routes/${r}/`);
});

Deno.test("routes read back from keys keep JSON types; Python's records read as strings", () => {
  const keys = routeKeys(route, options);
  for (const [key, value] of sentinelKeys(options)) keys.set(key, value);
  const { routes, skipped } = routesFromKv(keys, options);
  assert.deepEqual(skipped, []);
  assert.deepEqual(routes.get("/user/alice/"), route);
  const python = new Map([
    ["jupyterhub/routes/router__2Fa_2F/routespec", "/a/"],
    ["jupyterhub/routes/router__2Fa_2F/target", "http://h:1"],
    ["jupyterhub/routes/router__2Fa_2F/router", "router__2Fa_2F"],
    ["jupyterhub/routes/router__2Fa_2F/data/hub", "true"],
  ]);
  assert.deepEqual(routeFromRecord(python, "jupyterhub/routes/router__2Fa_2F"), {
    routespec: "/a/",
    target: "http://h:1",
    data: { hub: "true" },
  });
  const broken = new Map([["jupyterhub/routes/x/target", "http://h:1"]]);
  assert.deepEqual(routesFromKv(broken, options).skipped, ["jupyterhub/routes/x"]);
});

Deno.test("routeChange replaces stale keys and deletes everything of a route", () => {
  const changed = { ...route, target: "http://127.0.0.1:9001", data: { user: "alice" } };
  const stored = new Map(
    [...routeKeys(route, options)].filter(([key]) => key.startsWith("jupyterhub/")),
  );
  const change = routeChange(route, stored, changed, options);
  const r = "router__2Fuser_2Falice_2F";
  assert.ok(change.delete.includes(`jupyterhub/routes/${r}/data/n`), "old data keys go");
  assert.ok(!change.delete.includes(`jupyterhub/routes/${r}/routespec`));
  assert.equal(
    change.set.get("traefik/http/services/service__2Fuser_2Falice_2F/loadBalancer/servers/0/url"),
    "http://127.0.0.1:9001",
  );
  assert.equal(change.set.get(`traefik/http/routers/${r}/rule`), undefined, "the rule is current");
  const gone = routeChange(
    route,
    new Map([...stored, [`jupyterhub/routes/${r}/foreign`, "x"]]),
    undefined,
    options,
  );
  assert.equal(gone.set.size, 0);
  assert.deepEqual(
    new Set(gone.delete),
    new Set([...routeKeys(route, options).keys(), `jupyterhub/routes/${r}/foreign`]),
  );
});

Deno.test("routeChange rewrites traefik's keys of a route another program wrote", () => {
  const r = "router__2Fuser_2Falice_2F";
  // The Python proxy's record: no rule beside it.
  const python = new Map([
    [`jupyterhub/routes/${r}/routespec`, "/user/alice/"],
    [`jupyterhub/routes/${r}/target`, "http://127.0.0.1:9000"],
  ]);
  const change = routeChange(route, python, { ...route, target: "http://127.0.0.1:1" }, options);
  for (const field of ["rule", "priority", "service", "entryPoints/0"]) {
    assert.ok(change.set.has(`traefik/http/routers/${r}/${field}`), field);
  }
  assert.ok(change.set.has(`jupyterhub/routes/${r}/rule`));
});

Deno.test("routeKeys without traefik's keys writes the record alone, and a later change with them writes them all", () => {
  const bare = { ...options, traefikKeys: false };
  const keys = routeKeys(route, bare);
  assert.ok([...keys.keys()].every((key) => key.startsWith("jupyterhub/")));
  assert.ok(![...keys.keys()].some((key) => key.endsWith("/rule")), "no rule: keys unknown");
  // Switched back on: the stored record says nothing of traefik's keys, so all are written.
  const change = routeChange(route, keys, route, options);
  const r = "router__2Fuser_2Falice_2F";
  assert.ok(change.set.has(`traefik/http/routers/${r}/rule`));
  // Switched off: an existing route's traefik keys go.
  const stored = new Map(
    [...routeKeys(route, options)].filter(([key]) => key.startsWith("jupyterhub/")),
  );
  const gone = routeChange(route, stored, route, bare);
  assert.ok(gone.delete.includes(`traefik/http/routers/${r}/rule`));
  assert.equal(gone.set.size, 0);
});

Deno.test("completeRecord adds the data/ keys a record's data_json implies, and only those", () => {
  const layout = { traefikPrefix: "traefik", jupyterhubPrefix: "jupyterhub", entryPoint: "http" };
  const route = {
    routespec: "/user/a/",
    target: "http://h:1",
    data: { user: "a", nested: { n: 1, flag: true } },
  };
  const all = routeKeys(route, layout);
  const record = recordPrefix(route.routespec, layout).slice(0, -1);
  const byName = new Map(
    [...all].filter(([key]) => RECORD_KEYS.some((field) => key === `${record}/${field}`)),
  );
  const complete = completeRecord(byName, { record, layout });
  assert.deepEqual(
    complete,
    new Map([...all].filter(([key]) => key.startsWith(`${record}/`))),
    "every key this proxy wrote under the record",
  );
  // The Python proxy's record (no data_json) is left as read: its data/ keys were listed.
  const python = new Map([[`${record}/routespec`, "/user/a/"], [`${record}/target`, "http://h:1"]]);
  assert.deepEqual(completeRecord(python, { record, layout }), python);
  // A record without a routespec is not a route: nothing to add.
  const broken = new Map([[`${record}/data_json`, '{"a":1}']]);
  assert.deepEqual(completeRecord(broken, { record, layout }), broken);
});

Deno.test("misnamedRecords finds only records named after another spelling, with their data", () => {
  const canonical = { routespec: "/user/a%24b/", target: "http://h:1", data: { user: "a$b" } };
  const pairs = new Map<string, string>();
  // Stored by an earlier version under the decoded spelling: misnamed.
  const right = recordPrefix(canonical.routespec, options);
  const wrong = "jupyterhub/routes/router__2Fuser_2Fa_24b_2F/";
  const old = new Map<string, string>();
  for (const [key, value] of routeKeys(canonical, options)) {
    if (!key.startsWith(right)) continue; // traefik's keys are not part of the record
    old.set(wrong + key.slice(right.length), key.endsWith("/routespec") ? "/user/a$b/" : value);
  }
  for (const [key, value] of old) pairs.set(key, value);
  // Canonical records, one with a data field called "routespec": not misnamed.
  for (const spec of ["/user/c/", "/user/d/"]) {
    const keys = routeKeys(
      { routespec: spec, target: "http://h:2", data: { routespec: "/x$/" } },
      options,
    );
    for (const [key, value] of keys) pairs.set(key, value);
  }
  // A record this proxy cannot read: skipped.
  pairs.set("jupyterhub/routes/broken/routespec", "no slash");
  const found = misnamedRecords(pairs, options);
  assert.equal(found.length, 1);
  assert.equal(found[0].storedRoutespec, "/user/a$b/");
  assert.equal(found[0].prefix, wrong.slice(0, -1));
  assert.deepEqual(found[0].route.routespec, "/user/a%24b/");
  assert.deepEqual(found[0].route.data, { user: "a$b" });
  assert.deepEqual(misnamedRecords(new Map([...pairs].filter(([k]) => !old.has(k))), options), []);
});
