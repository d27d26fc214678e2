import assert from "node:assert/strict";
import { lastingDrift, routeDrift } from "./drift.ts";
import type { Route } from "./types.ts";

const route = (routespec: string, target: string): Route => ({ routespec, target, data: {} });
const served = (target: string) => ({ loadBalancer: { servers: [{ url: target }] } });

Deno.test("routeDrift: a missing router or service, another target, a stray router", () => {
  const table = new Map([
    ["/ok/", route("/ok/", "http://127.0.0.1:1")],
    ["/no-router/", route("/no-router/", "http://127.0.0.1:2")],
    ["/no-service/", route("/no-service/", "http://127.0.0.1:3")],
    ["/moved/", route("/moved/", "http://127.0.0.1:4")],
  ]);
  const drift = routeDrift(table, {
    routers: {
      "router__2Fok_2F@file": {},
      "router__2Fno-service_2F@file": {},
      "router__2Fmoved_2F@file": {},
      "router__2Fgone_2F@file": {},
      "router__2Fother-provider_2F@redis": {},
      "jupyterhub-fallback@file": {},
    },
    services: {
      "service__2Fok_2F@file": served("http://127.0.0.1:1"),
      "service__2Fno-router_2F@file": served("http://127.0.0.1:2"),
      "service__2Fmoved_2F@file": served("http://127.0.0.1:9"),
    },
  }, { provider: "file" });
  assert.deepEqual(drift.missing.map((r) => r.routespec), [
    "/no-router/",
    "/no-service/",
    "/moved/",
  ]);
  assert.deepEqual(drift.stray, ["/gone/"]);
});

Deno.test("routeDrift compares the URL traefik dials (a relayed unix socket)", () => {
  const table = new Map([["/u/", route("/u/", "http+unix://%2Ftmp%2Fs.sock")]]);
  const raw = {
    routers: { "router__2Fu_2F@file": {} },
    services: { "service__2Fu_2F@file": served("http://127.0.0.1:5555") },
  };
  assert.equal(routeDrift(table, raw, { provider: "file" }).missing.length, 1);
  const relayed = routeDrift(table, raw, {
    provider: "file",
    targetUrl: () => "http://127.0.0.1:5555",
  });
  assert.deepEqual(relayed, { missing: [], stray: [] });
});

Deno.test("lastingDrift keeps only what both looks saw, with the same target", () => {
  const a1 = route("/a/", "http://127.0.0.1:1");
  const a2 = route("/a/", "http://127.0.0.1:2");
  assert.deepEqual(lastingDrift({ missing: [a1], stray: [] }, { missing: [a2], stray: [] }), {
    missing: [],
    stray: [],
  });
  assert.deepEqual(
    lastingDrift({ missing: [], stray: ["/x/"] }, { missing: [a1], stray: ["/x/"] }),
    { missing: [], stray: ["/x/"] },
  );
});
