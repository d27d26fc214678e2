import assert from "node:assert/strict";
import { feedConfirmer } from "./feed_confirmer.ts";
import { FEED_STAMP_NAME, feedStampConfig } from "../core/feed_stamp.ts";
import { RouteTimeoutError } from "../core/errors.ts";
import type { Route } from "../core/types.ts";
import type { TraefikApi } from "./api.ts";

/** A traefik API whose applied write is `applied` (none: 404); counts its requests. */
function fakeApi() {
  const state = { applied: undefined as number | undefined, requests: 0, paths: new Set<string>() };
  const api: TraefikApi = {
    url: "http://127.0.0.1:1",
    get(path) {
      state.requests++;
      state.paths.add(path);
      if (state.applied === undefined) return Promise.resolve({ status: 404, body: "" });
      const config = feedStampConfig({ entryPoint: "http", write: state.applied }) as {
        http: { routers: Record<string, unknown> };
      };
      return Promise.resolve({ status: 200, body: config.http.routers[FEED_STAMP_NAME] });
    },
  };
  return { api, state };
}

const route = (spec: string, target = "http://127.0.0.1:9000"): Route => ({
  routespec: spec,
  target,
  data: {},
});
const tick = (ms = 20) => new Promise((r) => setTimeout(r, ms));

Deno.test("feedConfirmer: a route is served once traefik applied a write that holds it", async () => {
  const { api, state } = fakeApi();
  const confirmer = feedConfirmer(api, { intervalMs: 2 });
  confirmer.written({ write: 1, table: new Map() });
  let done = false;
  const served = confirmer.served([route("/a/")]).then(() => done = true);
  await tick();
  assert.equal(done, false, "not written yet");
  state.applied = 1;
  await tick();
  assert.equal(done, false, "traefik applied a write without it");
  confirmer.written({ write: 2, table: new Map([["/a/", route("/a/")]]) });
  await tick();
  assert.equal(done, false, "written, not applied");
  state.applied = 2;
  await served;
  assert.deepEqual([...state.paths], ["/api/http/routers/jupyterhub-feed%40file"]);
});

Deno.test("feedConfirmer: a write with another target does not count", async () => {
  const { api, state } = fakeApi();
  const confirmer = feedConfirmer(api, { intervalMs: 2, timeoutMs: 200 });
  state.applied = 5;
  confirmer.written({ write: 5, table: new Map([["/a/", route("/a/", "http://old:1")]]) });
  await assert.rejects(confirmer.served([route("/a/", "http://new:1")]), RouteTimeoutError);
});

Deno.test("feedConfirmer: a change already written before the call is found in the newest write", async () => {
  const { api, state } = fakeApi();
  const confirmer = feedConfirmer(api, { intervalMs: 2 });
  confirmer.written({ write: 3, table: new Map([["/a/", route("/a/")]]) });
  state.applied = 3;
  await confirmer.served([route("/a/")]);
  await assert.rejects(
    feedConfirmer(api, { intervalMs: 2, timeoutMs: 50 }).served([route("/a/")]),
    RouteTimeoutError,
    "a confirmer told of no write confirms nothing",
  );
});

Deno.test("feedConfirmer: a removal waits for an applied write without the route", async () => {
  const { api, state } = fakeApi();
  const confirmer = feedConfirmer(api, { intervalMs: 2 });
  state.applied = 1;
  confirmer.written({ write: 1, table: new Map([["/a/", route("/a/")]]) });
  let done = false;
  const removed = confirmer.removed(["/a/"]).then(() => done = true);
  await tick();
  assert.equal(done, false);
  confirmer.written({ write: 2, table: new Map() });
  await tick();
  assert.equal(done, false, "written, not applied");
  state.applied = 7; // a restarted traefik read the newest file
  await removed;
});

Deno.test("feedConfirmer: one request per poll, whatever the number of waiting routes", async () => {
  const { api, state } = fakeApi();
  const confirmer = feedConfirmer(api, { intervalMs: 10 });
  const routes = Array.from({ length: 500 }, (_, i) => route(`/u${i}/`));
  const waiting = confirmer.served(routes);
  confirmer.written({ write: 1, table: new Map(routes.map((r) => [r.routespec, r])) });
  await tick(55);
  assert.ok(state.requests <= 7, `${state.requests} requests in 55 ms`);
  state.applied = 1;
  await waiting;
});

Deno.test("feedConfirmer: an abort rejects what waits, and polls no more", async () => {
  const { api, state } = fakeApi();
  const abort = new AbortController();
  const confirmer = feedConfirmer(api, { intervalMs: 2, signal: abort.signal });
  confirmer.written({ write: 1, table: new Map([["/a/", route("/a/")]]) });
  const waiting = confirmer.served([route("/a/")]);
  await tick();
  abort.abort(new Error("stopping"));
  await assert.rejects(waiting, /stopping/);
  const count = state.requests;
  await tick();
  assert.ok(state.requests <= count + 1);
  await assert.rejects(confirmer.removed(["/a/"]), /stopping/);
});
