import assert from "node:assert/strict";
import { memoryStore } from "./memory.ts";

const ROUTE = { routespec: "/user/a/", target: "http://127.0.0.1:9000", data: { user: "a" } };

Deno.test("memoryStore keeps a copy of each route set and forgets deleted ones", async () => {
  const store = memoryStore();
  const route = structuredClone(ROUTE);
  await store.apply({ set: [route] });
  route.target = "http://changed";
  assert.deepEqual(await store.getRoute("/user/a/"), ROUTE);
  assert.deepEqual([...store.routes.keys()], ["/user/a/"]);
  await store.apply({ delete: ["/user/a/", "/nowhere/"] });
  assert.equal(await store.getRoute("/user/a/"), undefined);
  assert.equal((await store.getAllRoutes()).size, 0);
});

Deno.test("memoryStore's table is a snapshot the caller may change", async () => {
  const store = memoryStore();
  await store.apply({ set: [ROUTE] });
  const table = await store.getAllRoutes();
  table.clear();
  assert.equal((await store.getAllRoutes()).size, 1);
  assert.equal(store.provider, "memory");
  assert.equal(store.entryPoint, "http");
});
