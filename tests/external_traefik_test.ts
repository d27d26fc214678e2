/**
 * `--external-traefik`: a traefik the test starts itself from the README's static configuration
 * blocks (taken from README.md, ports changed), with the API router the README shows, and this
 * proxy writing routes for it, on the file provider and on redis.
 */
import assert from "node:assert/strict";
import bcrypt from "bcryptjs";
import { startCli } from "./cli_helpers.ts";
import { freePort, startBackend, waitFor } from "./helpers.ts";
import { startRedis } from "./stores.ts";
import { findTraefik } from "../lib/traefik/process.ts";

const README = new URL("../README.md", import.meta.url);

/** The README's TOML block whose first line is `first`. */
async function readmeBlock(first: string): Promise<string> {
  const text = await Deno.readTextFile(README);
  const start = text.indexOf("```toml\n" + first);
  assert.ok(start >= 0, `README has a block starting with ${first}`);
  const body = text.slice(start + "```toml\n".length);
  return body.slice(0, body.indexOf("```"));
}

interface External {
  publicPort: number;
  publicUrl: string;
  apiUrl: string;
  stop(): Promise<void>;
}

/** Starts traefik on the README's `staticBlock` (addresses replaced), in a directory of its own. */
async function startExternal(
  staticBlock: string,
  replace: (text: string) => string,
  dir: string,
): Promise<External> {
  const publicPort = freePort();
  const apiPort = freePort();
  const config = replace(
    staticBlock
      .replace('address = ":8000"', `address = "127.0.0.1:${publicPort}"`)
      .replace('address = "127.0.0.1:8099"', `address = "127.0.0.1:${apiPort}"`),
  );
  await Deno.writeTextFile(`${dir}/traefik.toml`, config);
  const child = new Deno.Command(await findTraefik(), {
    args: [`--configfile=${dir}/traefik.toml`],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  return {
    publicPort,
    publicUrl: `http://127.0.0.1:${publicPort}`,
    apiUrl: `http://127.0.0.1:${apiPort}`,
    async stop() {
      child.kill("SIGTERM");
      await child.status;
    },
  };
}

/** The README's API router, with a real bcrypt hash. */
async function apiRouter(password: string): Promise<string> {
  return (await readmeBlock("# /etc/traefik/dynamic/api.toml")).replace(
    "$2y$05$...",
    bcrypt.hashSync(password, 4),
  );
}

async function drive(cli: Awaited<ReturnType<typeof startCli>>, publicUrl: string) {
  const backend = startBackend("external");
  try {
    const post = await fetch(`${cli.apiUrl}/api/routes/user/ext`, {
      method: "POST",
      headers: { authorization: "token secret" },
      body: JSON.stringify({ target: backend.url, jupyterhub: true }),
    });
    assert.equal(post.status, 201, await post.text());
    // 201 once the external traefik serves it (no fallback without --fallback-port).
    const served = await fetch(`${publicUrl}/user/ext/x`);
    assert.equal(served.status, 200);
    assert.match(await served.text(), /external/);
    const del = await fetch(`${cli.apiUrl}/api/routes/user/ext`, {
      method: "DELETE",
      headers: { authorization: "token secret" },
    });
    assert.equal(del.status, 204);
    await del.body?.cancel();
    const gone = await fetch(`${publicUrl}/user/ext/x`);
    await gone.body?.cancel();
    assert.equal(gone.status, 404);
    // traefik cannot dial a unix socket, and nothing here relays for an external traefik.
    const unix = await fetch(`${cli.apiUrl}/api/routes/user/unix`, {
      method: "POST",
      headers: { authorization: "token secret" },
      body: JSON.stringify({ target: "http+unix://%2Frun%2Fu.sock" }),
    });
    assert.equal(unix.status, 400);
    assert.match(await unix.text(), /external traefik cannot reach a unix socket/);
  } finally {
    await backend.close();
  }
}

/** Once `traefik`'s API is up, runs our CLI on it with `storeFlags` through `drive`. */
async function driveExternal(traefik: External, storeFlags: string[]): Promise<void> {
  await waitFor(
    async () => (await fetch(`${traefik.apiUrl}/api/overview`)).status === 401,
    "the external traefik's API",
  );
  const cli = await startCli([
    "--external-traefik",
    `--traefik-api-url=${traefik.apiUrl}`,
    "--traefik-api-username=jupyterhub",
    "--traefik-api-password=pw",
    ...storeFlags,
  ], { port: traefik.publicPort });
  try {
    await drive(cli, traefik.publicUrl);
  } finally {
    assert.equal(await cli.stop(), 0);
  }
}

Deno.test("--external-traefik on the README's file-provider configuration", async () => {
  const dir = await Deno.makeTempDir({ prefix: "jhtp-ext-" });
  await Deno.mkdir(`${dir}/dynamic`);
  await Deno.writeTextFile(`${dir}/dynamic/api.toml`, await apiRouter("pw"));
  const traefik = await startExternal(
    await readmeBlock("# traefik.toml for the file provider"),
    (text) => text.replace('"/etc/traefik/dynamic"', JSON.stringify(`${dir}/dynamic`)),
    dir,
  );
  try {
    await driveExternal(traefik, [`--dynamic-config-file=${dir}/dynamic/routes.toml`]);
  } finally {
    await traefik.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("--external-traefik on the README's redis configuration", async () => {
  const dir = await Deno.makeTempDir({ prefix: "jhtp-ext-" });
  const redis = await startRedis();
  await Deno.writeTextFile(`${dir}/api.toml`, await apiRouter("pw"));
  const traefik = await startExternal(
    await readmeBlock("# traefik.toml for redis"),
    (text) =>
      text.replace('"127.0.0.1:6379"', `"127.0.0.1:${redis.port}"`) +
      `[providers.file]\nfilename = ${JSON.stringify(`${dir}/api.toml`)}\n`,
    dir,
  );
  try {
    await driveExternal(traefik, [
      "--provider=redis",
      `--redis-url=redis://127.0.0.1:${redis.port}`,
    ]);
  } finally {
    await traefik.stop();
    await redis.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
