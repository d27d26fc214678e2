/**
 * Drift repair: a router removed behind the proxy's back (from the file traefik reads, or from
 * the redis traefik reads itself) is back within an interval, a router traefik serves for a
 * route the table does not have goes, and the repair counter moves.
 */

import assert from "node:assert/strict";
import { parse, stringify } from "smol-toml";
import { createClient } from "redis";
import { api, type Cli, startCli } from "./cli_helpers.ts";
import { childCommands, freePort, startBackend, waitFor } from "./helpers.ts";
import { startRedis } from "./stores.ts";

async function status(url: string): Promise<number> {
  const response = await fetch(url);
  await response.body?.cancel();
  return response.status;
}

async function repairs(metricsPort: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith("jupyterhub_proxy_drift_repairs_total "));
  return Number(line?.split(" ")[1] ?? NaN);
}

function flags(metricsPort: number): string[] {
  return [
    "--drift-interval",
    "2",
    "--metrics-ip",
    "127.0.0.1",
    "--metrics-port",
    String(metricsPort),
  ];
}

Deno.test("drift: a router removed from the routes file behind the proxy's back comes back", async () => {
  const backend = startBackend("drift");
  const dir = await Deno.makeTempDir({ prefix: "jhtp-drift-" });
  const file = `${dir}/routes.toml`;
  const metricsPort = freePort();
  // Without the fallback, traefik reads this file itself.
  const cli: Cli = await startCli([
    "--dynamic-config-file",
    file,
    "--no-fallback",
    ...flags(metricsPort),
  ]);
  try {
    assert.equal((await api(cli, "POST", "/user/a", { target: backend.url })).status, 201);
    assert.equal(await status(`${cli.publicUrl}/user/a/`), 200);
    assert.equal(await repairs(metricsPort), 0);
    const config = parse(await Deno.readTextFile(file)) as {
      http: { routers: Record<string, unknown> };
    };
    delete config.http.routers["router__2Fuser_2Fa_2F"];
    await Deno.writeTextFile(file, stringify(config));
    await waitFor(
      async () => await status(`${cli.publicUrl}/user/a/`) !== 200,
      "traefik lost it",
      5_000,
    );
    await waitFor(async () => await status(`${cli.publicUrl}/user/a/`) === 200, "repaired", 10_000);
    assert.equal(await repairs(metricsPort), 1);
    assert.match(cli.stderr(), /drift: traefik lacked or had a stale 1 route\(s\) \(\/user\/a\/\)/);
  } finally {
    await cli.stop();
    await backend.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("drift: with traefik reading redis itself, lost keys come back and stray routers go", async () => {
  const backend = startBackend("drift");
  const redis = await startRedis();
  const metricsPort = freePort();
  const cli = await startCli([
    "--provider",
    "redis",
    "--redis-url",
    redis.url,
    "--traefik-reads-store",
    ...flags(metricsPort),
  ]);
  const client = createClient({ url: redis.url });
  await client.connect();
  try {
    assert.equal((await api(cli, "POST", "/user/b", { target: backend.url })).status, 201);
    await waitFor(async () => await status(`${cli.publicUrl}/user/b/`) === 200, "served", 20_000);
    // Behind the proxy's back: traefik's router of /user/b goes, a router nobody added comes.
    const lost = await client.keys("traefik/http/routers/router__2Fuser_2Fb_2F/*");
    assert.ok(lost.length > 0);
    await client.del(lost);
    const stray = "traefik/http/routers/router__2Fuser_2Fstray_2F";
    await client.set(`${stray}/rule`, 'PathPrefix("/user/stray/")');
    await client.set(`${stray}/service`, "service__2Fuser_2Fb_2F");
    await client.set(`${stray}/entryPoints/0`, "http");
    await client.set(`${stray}/priority`, "1000");
    await waitFor(
      async () => (await client.keys(`${stray}/*`)).length === 0,
      "stray removed",
      20_000,
    );
    await waitFor(async () => await repairs(metricsPort) >= 2, "both repairs counted", 20_000);
    assert.ok((await client.keys("traefik/http/routers/router__2Fuser_2Fb_2F/*")).length > 0);
    await waitFor(async () => await status(`${cli.publicUrl}/user/b/`) === 200, "repaired", 20_000);
    await waitFor(async () => await status(`${cli.publicUrl}/user/stray/`) !== 200, "gone", 20_000);
    assert.match(
      cli.stderr(),
      /drift: traefik still served 1 deleted route\(s\) \(\/user\/stray\/\)/,
    );
  } catch (error) {
    console.log(cli.stderr().slice(-3000));
    throw error;
  } finally {
    await client.close();
    await cli.stop();
    await redis.stop();
    await backend.close();
  }
});

Deno.test("drift: a router removed from the private file a fed traefik reads comes back", async () => {
  const backend = startBackend("drift");
  const metricsPort = freePort();
  const apiPort = freePort();
  const password = crypto.randomUUID();
  // The default: traefik reads a private copy of the table (redis here), with the fallback on.
  const redis = await startRedis();
  const cli = await startCli([
    "--provider",
    "redis",
    "--redis-url",
    redis.url,
    "--traefik-api-url",
    `http://127.0.0.1:${apiPort}`,
    "--traefik-api-password",
    password,
    ...flags(metricsPort),
  ]);
  const router = async () => {
    const response = await fetch(
      `http://127.0.0.1:${apiPort}/api/http/routers/router__2Fuser_2Fc_2F@file`,
      { headers: { authorization: `Basic ${btoa(`jupyterhub:${password}`)}` } },
    );
    await response.body?.cancel();
    return response.status;
  };
  try {
    assert.equal((await api(cli, "POST", "/user/c", { target: backend.url })).status, 201);
    await waitFor(async () => await router() === 200, "traefik took the route over", 10_000);
    // The private file is beside traefik's static configuration, in its command line.
    const traefik = (await childCommands(cli.child.pid)).join("\n");
    const file = `${/--configFile=(\S+)\/traefik\.toml/.exec(traefik)![1]}/routes.toml`;
    const config = parse(await Deno.readTextFile(file)) as {
      http: { routers: Record<string, unknown> };
    };
    delete config.http.routers["router__2Fuser_2Fc_2F"];
    await Deno.writeTextFile(file, stringify(config));
    await waitFor(async () => await router() === 404, "traefik lost it", 5_000);
    await waitFor(async () => await router() === 200, "repaired", 10_000);
    assert.ok(await repairs(metricsPort) >= 1);
  } finally {
    await cli.stop();
    await redis.stop();
    await backend.close();
  }
});
