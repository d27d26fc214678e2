import assert from "node:assert/strict";
import { FLAGS, helpText, parseArgs } from "./flags.ts";
import { cliSettings, hostPort } from "./settings.ts";
import { chpPathFromRoutespec, routespecFromChpPath } from "./path.ts";
import { ConfigError, RoutespecError } from "../core/errors.ts";
import { instanceConfig, parseHeaders } from "./instance_config.ts";

Deno.test("parseArgs reads JupyterHub's argv: both forms, last occurrence wins", () => {
  const argv = [
    "--ip",
    "0.0.0.0",
    "--port",
    "1234", // operator's flags come first
    "--ip",
    "127.0.0.1",
    "--port",
    "8000",
    "--api-ip",
    "127.0.0.1",
    "--api-port",
    "8001",
    "--error-target",
    "http://127.0.0.1:8081/hub/error",
    "--log-level=debug",
    "--host-routing",
    "--custom-header",
    "X-A: 1",
    "--custom-header=X-B: 2",
  ];
  const { values, warnings } = parseArgs(argv);
  assert.deepEqual(values, {
    ip: "127.0.0.1",
    port: 8000,
    "api-ip": "127.0.0.1",
    "api-port": 8001,
    "error-target": "http://127.0.0.1:8081/hub/error",
    "log-level": "debug",
    "host-routing": true,
    "custom-header": ["X-A: 1", "X-B: 2"],
  });
  assert.deepEqual(warnings, []);
});

Deno.test("parseArgs accepts an empty --ip, IPv6, negations, env and config values", () => {
  const { values, warnings } = parseArgs(
    ["--ip", "", "--api-ip=::1", "--no-x-forward", "--no-prepend-path", "--insecure"],
    {
      env: { JUPYTERHUB_TRAEFIK_REDIS_URL: "redis://127.0.0.1:6379", JUPYTERHUB_TRAEFIK_IP: "x" },
      config: { provider: "etcd", traefik_log_level: "debug", ip: "ignored" },
    },
  );
  assert.equal(values.ip, "");
  assert.equal(values["api-ip"], "::1");
  assert.equal(values["x-forward"], false);
  assert.equal(values.insecure, true);
  assert.equal(values["redis-url"], "redis://127.0.0.1:6379");
  assert.equal(values.provider, "etcd");
  assert.equal(values["traefik-log-level"], "debug");
  assert.equal(warnings.length, 2, "one warning per unsupported flag");
  assert.match(warnings[0], /--x-forward .* no effect/);
});

Deno.test("parseArgs rejects unknown flags, missing values and bad numbers clearly", () => {
  assert.throws(() => parseArgs(["--nope"]), /unknown option --nope/);
  assert.throws(() => parseArgs(["--port"]), /--port needs a value/);
  assert.throws(() => parseArgs(["--port", "abc"]), /--port must be a non-negative number/);
  assert.throws(() => parseArgs(["positional"]), ConfigError);
  assert.throws(() => parseArgs([], { config: { bogus: 1 } }), /unknown option bogus/);
});

Deno.test("every CHP flag is accepted and documented", () => {
  const chp = [
    "ip",
    "port",
    "api-ip",
    "api-port",
    "api-socket",
    "default-target",
    "error-target",
    "error-path",
    "ssl-key",
    "ssl-cert",
    "ssl-ca",
    "ssl-request-cert",
    "ssl-reject-unauthorized",
    "ssl-protocol",
    "ssl-ciphers",
    "ssl-allow-rc4",
    "ssl-dhparam",
    "api-ssl-key",
    "api-ssl-cert",
    "api-ssl-ca",
    "api-ssl-request-cert",
    "api-ssl-reject-unauthorized",
    "client-ssl-key",
    "client-ssl-cert",
    "client-ssl-ca",
    "client-ssl-request-cert",
    "client-ssl-reject-unauthorized",
    "redirect-port",
    "redirect-to",
    "pid-file",
    "x-forward",
    "prepend-path",
    "include-prefix",
    "auto-rewrite",
    "change-origin",
    "protocol-rewrite",
    "custom-header",
    "insecure",
    "host-routing",
    "metrics-ip",
    "metrics-port",
    "log-level",
    "timeout",
    "proxy-timeout",
    "keep-alive-timeout",
    "storage-backend",
  ];
  const help = helpText();
  for (const name of chp) {
    assert.ok(FLAGS[name]?.chp, name);
    assert.ok(help.includes(`--${name}`), name);
  }
});

Deno.test("cliSettings maps CHP flags onto traefik", () => {
  const s = cliSettings(
    parseArgs([
      "--ip",
      "",
      "--port",
      "8000",
      "--api-ip",
      "127.0.0.1",
      "--api-port",
      "8001",
      "--ssl-key",
      "k.pem",
      "--ssl-cert",
      "c.pem",
      "--redirect-port",
      "8080",
      "--metrics-port",
      "9100",
      "--proxy-timeout",
      "5000",
      "--keep-alive-timeout",
      "7000",
      "--insecure",
    ]).values,
  );
  assert.equal(s.publicAddress, ":8000");
  assert.deepEqual(s.api, { hostname: "127.0.0.1", port: 8001 });
  assert.deepEqual(s.tls, { certFile: "c.pem", keyFile: "k.pem" });
  assert.equal(s.entryPoint, "https");
  const extras = s.staticExtras as Record<string, Record<string, Record<string, unknown>>>;
  assert.deepEqual(extras.entryPoints.redirect, {
    address: ":8080",
    http: { redirections: { entryPoint: { to: "https", scheme: "https" } } },
  });
  assert.deepEqual(extras.entryPoints.metrics, { address: ":9100" });
  assert.deepEqual(extras.metrics, { prometheus: { entryPoint: "metrics" } });
  assert.deepEqual(extras.serversTransport, {
    insecureSkipVerify: true,
    forwardingTimeouts: { responseHeaderTimeout: "5000ms" },
  });
  assert.deepEqual(
    (extras.entryPoints.https as Record<string, Record<string, unknown>>).transport
      .respondingTimeouts,
    { readTimeout: "0s", idleTimeout: "7000ms" },
  );
  assert.equal(cliSettings({}).publicAddress, ":8000");
  assert.deepEqual(cliSettings({}).api, { hostname: "localhost", port: 8001 });
  assert.deepEqual(cliSettings({ "api-socket": "/tmp/s" }).api, { path: "/tmp/s" });
  assert.equal(cliSettings({ provider: "traefik_toml" }).provider, "file");
});

Deno.test("cliSettings refuses what traefik cannot do, saying what to use instead", () => {
  assert.throws(() => cliSettings({ socket: "/tmp/p.sock" }), /--ip\/--port/);
  assert.throws(() => cliSettings({ provider: "zookeeper" }), /use file, redis or etcd/);
  assert.throws(() => cliSettings({ "ssl-key": "k" }), /together/);
  assert.throws(() => cliSettings({ port: 70000 }), /--port must be a port number/);
  assert.throws(() => cliSettings({ "traefik-entrypoint": "a b" }), /entrypoint/);
});

Deno.test("hostPort formats traefik addresses", () => {
  assert.equal(hostPort("", 80), ":80");
  assert.equal(hostPort("127.0.0.1", 80), "127.0.0.1:80");
  assert.equal(hostPort("::1", 80), "[::1]:80");
  assert.equal(hostPort("localhost", 80), "localhost:80");
});

Deno.test("CHP paths convert to routespecs and back, percent-decoded", () => {
  const rows: [string, boolean, string, string][] = [
    ["", false, "/", "/"],
    ["/", false, "/", "/"],
    ["/user/alice", false, "/user/alice/", "/user/alice"],
    [
      "/@/space%20word/user/%E7%A7%80%E6%A8%B9",
      false,
      "/@/space%20word/user/%E7%A7%80%E6%A8%B9/",
      "/@/space word/user/秀樹",
    ],
    ["/h.example/user/a", true, "h.example/user/a/", "/h.example/user/a"],
    ["/", true, "/", "/"],
  ];
  for (const [path, hostRouting, routespec, key] of rows) {
    assert.equal(routespecFromChpPath(path, { hostRouting }), routespec, path);
    assert.equal(chpPathFromRoutespec(routespec), key, path);
  }
  assert.throws(() => routespecFromChpPath("/a b"), RoutespecError);
});

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
