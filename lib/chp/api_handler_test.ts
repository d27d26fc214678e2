import assert from "node:assert/strict";
import { chpHandler } from "./api_handler.ts";
import { memoryStore } from "../../providers/memory.ts";

const token = "s3cret";
const auth = { authorization: `token ${token}` };

function setup(options = {}) {
  const store = memoryStore();
  const handler = chpHandler(store, { authToken: token, ...options });
  const call = (method: string, path: string, body?: string, headers: HeadersInit = auth) =>
    handler(new Request(`http://127.0.0.1:8001${path}`, { method, body, headers }));
  return { store, call };
}

Deno.test("CHP API: POST stores the whole object; GET returns it with JSON types", async () => {
  const { call } = setup();
  const body = { target: "http://127.0.0.1:9000", jupyterhub: true, user: "a", n: 2, ok: false };
  const post = await call("POST", "/api/routes/user/a", JSON.stringify(body), {
    ...auth,
    "content-type": "text/plain",
  });
  assert.equal(post.status, 201);
  const one = await call("GET", "/api/routes/user/a");
  assert.equal(one.status, 200);
  const route = await one.json();
  assert.equal(typeof route.last_activity, "string");
  delete route.last_activity;
  assert.deepEqual(route, body);
  const all = await call("GET", "/api/routes");
  assert.equal(all.headers.get("content-type"), "application/json");
  assert.deepEqual(Object.keys(await all.json()), ["/user/a"]);
});

Deno.test("CHP API: token auth answers 403 with an empty body", async () => {
  const { call } = setup();
  const variants: Record<string, string>[] = [
    {},
    { authorization: "token wrong" },
    { authorization: "Bearer s3cret" },
  ];
  for (
    const headers of variants
  ) {
    const response = await call("GET", "/api/routes", undefined, headers);
    assert.equal(response.status, 403);
    assert.equal(await response.text(), "");
  }
  const open = chpHandler(memoryStore(), {});
  assert.equal((await open(new Request("http://x/api/routes"))).status, 200);
});

Deno.test("CHP API: status codes for missing routes, bad methods, unknown paths", async () => {
  const { call } = setup();
  assert.equal((await call("GET", "/api/routes/nope")).status, 404);
  assert.equal((await call("DELETE", "/api/routes/nope")).status, 404);
  assert.equal((await call("PUT", "/api/routes/nope")).status, 405);
  assert.equal((await call("GET", "/elsewhere")).status, 404);
  await call("POST", "/api/routes/x", '{"target":"http://h:1"}');
  assert.equal((await call("DELETE", "/api/routes/x")).status, 204);
  assert.equal((await call("GET", "/api/routes/x")).status, 404);
});

Deno.test("CHP API: bad input is a 4xx with a message and changes nothing", async () => {
  const { call, store } = setup({ maxBodyBytes: 1024 });
  await call("POST", "/api/routes/keep", '{"target":"http://h:1"}');
  const rows: [string, string, number][] = [
    ["/api/routes/x", "{not json", 400],
    ["/api/routes/x", "[]", 400],
    ["/api/routes/x", '{"target": 3}', 400],
    ["/api/routes/x", "{}", 400],
    ["/api/routes/x", '{"target":"ftp://h"}', 400],
    ["/api/routes/x", '{"target":"http://h:1\\" || x"}', 400],
    ["/api/routes/a%60b", '{"target":"http://h:1"}', 201],
    ["/api/routes/a%2", '{"target":"http://h:1"}', 400],
    ["/api/routes/a/../../b", '{"target":"http://h:1"}', 404],
    ["/api/routes/x", JSON.stringify({ target: "http://h:1", pad: "x".repeat(2000) }), 413],
  ];
  for (const [path, body, status] of rows) {
    const response = await call("POST", path, body);
    assert.equal(response.status, status, `${path} ${body.slice(0, 40)}`);
    if (status >= 400) assert.ok((await response.json()).message, "a message says why");
  }
  assert.deepEqual([...store.routes.keys()].sort(), ["/a%60b/", "/keep/"]);
});

Deno.test("CHP API: inactive_since filters by last activity; bad dates are 400", async () => {
  const { call, store } = setup();
  await call("POST", "/api/routes/old", '{"target":"http://h:1"}');
  await call("POST", "/api/routes/new", '{"target":"http://h:1"}');
  store.routes.get("/old/")!.lastActivity = "2020-01-01T00:00:00.000Z";
  const response = await call("GET", "/api/routes?inactive_since=2024-01-01T00:00:00Z");
  assert.deepEqual(Object.keys(await response.json()), ["/old"]);
  const camel = await call("GET", "/api/routes?inactiveSince=2024-01-01T00:00:00Z");
  assert.deepEqual(Object.keys(await camel.json()), ["/old"]);
  assert.equal((await call("GET", "/api/routes?inactive_since=notadate")).status, 400);
});

Deno.test("CHP API: host routing keys routes by host", async () => {
  const { call, store } = setup({ hostRouting: true });
  await call("POST", "/api/routes/h.example/user/a", '{"target":"http://h:1"}');
  await call("POST", "/api/routes/", '{"target":"http://hub:1"}');
  assert.deepEqual([...store.routes.keys()].sort(), ["/", "h.example/user/a/"]);
  const all = await (await call("GET", "/api/routes")).json();
  assert.deepEqual(Object.keys(all).sort(), ["/", "/h.example/user/a"]);
});

Deno.test("CHP API: every spelling of a decoded path is one route, listed as the hub expects", async () => {
  const { call } = setup();
  // aiohttp's spelling of the hub's /user/w/%24p~c%7Ca%21%20ch@rs
  const post = await call(
    "POST",
    "/api/routes/user/w/$p~c%7Ca!%20ch@rs",
    JSON.stringify({ target: "http://127.0.0.1:9000", user: "w" }),
  );
  assert.equal(post.status, 201);
  for (const spelling of ["/user/w/%24p~c%7Ca%21%20ch@rs", "/user/w/%24p%7ec%7ca%21%20ch%40rs"]) {
    assert.equal((await call("GET", `/api/routes${spelling}`)).status, 200, spelling);
  }
  const replaced = await call(
    "POST",
    "/api/routes/user/w/%24p~c%7Ca%21%20ch@rs",
    JSON.stringify({ target: "http://127.0.0.1:9001", user: "w" }),
  );
  assert.equal(replaced.status, 201);
  const all = await (await call("GET", "/api/routes")).json();
  // Decoded, as CHP lists it; the hub quotes it back to its own routespec.
  assert.deepEqual(Object.keys(all), ["/user/w/$p~c|a! ch@rs"]);
  assert.equal(all["/user/w/$p~c|a! ch@rs"].target, "http://127.0.0.1:9001");
  assert.equal((await call("DELETE", "/api/routes/user/w/$p~c%7Ca!%20ch@rs")).status, 204);
  assert.deepEqual(await (await call("GET", "/api/routes")).json(), {});
});

Deno.test("CHP API: last_activity is the later of the route's and its traffic's; DELETE forgets it", async () => {
  const times = new Map<string, string>();
  const forgotten: string[] = [];
  const activity = {
    lastActivity: () => Promise.resolve(new Map(times)),
    lastActivityOf: (routespec: string) => Promise.resolve(times.get(routespec)),
    forget: (routespec: string) => Promise.resolve(void forgotten.push(routespec)),
  };
  const { call } = setup({ activity });
  for (const user of ["a", "b"]) {
    const body = JSON.stringify({ target: "http://127.0.0.1:9000" });
    assert.equal((await call("POST", `/api/routes/user/${user}`, body)).status, 201);
  }
  const added = (await (await call("GET", "/api/routes/user/a")).json()).last_activity;
  times.set("/user/a/", "2999-01-01T00:00:00.000Z"); // traffic after the route was added
  times.set("/user/b/", "2000-01-01T00:00:00.000Z"); // older than the route: not used
  assert.equal(
    (await (await call("GET", "/api/routes/user/a")).json()).last_activity,
    "2999-01-01T00:00:00.000Z",
  );
  const all = await (await call("GET", "/api/routes")).json();
  assert.equal(all["/user/a"].last_activity, "2999-01-01T00:00:00.000Z");
  assert.notEqual(all["/user/b"].last_activity, "2000-01-01T00:00:00.000Z");
  const since = encodeURIComponent(new Date(Date.parse(added) + 60_000).toISOString());
  const inactive = await (await call("GET", `/api/routes?inactive_since=${since}`)).json();
  assert.deepEqual(Object.keys(inactive), ["/user/b"]);
  assert.equal((await call("DELETE", "/api/routes/user/a")).status, 204);
  assert.deepEqual(forgotten, ["/user/a/"]);
});
