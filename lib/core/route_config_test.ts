import assert from "node:assert/strict";
import {
  routeConfig,
  routesFromConfig,
  SENTINEL_NAME,
  sentinelConfig,
  tableConfig,
} from "./route_config.ts";

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
