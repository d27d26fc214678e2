import assert from "node:assert/strict";
import { ConfigError } from "../core/errors.ts";
import { instanceConfig, parseHeaders } from "./instance_config.ts";

Deno.test("instanceConfig wires healthz, the catch-all, error pages and headers", () => {
  const { config, middlewares } = instanceConfig({
    entryPoint: "http",
    internalUrl: "http://127.0.0.1:4000",
    defaultTarget: "http://127.0.0.1:8081",
    customHeaders: ["X-Proxy: traefik"],
  });
  const http = config.http as Record<string, Record<string, Record<string, unknown>>>;
  assert.equal(http.routers["jupyterhub-healthz"].rule, 'Path("/_chp_healthz")');
  assert.equal(http.routers["jupyterhub-default"].service, "jupyterhub-default-target");
  assert.equal(http.routers["jupyterhub-default"].priority, 2);
  assert.deepEqual(middlewares, ["jupyterhub-errors", "jupyterhub-headers"]);
  assert.deepEqual(http.middlewares["jupyterhub-headers"], {
    headers: { customRequestHeaders: { "X-Proxy": "traefik" } },
  });
  assert.throws(() => parseHeaders(["no colon"]));
});

Deno.test("parseHeaders refuses a line that is not 'Name: value' with a ConfigError", () => {
  assert.deepEqual(parseHeaders(["X-A: 1", "X-B:two words "]), { "X-A": "1", "X-B": "two words" });
  for (const line of ["no colon", ": empty name", "Bad Name: x"]) {
    assert.throws(() => parseHeaders([line]), ConfigError, line);
  }
});
