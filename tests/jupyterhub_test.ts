/**
 * A real JupyterHub (from .tools/venv) with DummyAuthenticator and SimpleLocalProcessSpawner,
 * our CLI as its proxy command, and a real jupyter_server single-user server behind traefik.
 */
import assert from "node:assert/strict";
import { freePort, processAlive, waitFor } from "./helpers.ts";
import { api, type Cli, spawnCollecting, startCli } from "./cli_helpers.ts";
import { startRedis } from "./stores.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const VENV = `${ROOT}.tools/venv`;
const SHIM = `${ROOT}tests/bin/configurable-http-proxy`;

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

/** A running JupyterHub, its public URL and its REST API as the `tester` service. */
interface Hub {
  base: string;
  dir: string;
  apiPort: number;
  /** The hub's JSON answer, navigated freely by the tests. */
  // deno-lint-ignore no-explicit-any
  hubApi(method: string, path: string): Promise<{ status: number; body: any }>;
  headers: Record<string, string>;
  log(): string;
  /** SIGTERM to the hub, and its directory removed. */
  stop(): Promise<void>;
}

/** Starts JupyterHub with our CLI (`proxyArgs` before the hub's own) as its proxy. */
async function startHub(options: { proxyArgs?: string[]; config?: string } = {}): Promise<Hub> {
  const dir = await Deno.makeTempDir({ prefix: "jhtp-hub-" });
  const port = freePort();
  const hubPort = freePort();
  const apiPort = freePort();
  const token = crypto.randomUUID().replaceAll("-", "");
  const command = JSON.stringify([SHIM, ...(options.proxyArgs ?? [])]);
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
c.ConfigurableHTTPProxy.command = ${command}
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
${options.config ?? ""}
`,
  );
  const hub = spawnCollecting(`${VENV}/bin/jupyterhub`, {
    args: ["-f", `${dir}/jupyterhub_config.py`],
    cwd: dir,
    env: {
      PATH: `${VENV}/bin:${Deno.env.get("PATH")}`,
      HOME: dir,
      // The proxy's Deno keeps the runner's module cache: with HOME moved, it would fetch
      // every npm package again before starting, close to the hub's 10 s limit.
      DENO_DIR: Deno.env.get("DENO_DIR") ?? `${Deno.env.get("HOME")}/.cache/deno`,
    },
  });
  const base = `http://127.0.0.1:${port}`;
  const headers = { authorization: `token ${token}` };
  return {
    base,
    dir,
    apiPort,
    headers,
    async hubApi(method, path) {
      const response = await fetch(`${base}/hub/api${path}`, { method, headers });
      const text = await response.text();
      return { status: response.status, body: text ? JSON.parse(text) : undefined };
    },
    log: hub.output,
    async stop() {
      hub.child.kill("SIGTERM");
      await hub.child.status;
      await hub.drained;
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

/** Spawns `user`'s server and waits until the hub says it is ready. */
async function spawnServer(hub: Hub, user: string): Promise<void> {
  assert.equal((await hub.hubApi("POST", `/users/${user}`)).status, 201);
  const spawn = await hub.hubApi("POST", `/users/${user}/server`);
  assert.ok([201, 202].includes(spawn.status), `spawn: ${spawn.status}`);
  await waitFor(
    async () => {
      const model = await hub.hubApi("GET", `/users/${user}`);
      return model.body?.servers?.[""]?.ready === true;
    },
    "the user's server",
    90_000,
  );
}

Deno.test({
  name: "JupyterHub drives the proxy: a user's server answers through traefik",
  ignore: !(await exists(`${VENV}/bin/jupyterhub`)),
  async fn() {
    const hub = await startHub();
    const { base, headers, hubApi } = hub;
    const user = `u${Date.now() % 100000}`;
    let proxyPid = 0;
    try {
      // The hub answers through our proxy once both are up.
      await waitFor(async () => (await hubApi("GET", "/")).status === 200, "the hub", 60_000);
      proxyPid = Number((await Deno.readTextFile(`${hub.dir}/proxy.pid`)).trim());
      assert.ok(await processAlive(proxyPid), "the hub started our proxy");
      await spawnServer(hub, user);

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
      console.error(hub.log().slice(-6000));
      throw error;
    } finally {
      await hub.stop();
    }
    // Stopping the hub stopped our process, and with it traefik (the public port is free).
    const port = Number(new URL(base).port);
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

Deno.test({
  name: "JupyterHub's last_activity moves with traffic through either of two replicas on one " +
    "redis, and stays still without it",
  ignore: !(await exists(`${VENV}/bin/jupyterhub`)),
  async fn() {
    const redis = await startRedis();
    const token = crypto.randomUUID().replaceAll("-", "");
    const flags = ["--provider", "redis", "--redis-url", redis.url, "--activity-interval", "1"];
    const hub = await startHub({
      proxyArgs: flags,
      config: `
c.ConfigurableHTTPProxy.auth_token = "${token}"
c.JupyterHub.last_activity_interval = 5
# Only the proxy reports this server's activity: the server's own reports are off.
c.Spawner.environment = {"JUPYTERHUB_ACTIVITY_INTERVAL": "0"}
`,
    });
    const { headers, hubApi } = hub;
    const user = `a${Date.now() % 100000}`;
    const idleUser = `i${Date.now() % 100000}`;
    let replica: Cli | undefined;
    const serverActivity = async () => {
      const model = await hubApi("GET", `/users/${user}`);
      return Date.parse(model.body.servers[""].last_activity);
    };
    /** Waits two of the hub's polls of the proxy's routes (and the proxy's activity writes). */
    const twoPolls = () => new Promise((resolve) => setTimeout(resolve, 11_000));
    const step = (what: string) => console.log(`${new Date().toISOString()} ${what}`);
    try {
      await waitFor(async () => (await hubApi("GET", "/")).status === 200, "the hub", 60_000);
      await spawnServer(hub, user);
      // A second user whose server nobody uses.
      await spawnServer(hub, idleUser);
      step("spawned");
      // A second replica of the proxy on the same redis, with its own traefik.
      replica = await startCli(flags, { token });
      const replicaUrl = replica.publicUrl;
      await waitFor(
        async () => (await api(replica!, "GET", `/user/${user}`, undefined, token)).status === 200,
        "the replica has the user's route",
        10_000,
      );
      step("replica up");
      await twoPolls();
      const quiet = await serverActivity();
      await twoPolls();
      assert.equal(await serverActivity(), quiet, "no traffic: last_activity stays");

      step("quiet checked");
      // HTTP through the hub's own replica.
      const before = Date.now();
      const status = await fetch(`${hub.base}/user/${user}/api/status`, { headers });
      assert.equal(status.status, 200);
      await status.body?.cancel();
      await waitFor(async () => await serverActivity() >= before - 1_000, "http activity", 20_000);
      step("http moved it");

      // A kernel, started through the other replica, and its websocket through that replica,
      // which stays open and keeps sending (kernel_info requests, as a notebook does).
      const kernel = await fetch(`${replicaUrl}/user/${user}/api/kernels`, {
        method: "POST",
        headers,
        body: "{}",
      });
      assert.equal(kernel.status, 201, await kernel.clone().text());
      const { id } = await kernel.json();
      await twoPolls();
      const started = await serverActivity();
      const socket = new WebSocket(
        `${replicaUrl.replace("http", "ws")}/user/${user}/api/kernels/${id}/channels`,
        { headers },
      );
      const closed = new Promise((resolve) => socket.onclose = resolve);
      await new Promise((resolve, reject) => {
        socket.onopen = resolve;
        socket.onerror = reject;
      });
      step("websocket open");
      let replies = 0;
      socket.onmessage = (event) => {
        if (JSON.parse(event.data).msg_type === "kernel_info_reply") replies++;
      };
      const session = crypto.randomUUID();
      const sending = setInterval(() => {
        if (socket.readyState !== WebSocket.OPEN) return;
        socket.send(JSON.stringify({
          header: {
            msg_id: crypto.randomUUID(),
            username: user,
            session,
            msg_type: "kernel_info_request",
            version: "5.3",
            date: new Date().toISOString(),
          },
          parent_header: {},
          metadata: {},
          content: {},
          channel: "shell",
          buffers: [],
        }));
      }, 1_000);
      try {
        // The upgrade itself counts; from then on only the messages can move it.
        await waitFor(async () => await serverActivity() > started, "the upgrade counted", 20_000);
        const opened = await serverActivity();
        await waitFor(
          async () => await serverActivity() >= opened + 8_000,
          "websocket activity while it stays open",
          30_000,
        );
        assert.equal(socket.readyState, WebSocket.OPEN, "the websocket is still open");
        assert.ok(replies >= 5, `the kernel answered (${replies} replies)`);
      } finally {
        clearInterval(sending);
        socket.close();
        await closed;
      }
      step("websocket moved it");
      // Quiet again: it stays.
      await twoPolls();
      const settled = await serverActivity();
      await twoPolls();
      assert.equal(await serverActivity(), settled, "no traffic: last_activity stays");

      // inactive_since: the proxy's own API, exactly the idle routes.
      const since = new Date(before - 500).toISOString();
      const inactive = await fetch(
        `http://127.0.0.1:${hub.apiPort}/api/routes?inactive_since=${since}`,
        { headers: { authorization: `token ${token}` } },
      );
      assert.deepEqual(Object.keys(await inactive.json()), [`/user/${idleUser}`]);
    } catch (error) {
      console.error(hub.log().slice(-6000));
      if (replica) console.error(replica.stderr().slice(-3000));
      throw error;
    } finally {
      await replica?.stop();
      await hub.stop();
      await redis.stop();
    }
  },
});
