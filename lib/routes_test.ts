import assert from "node:assert/strict";
import { addRoute, deleteRoute, getAllRoutes, getRoute } from "./routes.ts";
import { memoryStore } from "../providers/memory.ts";
import type { RouteConfirmer } from "./core/confirmer.ts";
import { RouteDataError, RoutespecError, TargetError } from "./core/errors.ts";
import type { Route, RouteData } from "./core/types.ts";
import type { RouteInput } from "./core/route.ts";

type Call = { served: Route[] } | { removed: string[] };

/** A confirmer that confirms at once and records what it was asked. */
function recordingConfirmer(): RouteConfirmer & { calls: Call[] } {
  const calls: Call[] = [];
  return {
    calls,
    served(routes) {
      calls.push({ served: structuredClone(routes) });
      return Promise.resolve();
    },
    removed(routespecs) {
      calls.push({ removed: [...routespecs] });
      return Promise.resolve();
    },
  };
}

const alice = {
  routespec: "/user/alice/",
  target: "http://127.0.0.1:9000",
  data: { user: "alice" },
};

Deno.test("addRoute rejects invalid input with the typed error and changes nothing", async () => {
  const rows: { input: RouteInput; error: new (...args: never[]) => Error }[] = [
    { input: { ...alice, routespec: "/user/a b/" }, error: RoutespecError },
    { input: { ...alice, routespec: "/user/../x/" }, error: RoutespecError },
    { input: { ...alice, target: "ftp://127.0.0.1" }, error: TargetError },
    { input: { ...alice, target: "127.0.0.1:9000" }, error: TargetError },
    { input: { ...alice, data: [] as unknown as RouteData }, error: RouteDataError },
    { input: { ...alice, data: "x" as unknown as RouteData }, error: RouteDataError },
  ];
  for (const { input, error } of rows) {
    const store = memoryStore();
    const confirm = recordingConfirmer();
    await addRoute({ store, confirm }, { ...alice, target: "http://127.0.0.1:1" });
    const before = structuredClone(store.routes);
    confirm.calls.length = 0;
    await assert.rejects(addRoute({ store, confirm }, input), error, JSON.stringify(input));
    assert.deepEqual(store.routes, before, "the store is unchanged");
    assert.deepEqual(confirm.calls, [], "nothing is confirmed");
  }
});

Deno.test("addRoute stores the route under its canonical routespec and returns it", async () => {
  const store = memoryStore();
  const added = await addRoute(store, { routespec: "/user/a$b", target: "http://127.0.0.1:9000" });
  assert.equal(added.routespec, "/user/a%24b/");
  assert.deepEqual([...store.routes.keys()], ["/user/a%24b/"]);
  assert.deepEqual(store.routes.get("/user/a%24b/"), added);
  assert.deepEqual(added.data, {});
  assert.ok(!Number.isNaN(Date.parse(added.lastActivity!)), "lastActivity is a date");
});

Deno.test("addRoute replaces the route with the same routespec in any spelling", async () => {
  const store = memoryStore();
  await addRoute(store, { routespec: "/user/a$b/", target: "http://127.0.0.1:1", data: { n: 1 } });
  await addRoute(store, { routespec: "/user/a%24b", target: "http://127.0.0.1:2", data: { n: 2 } });
  assert.equal(store.routes.size, 1);
  const route = store.routes.get("/user/a%24b/");
  assert.equal(route?.target, "http://127.0.0.1:2");
  assert.deepEqual(route?.data, { n: 2 });
});

Deno.test("addRoute confirms the stored route with the table's confirmer", async () => {
  const store = memoryStore();
  const confirm = recordingConfirmer();
  const added = await addRoute({ store, confirm }, alice);
  assert.deepEqual(confirm.calls, [{ served: [added] }]);
  assert.deepEqual(confirm.calls, [{ served: [store.routes.get(alice.routespec)] }]);
});

Deno.test("addRoute's confirm option overrides the table's confirmer; false skips it", async () => {
  const store = memoryStore();
  const own = recordingConfirmer();
  const other = recordingConfirmer();
  const added = await addRoute({ store, confirm: own }, alice, { confirm: other });
  assert.deepEqual(other.calls, [{ served: [added] }]);
  assert.deepEqual(own.calls, []);
  await addRoute({ store, confirm: own }, { ...alice, routespec: "/user/bob/" }, {
    confirm: false,
  });
  assert.deepEqual(own.calls, [], "confirm: false confirms nothing");
  assert.ok(store.routes.has("/user/bob/"), "but the route is stored");
});

Deno.test("deleteRoute returns false for a missing route and confirms nothing", async () => {
  const store = memoryStore();
  const confirm = recordingConfirmer();
  await addRoute(store, alice);
  assert.equal(await deleteRoute({ store, confirm }, "/user/bob/"), false);
  assert.deepEqual(confirm.calls, []);
  assert.deepEqual([...store.routes.keys()], ["/user/alice/"]);
});

Deno.test("deleteRoute removes only the named route and confirms its removal", async () => {
  const store = memoryStore();
  const confirm = recordingConfirmer();
  await addRoute(store, alice);
  await addRoute(store, { ...alice, routespec: "/user/bob/" });
  assert.equal(await deleteRoute({ store, confirm }, "/user/alice/"), true);
  assert.deepEqual(confirm.calls, [{ removed: ["/user/alice/"] }]);
  assert.deepEqual([...store.routes.keys()], ["/user/bob/"]);
});

Deno.test("deleteRoute finds a route by any spelling of its routespec", async () => {
  for (const spelling of ["/user/a$b", "/user/a$b/", "/user/a%24b", "/user/a%24b/"]) {
    const store = memoryStore();
    const confirm = recordingConfirmer();
    await addRoute(store, { routespec: "/user/a$b", target: "http://127.0.0.1:9000" });
    assert.equal(await deleteRoute({ store, confirm }, spelling), true, spelling);
    assert.deepEqual(confirm.calls, [{ removed: ["/user/a%24b/"] }], spelling);
    assert.equal(store.routes.size, 0, spelling);
  }
});

Deno.test("deleteRoute's confirm option: false skips confirmation, a confirmer overrides", async () => {
  const store = memoryStore();
  const own = recordingConfirmer();
  const other = recordingConfirmer();
  await addRoute(store, alice);
  await addRoute(store, { ...alice, routespec: "/user/bob/" });
  assert.equal(
    await deleteRoute({ store, confirm: own }, "/user/alice/", { confirm: false }),
    true,
  );
  assert.equal(await deleteRoute({ store, confirm: own }, "/user/bob/", { confirm: other }), true);
  assert.deepEqual(own.calls, []);
  assert.deepEqual(other.calls, [{ removed: ["/user/bob/"] }]);
  assert.equal(store.routes.size, 0);
});

Deno.test("deleteRoute rejects an invalid routespec and changes nothing", async () => {
  const store = memoryStore();
  await addRoute(store, alice);
  await assert.rejects(deleteRoute(store, "/user/a b/"), RoutespecError);
  assert.deepEqual([...store.routes.keys()], ["/user/alice/"]);
});

Deno.test("getRoute finds a route by any spelling and gives undefined for a missing one", async () => {
  const store = memoryStore();
  const added = await addRoute({ store }, { routespec: "/user/a$b", target: "http://h:1" });
  for (const spelling of ["/user/a$b", "/user/a%24b/"]) {
    assert.deepEqual(await getRoute(store, spelling), added, spelling);
    assert.deepEqual(await getRoute({ store }, spelling), added, spelling);
  }
  assert.equal(await getRoute(store, "/user/other/"), undefined);
  await assert.rejects(async () => await getRoute(store, "/user/a b/"), RoutespecError);
});

Deno.test("getAllRoutes lists every route by canonical routespec", async () => {
  const store = memoryStore();
  assert.deepEqual(await getAllRoutes(store), new Map());
  const hub = await addRoute(store, { routespec: "/", target: "http://127.0.0.1:8081" });
  const user = await addRoute({ store }, { routespec: "/user/a$b", target: "http://h:1" });
  assert.deepEqual(
    await getAllRoutes({ store }),
    new Map([["/", hub], ["/user/a%24b/", user]]),
  );
});
