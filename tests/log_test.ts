/**
 * Logs: with `--log-format json` every line this process and its traefik write is one JSON
 * object; no secret (the API token, traefik's API password, the store's password) is in any line
 * or in traefik's command line; the start prints no warning that tells an operator nothing.
 */

import assert from "node:assert/strict";
import { api, startCli } from "./cli_helpers.ts";
import { childCommands, startBackend } from "./helpers.ts";
import { startRedis } from "./stores.ts";

Deno.test("logs: JSON lines only, no secret in them or in traefik's command line, a quiet start", async () => {
  const backend = startBackend("logs");
  const redisPassword = `redis-${crypto.randomUUID()}`;
  const apiPassword = `traefik-${crypto.randomUUID()}`;
  const token = `token-${crypto.randomUUID()}`;
  const redis = await startRedis({ password: redisPassword });
  const cli = await startCli([
    "--provider",
    "redis",
    "--redis-url",
    redis.url,
    "--redis-password",
    redisPassword,
    "--traefik-api-password",
    apiPassword,
    "--traefik-log-level",
    "INFO",
    "--log-format",
    "json",
  ], { token, logLevel: "debug" });
  let traefikCommand = "";
  try {
    assert.equal((await api(cli, "POST", "/user/a", { target: backend.url }, token)).status, 201);
    assert.equal((await api(cli, "GET", "", undefined, "wrong")).status, 403);
    const response = await fetch(`${cli.publicUrl}/user/a/`);
    await response.body?.cancel();
    traefikCommand = (await childCommands(cli.child.pid)).join("\n");
  } finally {
    await cli.stop();
    await redis.stop();
    await backend.close();
  }
  assert.match(traefikCommand, /traefik/, "traefik was found as the CLI's child");
  const output = cli.stderr();
  const lines = output.split("\n").filter((line) => line.trim() !== "");
  assert.ok(lines.length > 3, output);
  for (const line of lines) {
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(line);
    } catch {
      throw new Error(`not a JSON line: ${line}`);
    }
    assert.ok(typeof parsed.level === "string", line);
  }
  for (const secret of [redisPassword, apiPassword, token]) {
    assert.ok(!output.includes(secret), "a secret is in the log");
    assert.ok(!traefikCommand.includes(secret), "a secret is in traefik's command line");
  }
  assert.doesNotMatch(output, /encoded characters|Ignored build scripts/);
});
