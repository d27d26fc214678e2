/**
 * A real JupyterHub (from .tools/venv) with DummyAuthenticator and SimpleLocalProcessSpawner,
 * our CLI as its proxy command, and a real jupyter_server single-user server behind traefik.
 */
import assert from "node:assert/strict";
import { freePort, processAlive, waitFor } from "./helpers.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const VENV = `${ROOT}.tools/venv`;
const SHIM = `${ROOT}tests/bin/configurable-http-proxy`;

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

Deno.test({
  name: "JupyterHub drives the proxy: a user's server answers through traefik",
  ignore: !(await exists(`${VENV}/bin/jupyterhub`)),
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "jhtp-hub-" });
    const port = freePort();
    const hubPort = freePort();
    const apiPort = freePort();
    const token = crypto.randomUUID().replaceAll("-", "");
    const user = `u${Date.now() % 100000}`;
    await Deno.writeTextFile(
      `${dir}/jupyterhub_config.py`,
      `
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = ${port}
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = ${hubPort}
c.JupyterHub.db_url = "sqlite:///${dir}/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = "${dir}/cookie_secret"
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:${apiPort}"
c.ConfigurableHTTPProxy.command = ["${SHIM}"]
c.ConfigurableHTTPProxy.pid_file = "${dir}/proxy.pid"
c.JupyterHub.authenticator_class = "dummy"
c.Authenticator.allow_all = True
c.JupyterHub.spawner_class = "simple"
c.Spawner.cmd = ["${VENV}/bin/jupyterhub-singleuser"]
c.Spawner.start_timeout = 60
c.Spawner.args = ["--allow-root"]
c.Spawner.http_timeout = 60
c.JupyterHub.services = [{"name": "tester", "api_token": "${token}"}]
c.JupyterHub.load_roles = [{
    "name": "tester",
    "scopes": ["admin:users", "admin:servers", "proxy", "access:servers", "list:users"],
    "services": ["tester"],
}]
`,
    );
    const hub = new Deno.Command(`${VENV}/bin/jupyterhub`, {
      args: ["-f", `${dir}/jupyterhub_config.py`],
      cwd: dir,
      env: {
        PATH: `${VENV}/bin:${Deno.env.get("PATH")}`,
        HOME: dir,
        // The proxy's Deno keeps the runner's module cache: with HOME moved, it would fetch
        // every npm package again before starting, close to the hub's 10 s limit.
        DENO_DIR: Deno.env.get("DENO_DIR") ?? `${Deno.env.get("HOME")}/.cache/deno`,
      },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    let log = "";
    const decoder = new TextDecoder();
    const pumps = Promise.all([hub.stdout, hub.stderr].map(async (stream) => {
      for await (const chunk of stream) log += decoder.decode(chunk);
    }));
    const base = `http://127.0.0.1:${port}`;
    const headers = { authorization: `token ${token}` };
    const hubApi = async (method: string, path: string) => {
      const response = await fetch(`${base}/hub/api${path}`, { method, headers });
      const text = await response.text();
      return { status: response.status, body: text ? JSON.parse(text) : undefined };
    };
    let proxyPid = 0;
    try {
      // The hub answers through our proxy once both are up.
      await waitFor(async () => (await hubApi("GET", "/")).status === 200, "the hub", 60_000);
      proxyPid = Number((await Deno.readTextFile(`${dir}/proxy.pid`)).trim());
      assert.ok(await processAlive(proxyPid), "the hub started our proxy");

      assert.equal((await hubApi("POST", `/users/${user}`)).status, 201);
      const spawn = await hubApi("POST", `/users/${user}/server`);
      assert.ok([201, 202].includes(spawn.status), `spawn: ${spawn.status}`);
      await waitFor(
        async () => {
          const model = await hubApi("GET", `/users/${user}`);
          return model.body?.servers?.[""]?.ready === true;
        },
        "the user's server",
        90_000,
      );

      const status = await fetch(`${base}/user/${user}/api/status`, { headers });
      assert.equal(status.status, 200, "the single-user server answers through traefik");
      const body = await status.json();
      assert.ok("started" in body, JSON.stringify(body));

      const table = await hubApi("GET", "/proxy");
      assert.equal(table.status, 200);
      assert.ok(table.body[`/user/${user}/`], JSON.stringify(table.body));
      assert.equal(table.body[`/user/${user}/`].data.user, user);
      assert.ok(table.body["/"].data.hub, "the hub's own route is there");

      const stop = await hubApi("DELETE", `/users/${user}/server`);
      assert.ok([202, 204].includes(stop.status), `stop: ${stop.status}`);
      await waitFor(
        async () => {
          const model = await hubApi("GET", `/users/${user}`);
          return Object.keys(model.body?.servers ?? {}).length === 0;
        },
        "the server to stop",
        60_000,
      );
      const after = await hubApi("GET", "/proxy");
      assert.equal(after.body[`/user/${user}/`], undefined, "the route is gone");
      const gone = await fetch(`${base}/user/${user}/api/status`, {
        headers,
        redirect: "manual",
      });
      await gone.body?.cancel();
      assert.notEqual(gone.status, 200);
    } catch (error) {
      console.error(log.slice(-6000));
      throw error;
    } finally {
      hub.kill("SIGTERM");
      await hub.status;
      await pumps;
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
    // Stopping the hub stopped our process, and with it traefik (the public port is free).
    await waitFor(async () => !(await processAlive(proxyPid)), "our proxy to exit", 15_000);
    await waitFor(
      () => {
        try {
          Deno.listen({ hostname: "127.0.0.1", port }).close();
          return true;
        } catch {
          return false;
        }
      },
      "the public port to be free",
      15_000,
    );
  },
});
