import assert from "node:assert/strict";
import { cliSettings } from "./settings.ts";
import { proxyOptions } from "./proxy_options.ts";
import { staticConfig } from "../traefik/static_config.ts";

const runtime = {
  traefikApiUrl: "http://127.0.0.1:8099",
  internalUrl: "http://127.0.0.1:40000",
};

Deno.test("proxyOptions gives a traefik started here this process's pages and headers", () => {
  const settings = cliSettings({
    ip: "127.0.0.1",
    port: 8000,
    "custom-header": ["X-A: 1"],
    "traefik-api-username": "u",
    "traefik-api-password": "p",
    "traefik-bin": "/opt/traefik",
    "traefik-log-level": "info",
    "static-config-file": "static.toml",
    "check-route-timeout": 5,
  });
  const options = proxyOptions(settings, {
    ...runtime,
    extraStaticConfig: { accessLog: {} },
    extraDynamicConfig: { http: { middlewares: { mine: { headers: {} } } } },
  });
  assert.equal(options.publicAddress, "127.0.0.1:8000");
  assert.equal(options.apiAddress, "127.0.0.1:8099");
  assert.equal(options.apiUsername, "u");
  assert.equal(options.apiPassword, "p");
  assert.equal(options.external, undefined);
  assert.equal(options.traefikBinary, "/opt/traefik");
  assert.equal(options.traefikLogLevel, "INFO");
  assert.equal(options.staticConfigFile, "static.toml");
  assert.equal(options.checkRouteTimeoutMs, 5_000);
  assert.equal(options.stopGraceMs, 5_000);
  assert.deepEqual(options.provider, { kind: "file", path: undefined });
  assert.deepEqual(options.middlewares, ["jupyterhub-errors@file", "jupyterhub-headers@file"]);
  assert.deepEqual(options.extraStaticConfig?.accessLog, {});
  const http = options.extraDynamicConfig?.http as Record<string, Record<string, unknown>>;
  assert.ok(http.routers["jupyterhub-healthz"]);
  assert.deepEqual(Object.keys(http.middlewares).sort(), [
    "jupyterhub-errors",
    "jupyterhub-headers",
    "mine",
  ]);
});

Deno.test("proxyOptions gives an external traefik only the extra configuration", () => {
  const settings = cliSettings({
    "external-traefik": true,
    "traefik-api-url": "http://traefik.internal:8099",
    "traefik-api-username": "u",
    "traefik-api-password": "p",
  });
  const options = proxyOptions(settings, {
    ...runtime,
    traefikApiUrl: "http://traefik.internal:8099",
    extraDynamicConfig: { http: { routers: {} } },
  });
  assert.deepEqual(options.external, {
    apiUrl: "http://traefik.internal:8099",
    username: "u",
    password: "p",
  });
  assert.deepEqual(options.middlewares, []);
  assert.deepEqual(options.extraDynamicConfig, { http: { routers: {} } });
});

Deno.test("proxyOptions refuses an invalid --custom-header", () => {
  assert.throws(
    () => proxyOptions(cliSettings({ "custom-header": ["nope"] }), runtime),
    /--custom-header "nope" is not 'Name: value'/,
  );
});

Deno.test("proxyOptions: the tree's branches get the public entry point's timeouts as the CLI sets them", () => {
  const options = proxyOptions(cliSettings({ "keep-alive-timeout": 7_000 }), runtime);
  assert.equal(options.entryTree, 2_000);
  const config = staticConfig({
    publicAddress: "127.0.0.1:8000",
    apiAddress: "127.0.0.1:8099",
    providers: {},
    respondingTimeouts: options.respondingTimeouts,
    extra: options.extraStaticConfig,
    treeEntryPoints: [{ name: "jupyterhub-tree-0", address: "127.0.0.1:40000" }],
  }) as { entryPoints: Record<string, { transport?: unknown }> };
  // No read timeout (long uploads), the keep-alive and the grace period: on the branch as on
  // the public entry point, since a request crosses both.
  const transport = config.entryPoints.http.transport as {
    respondingTimeouts: { readTimeout: string };
  };
  assert.equal(transport.respondingTimeouts.readTimeout, "0s");
  assert.deepEqual(config.entryPoints["jupyterhub-tree-0"].transport, transport);
});
