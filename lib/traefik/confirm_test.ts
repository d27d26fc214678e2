import assert from "node:assert/strict";
import { routeConfirmer } from "./confirm.ts";
import { traefikApi } from "./api.ts";
import { RouteTimeoutError } from "../core/errors.ts";
import { routerName, serviceName } from "../core/names.ts";
import type { Route } from "../core/types.ts";

type Router = { status: string; service: string };
type Service = { status: string; loadBalancer: { servers: { url: string }[] } };

/** A fake traefik API: the routers and services it reports, and the requests it answered. */
interface FakeTraefik {
  url: string;
  routers: Map<string, Router>;
  services: Map<string, Service>;
  /** Requests answered so far, by path (names decoded, e.g. `/api/http/routers/r@file`). */
  requests: Map<string, number>;
  stop(): Promise<void>;
}

/**
 * Serves `/api/rawdata`, `/api/http/routers/<name>` and `/api/http/services/<name>` on a free
 * loopback port. `before` runs before each answer, with the request's path and how many
 * requests that path has had (this one included), to change what the fake reports.
 */
function fakeTraefik(before: (path: string, count: number) => void = () => {}): FakeTraefik {
  const routers = new Map<string, Router>();
  const services = new Map<string, Service>();
  const requests = new Map<string, number>();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
    const path = decodeURIComponent(new URL(request.url).pathname);
    const count = (requests.get(path) ?? 0) + 1;
    requests.set(path, count);
    before(path, count);
    if (path === "/api/rawdata") {
      return Response.json({
        routers: Object.fromEntries(routers),
        services: Object.fromEntries(services),
      });
    }
    const [, kind, name] = path.match(/^\/api\/http\/(routers|services)\/(.+)$/) ?? [];
    const found = kind === "routers" ? routers.get(name) : services.get(name);
    return found ? Response.json(found) : Response.json({ message: "not found" }, { status: 404 });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    routers,
    services,
    requests,
    stop: () => server.shutdown(),
  };
}

function serve(fake: FakeTraefik, route: Route, provider = "file") {
  const service = serviceName(route.routespec) + "@" + provider;
  fake.routers.set(routerName(route.routespec) + "@" + provider, { status: "enabled", service });
  fake.services.set(service, {
    status: "enabled",
    loadBalancer: { servers: [{ url: route.target }] },
  });
}

// Deno 2.9 leaves the op and resource sanitizers off by default: on here, they check that the
// poll loop stops (no timer left) once every expectation is settled.
const sanitized = { sanitizeOps: true, sanitizeResources: true };

const route: Route = { routespec: "/user/alice/", target: "http://127.0.0.1:9000", data: {} };
const routerId = `${routerName(route.routespec)}@file`;
const router = `/api/http/routers/${routerId}`;
const service = `/api/http/services/${serviceName(route.routespec)}@file`;

Deno.test(
  "served resolves once traefik reports the router enabled and the new target",
  sanitized,
  async () => {
    // Polls 1-2: no such service; 3-4: the old target; from 5: the new target.
    const fake = fakeTraefik((path, count) => {
      if (path === service && count === 3) serve(fake, { ...route, target: "http://127.0.0.1:1" });
      if (path === service && count === 5) serve(fake, route);
    });
    try {
      const confirm = routeConfirmer(traefikApi({ url: fake.url }), {
        provider: "file",
        intervalMs: 5,
      });
      await confirm.served([route]);
      assert.ok(fake.requests.get(service)! >= 5, "not before the service has the new target");
      assert.ok(fake.requests.get(router)! >= 1, "the router is checked");
      assert.equal(fake.requests.get("/api/rawdata"), undefined, "one route: no rawdata");
    } finally {
      await fake.stop();
    }
  },
);

Deno.test("served waits while the router is not enabled", sanitized, async () => {
  const fake = fakeTraefik((path, count) => {
    if (path === router && count === 3) fake.routers.get(routerId)!.status = "enabled";
  });
  serve(fake, route);
  fake.routers.get(routerId)!.status = "disabled";
  try {
    const confirm = routeConfirmer(traefikApi({ url: fake.url }), {
      provider: "file",
      intervalMs: 5,
    });
    await confirm.served([route]);
    assert.ok(fake.requests.get(router)! >= 3, "not before the router is enabled");
  } finally {
    await fake.stop();
  }
});

Deno.test("removed resolves once traefik answers 404 for the router", sanitized, async () => {
  const fake = fakeTraefik((path, count) => {
    if (path === router && count === 3) fake.routers.clear();
  });
  serve(fake, route);
  try {
    const confirm = routeConfirmer(traefikApi({ url: fake.url }), {
      provider: "file",
      intervalMs: 5,
    });
    await confirm.removed([route.routespec]);
    assert.ok(fake.requests.get(router)! >= 3, "not before the router is gone");
  } finally {
    await fake.stop();
  }
});

Deno.test(
  "a change traefik never reflects rejects with RouteTimeoutError after timeoutMs",
  sanitized,
  async () => {
    const fake = fakeTraefik();
    serve(fake, { ...route, routespec: "/user/stays/" });
    try {
      const confirm = routeConfirmer(traefikApi({ url: fake.url }), {
        provider: "file",
        timeoutMs: 300,
        intervalMs: 20,
      });
      const start = performance.now();
      const [served, removed] = await Promise.allSettled([
        confirm.served([route]),
        confirm.removed(["/user/stays/"]),
      ]);
      assert.ok(performance.now() - start >= 290, "not before the timeout");
      for (const [result, state] of [[served, "served"], [removed, "removed"]] as const) {
        assert.equal(result.status, "rejected", state);
        const error = (result as PromiseRejectedResult).reason;
        assert.ok(error instanceof RouteTimeoutError, String(error));
        assert.equal(error.timeoutMs, 300);
        assert.match(error.message, new RegExp(`as ${state} within 300 ms`));
      }
      assert.equal((served as PromiseRejectedResult).reason.routespec, "/user/alice/");
      assert.equal((removed as PromiseRejectedResult).reason.routespec, "/user/stays/");
    } finally {
      await fake.stop();
    }
  },
);

Deno.test(
  "a burst above singleLimit is confirmed with /api/rawdata, not route by route",
  sanitized,
  async () => {
    const routes = Array.from({ length: 6 }, (_, i) => ({
      routespec: `/user/u${i}/`,
      target: `http://127.0.0.1:${9000 + i}`,
      data: {},
    }));
    const fake = fakeTraefik((path, count) => {
      if (path === "/api/rawdata" && count === 3) { for (const r of routes) serve(fake, r); }
    });
    try {
      const confirm = routeConfirmer(traefikApi({ url: fake.url }), {
        provider: "file",
        intervalMs: 5,
        singleLimit: 2,
      });
      await confirm.served(routes);
      assert.ok(fake.requests.get("/api/rawdata")! >= 3, "not before rawdata shows the routes");
      // The first route may have been polled alone before the others arrived; never the rest.
      const single = [...fake.requests.keys()].filter((p) => p.startsWith("/api/http/"));
      for (const r of routes.slice(1)) {
        const names = [routerName(r.routespec), serviceName(r.routespec)];
        assert.ok(
          !single.some((p) => names.some((name) => p.endsWith("/" + name + "@file"))),
          `${r.routespec} polled one by one: ${single}`,
        );
      }
    } finally {
      await fake.stop();
    }
  },
);
