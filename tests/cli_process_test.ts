import assert from "node:assert/strict";
import { freePort, hit, rawGet, startBackend } from "./helpers.ts";
import { api, SHIM, startCli } from "./cli_helpers.ts";

Deno.test("CLI: JupyterHub's argv starts it; the API drives real traffic through traefik", async () => {
  const backend = startBackend("user-a");
  const cli = await startCli();
  try {
    const post = await api(cli, "POST", "/user/a", {
      target: backend.url,
      jupyterhub: true,
      user: "a",
      server_name: "",
    });
    assert.equal(post.status, 201);
    await post.body?.cancel();
    // 201 means served: no waiting here.
    const served = await hit(cli.publicUrl + "/user/a/api/status");
    assert.equal(served.backend, "user-a");
    assert.equal(served.path, "/user/a/api/status");
    const list = await api(cli, "GET", "");
    assert.equal(list.headers.get("content-type"), "application/json");
    const routes = await list.json();
    assert.deepEqual(Object.keys(routes), ["/user/a"]);
    assert.equal(routes["/user/a"].user, "a");
    assert.equal(routes["/user/a"].jupyterhub, true);
    const health = await fetch(cli.publicUrl + "/_chp_healthz");
    assert.deepEqual(await health.json(), { status: "OK" });
    const forbidden = await api(cli, "GET", "", undefined, "wrong");
    assert.equal(forbidden.status, 403);
    await forbidden.body?.cancel();
    const del = await api(cli, "DELETE", "/user/a");
    assert.equal(del.status, 204);
    assert.equal((await hit(cli.publicUrl + "/user/a/api/status")).status, 404);
  } finally {
    assert.equal(await cli.stop(), 0, "SIGTERM is a clean exit");
    await backend.close();
  }
});

Deno.test("CLI: SIGTERM stops traefik; a new process on the same ports starts empty", async () => {
  const backend = startBackend("b");
  const first = await startCli();
  const { port, apiPort } = first;
  try {
    const post = await api(first, "POST", "/user/b", { target: backend.url, jupyterhub: true });
    await post.body?.cancel();
  } finally {
    const started = Date.now();
    assert.equal(await first.stop(), 0);
    assert.ok(Date.now() - started < 10_000, "stops within JupyterHub's 10 s");
  }
  // traefik is gone: its public port is free again.
  const probe = Deno.listen({ hostname: "127.0.0.1", port });
  probe.close();
  const second = await startCli([], { port, apiPort });
  try {
    const routes = await (await api(second, "GET", "")).json();
    assert.deepEqual(routes, {}, "the private routes file went away with the first process");
  } finally {
    await second.stop();
    await backend.close();
  }
});

Deno.test("CLI: with --dynamic-config-file, routes survive a crash and are served at once", async () => {
  const dir = await Deno.makeTempDir();
  const file = `${dir}/rules.toml`;
  const backend = startBackend("kept");
  const first = await startCli(["--dynamic-config-file", file]);
  try {
    const post = await api(first, "POST", "/user/k", { target: backend.url, jupyterhub: true });
    assert.equal(post.status, 201);
    await post.body?.cancel();
    first.child.kill("SIGKILL"); // a crash: no cleanup at all
    await first.child.status;
    await first.stop();
    const second = await startCli(["--dynamic-config-file", file], {
      port: first.port,
      apiPort: first.apiPort,
    });
    try {
      const routes = await (await api(second, "GET", "")).json();
      assert.deepEqual(Object.keys(routes), ["/user/k"]);
      assert.equal((await hit(second.publicUrl + "/user/k/")).backend, "kept");
    } finally {
      await second.stop();
    }
  } finally {
    await backend.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("CLI: startup errors exit non-zero with one line saying what to do", async () => {
  const busy = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const busyPort = (busy.addr as Deno.NetAddr).port;
  try {
    const cases: [string[], RegExp][] = [
      [["--port", String(busyPort)], /already in use/],
      [["--nope"], /unknown option --nope/],
      [["--socket", "/tmp/x.sock"], /--socket replaces --ip and --port/],
      [["--dynamic-config-file", "/tmp/rules.txt"], /\.toml, \*\.yaml/],
      [["--extra-static-config", "/nonexistent.toml"], /cannot be read/],
    ];
    for (const [args, message] of cases) {
      const out = await new Deno.Command(SHIM, {
        args: ["--ip", "127.0.0.1", "--api-port", String(freePort()), ...args],
        env: { TRAEFIK_BIN: "" },
        stdin: "null",
      }).output();
      const stderr = new TextDecoder().decode(out.stderr);
      assert.notEqual(out.code, 0, args.join(" "));
      assert.match(stderr, message, args.join(" "));
    }
    const missing = await new Deno.Command(SHIM, {
      args: ["--ip", "127.0.0.1", "--port", String(freePort()), "--api-port", String(freePort())],
      env: { TRAEFIK_BIN: "/nonexistent/traefik", PATH: "/usr/bin:/bin" },
      stdin: "null",
    }).output();
    assert.equal(missing.code, 1);
    assert.match(new TextDecoder().decode(missing.stderr), /traefik was not found|TRAEFIK_BIN/);
  } finally {
    busy.close();
  }
});

Deno.test("CLI: --default-target, --custom-header and a dead target (503) behave like CHP", async () => {
  const fallback = startBackend("default");
  const cli = await startCli([
    "--default-target",
    fallback.url,
    "--custom-header",
    "X-Test-Header: hello",
  ]);
  try {
    const fallbackHit = await hit(cli.publicUrl + "/anything");
    assert.equal(fallbackHit.backend, "default");
    assert.equal(fallbackHit.testHeader, "hello", "--custom-header reaches the target");
    const post = await api(cli, "POST", "/user/dead", {
      target: `http://127.0.0.1:${freePort()}`,
      jupyterhub: true,
    });
    await post.body?.cancel();
    assert.equal((await hit(cli.publicUrl + "/user/dead/x")).status, 503);
    const routes = await (await api(cli, "GET", "")).json();
    assert.deepEqual(Object.keys(routes), ["/user/dead"], "the default target is not a hub route");
  } finally {
    await cli.stop();
    await fallback.close();
  }
});

Deno.test("CLI: a route POSTed in one spelling of a reserved character answers every spelling", async () => {
  const backend = startBackend("dollar");
  const cli = await startCli();
  try {
    const post = await api(cli, "POST", "/user/a%24b", { target: backend.url, jupyterhub: true });
    assert.equal(post.status, 201);
    await post.body?.cancel();
    for (const path of ["/user/a$b/x", "/user/a%24b/x", "/user/a%24b"]) {
      assert.equal((await rawGet(cli.publicUrl, path, "127.0.0.1")).backend, "dollar", path);
    }
    assert.equal((await rawGet(cli.publicUrl, "/user/a$bc/x", "127.0.0.1")).status, 404);
    const routes = await (await api(cli, "GET", "")).json();
    assert.deepEqual(Object.keys(routes), ["/user/a$b"]);
    const del = await api(cli, "DELETE", "/user/a$b");
    assert.equal(del.status, 204);
    assert.equal((await rawGet(cli.publicUrl, "/user/a$b/x", "127.0.0.1")).status, 404);
  } finally {
    assert.equal(await cli.stop(), 0);
    await backend.close();
  }
});

Deno.test("CLI: --log-format json makes every line of its log and traefik's one JSON object", async () => {
  const cli = await startCli(["--log-format", "json", "--traefik-log-level", "info"]);
  let stderr = "";
  try {
    const post = await api(cli, "POST", "/user/j", { target: "http://127.0.0.1:1" });
    await post.body?.cancel();
  } finally {
    assert.equal(await cli.stop(), 0);
    stderr = cli.stderr();
  }
  const lines = stderr.split("\n").filter((line) => line.trim() !== "");
  assert.ok(lines.length >= 2, stderr);
  for (const line of lines) {
    const entry = JSON.parse(line);
    assert.ok(typeof entry.level === "string" && typeof entry.time === "string", line);
  }
  assert.ok(lines.some((line) => JSON.parse(line).logger === "traefik-proxy"), "ours");
  assert.ok(lines.some((line) => JSON.parse(line).logger !== "traefik-proxy"), "traefik's");
});

Deno.test("CLI: --traefik-dashboard on the private API address only, behind its basicAuth", async () => {
  const apiPort = freePort();
  const cli = await startCli([
    "--traefik-dashboard",
    `--traefik-api-url=http://127.0.0.1:${apiPort}`,
    "--traefik-api-username=admin",
    "--traefik-api-password=dash-pw",
  ]);
  try {
    const url = `http://127.0.0.1:${apiPort}/dashboard/`;
    const anonymous = await fetch(url);
    await anonymous.body?.cancel();
    assert.equal(anonymous.status, 401);
    const page = await fetch(url, { headers: { authorization: `Basic ${btoa("admin:dash-pw")}` } });
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<html|<!DOCTYPE/i);
    const routers = await fetch(`http://127.0.0.1:${apiPort}/api/http/routers`, {
      headers: { authorization: `Basic ${btoa("admin:dash-pw")}` },
    });
    assert.equal(routers.status, 200, "the API the dashboard reads");
    await routers.body?.cancel();
    const publicSide = await fetch(`${cli.publicUrl}/dashboard/`);
    await publicSide.body?.cancel();
    assert.equal(publicSide.status, 404, "never on the public port");
  } finally {
    assert.equal(await cli.stop(), 0);
  }
});
