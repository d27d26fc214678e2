import assert from "node:assert/strict";
import { staticConfig } from "./static_config.ts";

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

Deno.test("staticConfig allows the encoded characters of quoted user names on both entry points", () => {
  const config = staticConfig({
    publicAddress: "127.0.0.1:8000",
    apiAddress: "127.0.0.1:8099",
    providers: {},
  }) as { entryPoints: Record<string, { http: { encodedCharacters: Record<string, boolean> } }> };
  const expected = {
    allowEncodedSlash: true,
    allowEncodedBackSlash: true,
    allowEncodedNullCharacter: false,
    allowEncodedSemicolon: true,
    allowEncodedPercent: true,
    allowEncodedQuestionMark: true,
    allowEncodedHash: true,
  };
  assert.deepEqual(config.entryPoints.http.http.encodedCharacters, expected);
  assert.deepEqual(config.entryPoints.auth_api.http.encodedCharacters, expected);
  // Each entry point has its own copy: changing one leaves the other alone.
  config.entryPoints.http.http.encodedCharacters.allowEncodedSlash = false;
  assert.equal(config.entryPoints.auth_api.http.encodedCharacters.allowEncodedSlash, true);
});

Deno.test("staticConfig's tree entry points: loopback, the public one's middlewares and timeouts, no TLS", () => {
  const config = staticConfig({
    publicAddress: "0.0.0.0:443",
    apiAddress: "127.0.0.1:8099",
    providers: {},
    tls: true,
    middlewares: ["jupyterhub-errors@file"],
    respondingTimeouts: { readTimeout: "0s" },
    // As the CLI merges its own: the branches get the public entry point's as merged.
    extra: { entryPoints: { http: { transport: { lifeCycle: { graceTimeOut: "1s" } } } } },
    treeEntryPoints: [
      { name: "jupyterhub-tree-0", address: "127.0.0.1:40000" },
      { name: "jupyterhub-tree-1", address: "127.0.0.1:40001" },
    ],
  }) as { entryPoints: Record<string, Record<string, Record<string, unknown>>> };
  const branch = config.entryPoints["jupyterhub-tree-1"];
  assert.equal(branch.address, "127.0.0.1:40001" as unknown);
  assert.deepEqual(branch.http.middlewares, ["jupyterhub-errors@file"]);
  assert.equal(branch.http.tls, undefined);
  assert.deepEqual(config.entryPoints.http.http.tls, {});
  assert.deepEqual(branch.http.encodedCharacters, config.entryPoints.http.http.encodedCharacters);
  assert.deepEqual(branch.transport, {
    respondingTimeouts: { readTimeout: "0s" },
    lifeCycle: { graceTimeOut: "1s" },
  });
  // The public entry point's hop is the only client: its X-Forwarded-* headers are kept.
  assert.deepEqual(branch.forwardedHeaders, { trustedIPs: ["127.0.0.1/32"] });
  assert.equal(config.entryPoints.http.forwardedHeaders, undefined);
  assert.equal(Object.keys(config.entryPoints).length, 4);
});
