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
