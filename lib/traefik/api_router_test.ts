import assert from "node:assert/strict";
import { apiRouteConfig } from "./api_router.ts";

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
