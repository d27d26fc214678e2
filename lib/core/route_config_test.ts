import assert from "node:assert/strict";
import { parseConfig, stringifyConfig } from "./config_format.ts";
import { diff, flatten, unflatten } from "./kv.ts";
import { deepMerge } from "./tree.ts";
import { createRoute, validateData, validateTarget } from "./route.ts";
import {
  routeConfig,
  routesFromConfig,
  SENTINEL_NAME,
  sentinelConfig,
  tableConfig,
} from "./route_config.ts";
import { staticConfig } from "../traefik/static_config.ts";
import { apiRouteConfig } from "../traefik/api_router.ts";
import { RouteDataError, TargetError } from "./errors.ts";

const route = {
  routespec: "/user/alice/",
  target: "http://127.0.0.1:9000",
  data: { user: "alice", server_name: "" },
};

Deno.test("routeConfig builds router, service and metadata with the Python proxy's names", () => {
  assert.deepEqual(routeConfig(route, { entryPoint: "web" }), {
    http: {
      routers: {
        router__2Fuser_2Falice_2F: {
          rule: 'Path("/user/alice") || PathPrefix("/user/alice/")',
          service: "service__2Fuser_2Falice_2F",
          entryPoints: ["web"],
          priority: 112,
        },
      },
      services: {
        service__2Fuser_2Falice_2F: {
          loadBalancer: { servers: [{ url: "http://127.0.0.1:9000" }], passHostHeader: true },
        },
      },
    },
    jupyterhub: {
      routes: {
        router__2Fuser_2Falice_2F: {
          routespec: "/user/alice/",
          target: "http://127.0.0.1:9000",
          router: "router__2Fuser_2Falice_2F",
          service: "service__2Fuser_2Falice_2F",
          data: { user: "alice", server_name: "" },
        },
      },
    },
  });
});

Deno.test("tableConfig holds the sentinel and every route; routesFromConfig reads them back", () => {
  const other = { routespec: "/", target: "http://127.0.0.1:8081", data: { hub: true } };
  const config = tableConfig([route, other], { entryPoint: "http" });
  const routers = (config.http as { routers: Record<string, unknown> }).routers;
  assert.deepEqual(Object.keys(routers).sort(), [
    SENTINEL_NAME,
    "router__2F",
    "router__2Fuser_2Falice_2F",
  ]);
  const read = routesFromConfig(config);
  assert.deepEqual(read.skipped, []);
  assert.deepEqual(read.routes.get("/user/alice/"), route);
  assert.deepEqual(read.routes.get("/"), other);
  assert.deepEqual(tableConfig([], { entryPoint: "http" }), sentinelConfig({ entryPoint: "http" }));
});

Deno.test("routesFromConfig reads the Python proxy's layout and skips broken entries", () => {
  const config = {
    jupyterhub: {
      routes: {
        router__2Fa_2F: { routespec: "/a/", target: "http://x:1", router: "r", service: "s" },
        broken: { routespec: 3 },
        bad: { routespec: "/a b/", target: "http://x:1" },
      },
    },
  };
  const read = routesFromConfig(config);
  assert.deepEqual([...read.routes.values()], [{
    routespec: "/a/",
    target: "http://x:1",
    data: {},
  }]);
  assert.equal(read.skipped.length, 2);
});

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

Deno.test("deepMerge merges objects and replaces arrays and scalars", () => {
  const base = { a: { b: 1, c: [1, 2] }, d: "x" };
  const merged = deepMerge(base, { a: { c: [3], e: true }, d: "y" });
  assert.deepEqual(merged, { a: { b: 1, c: [3], e: true }, d: "y" });
  assert.deepEqual(base, { a: { b: 1, c: [1, 2] }, d: "x" }, "inputs unchanged");
});

Deno.test("staticConfig has private API, ping, no version checks, 0s throttle, extras last", () => {
  const config = staticConfig({
    publicAddress: "127.0.0.1:8000",
    apiAddress: "127.0.0.1:8099",
    providers: { file: { filename: "/r.toml", watch: true } },
    logLevel: "INFO",
    tls: true,
    extra: { log: { level: "DEBUG" }, accessLog: {} },
  }) as Record<string, Record<string, unknown>>;
  assert.deepEqual(config.global, { checkNewVersion: false, sendAnonymousUsage: false });
  assert.deepEqual(config.api, { dashboard: false });
  assert.deepEqual(config.ping, { entryPoint: "auth_api" });
  assert.deepEqual(config.log, { level: "DEBUG" });
  assert.deepEqual(config.accessLog, {});
  assert.equal(config.providers.providersThrottleDuration, "0s");
  const entryPoints = config.entryPoints as Record<string, Record<string, unknown>>;
  assert.equal(entryPoints.http.address, "127.0.0.1:8000");
  assert.deepEqual((entryPoints.http.http as Record<string, unknown>).tls, {});
  assert.equal(entryPoints.auth_api.address, "127.0.0.1:8099");
});

Deno.test("apiRouteConfig puts api@internal behind basicAuth on the private entry point", () => {
  const config = apiRouteConfig({ username: "u", passwordHash: "$2b$04$abc" }) as {
    http: { routers: Record<string, Record<string, unknown>>; middlewares: unknown };
  };
  assert.deepEqual(config.http.routers.route_api.entryPoints, ["auth_api"]);
  assert.equal(config.http.routers.route_api.service, "api@internal");
  assert.deepEqual(config.http.routers.route_api.middlewares, ["auth_api"]);
  assert.deepEqual(config.http.middlewares, {
    auth_api: { basicAuth: { users: ["u:$2b$04$abc"] } },
  });
});

Deno.test("stringifyConfig round-trips TOML and YAML and never emits '{{'", () => {
  const tree = {
    http: { routers: { r: { rule: 'Path("/\\x7b")', entryPoints: ["http"], priority: 5 } } },
    jupyterhub: {
      routes: { r: { data: { s: "{{x}} {{{", b: false, n: 1.5, a: [1, { z: "{{" }] } } },
    },
  };
  for (const format of ["toml", "yaml"] as const) {
    const text = stringifyConfig(tree, format);
    assert.ok(!text.includes("{{"), text);
    assert.deepEqual(JSON.parse(JSON.stringify(parseConfig(text, format))), tree, format);
  }
  assert.throws(() => stringifyConfig({ "{{k": 1 }, "yaml"));
});

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
  assert.equal(
    createRoute({ routespec: "/a", target: "http://h:1" }, { now: new Date(0) }).routespec,
    "/a/",
  );
});
