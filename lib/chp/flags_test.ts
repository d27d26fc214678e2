import assert from "node:assert/strict";
import { FLAGS, type FlagSpec, helpText, parseFlags } from "./flags.ts";
import { ConfigError } from "../core/errors.ts";

Deno.test("parseFlags reads JupyterHub's argv: both forms, last occurrence wins", () => {
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
  const { values, warnings } = parseFlags(argv);
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

Deno.test("parseFlags accepts an empty --ip, IPv6, negations, env and config values", () => {
  const { values, warnings } = parseFlags(
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

Deno.test("parseFlags rejects unknown flags, missing values and bad numbers clearly", () => {
  assert.throws(() => parseFlags(["--nope"]), /unknown option --nope/);
  assert.throws(() => parseFlags(["--port"]), /--port needs a value/);
  assert.throws(() => parseFlags(["--port", "abc"]), /--port must be a non-negative number/);
  assert.throws(() => parseFlags(["positional"]), ConfigError);
  assert.throws(() => parseFlags([], { config: { bogus: 1 } }), /unknown option bogus/);
});

Deno.test("parseFlags reports every argv mistake as a ConfigError saying what to type", () => {
  const rows: [string[], RegExp][] = [
    [["--nope"], /^unknown option --nope; see --help$/],
    [["--no-ip"], /^unknown option --no-ip/],
    [["-x"], /^unknown option -x/],
    [["positional"], /^unexpected argument "positional"/],
    [["--ip", "--port", "8000"], /^--ip needs a value; write --ip=VALUE/],
    // The one change from configurable-http-proxy: booleans take no value.
    [["--host-routing=true"], /^--host-routing takes no value; write --host-routing or --no-/],
    [["--port=-1"], /^--port must be a non-negative number, not "-1"$/],
    [["--api-port", ""], /^--api-port must be a non-negative number/],
  ];
  for (const [argv, message] of rows) {
    assert.throws(() => parseFlags(argv), (error: unknown) => {
      assert.ok(error instanceof ConfigError, argv.join(" "));
      assert.match(error.message, message, argv.join(" "));
      return true;
    });
  }
});

Deno.test("parseFlags gives each flag its type, from argv, the environment and a config file", () => {
  const { values } = parseFlags(["--port=8000", "--no-host-routing"], {
    env: {
      JUPYTERHUB_TRAEFIK_EXTERNAL_TRAEFIK: "yes",
      JUPYTERHUB_TRAEFIK_INSECURE: "0",
      JUPYTERHUB_TRAEFIK_CHECK_ROUTE_TIMEOUT: "60",
      JUPYTERHUB_TRAEFIK_CUSTOM_HEADER: "X-Env: 1",
      JUPYTERHUB_TRAEFIK_PORT: "9999",
    },
    config: {
      "metrics-port": 9100,
      "host-routing": true,
      "redirect-port": "8080",
      "ssl-request-cert": false,
      "api_ip": "127.0.0.1",
    },
  });
  assert.deepEqual(values, {
    port: 8000,
    "host-routing": false,
    "external-traefik": true,
    insecure: false,
    "check-route-timeout": 60,
    "custom-header": ["X-Env: 1"],
    "metrics-port": 9100,
    "redirect-port": 8080,
    "ssl-request-cert": false,
    "api-ip": "127.0.0.1",
  });
  const listed = parseFlags([], { config: { custom_header: ["X-A: 1", "X-B: 2"] } });
  assert.deepEqual(listed.values["custom-header"], ["X-A: 1", "X-B: 2"]);
  assert.throws(
    () => parseFlags([], { env: { JUPYTERHUB_TRAEFIK_INSECURE: "maybe" } }),
    /^ConfigError: JUPYTERHUB_TRAEFIK_INSECURE must be true or false, not "maybe"$/,
  );
  assert.throws(() => parseFlags([], { config: { config: "x.toml" } }), /unknown option config/);
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
  const table: Record<string, FlagSpec> = FLAGS;
  const help = helpText();
  for (const name of chp) {
    assert.ok(table[name]?.chp, name);
    assert.ok(help.includes(`--${name}`), name);
  }
});
