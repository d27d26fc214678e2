import assert from "node:assert/strict";
import { api, type Cli, startCli } from "./cli_helpers.ts";
import { hit, startBackend, waitFor } from "./helpers.ts";
import { hasConsul, startConsul, startEtcd, startRedis, type StoreServer } from "./stores.ts";

const NO_CONSUL = !(await hasConsul());
const STORES: [string, () => Promise<StoreServer>, (s: StoreServer) => string[], boolean][] = [
  ["redis", () => startRedis(), (s) => ["--provider", "redis", "--redis-url", s.url], false],
  ["etcd", () => startEtcd(), (s) => ["--provider", "etcd", "--etcd-url", s.url], false],
  [
    "consul",
    () => startConsul({ managementToken: "ha-token" }),
    (s) => ["--provider", "consul", "--consul-url", s.url, "--consul-token", "ha-token"],
    NO_CONSUL,
  ],
];

for (const [name, start, flags, ignore] of STORES) {
  Deno.test({
    name: `HA on ${name}: two processes, two traefiks, one table; one pair dies, the other serves`,
    ignore,
  }, async () => {
    const server = await start();
    const a = startBackend("a");
    const b = startBackend("b");
    const clis: Cli[] = [];
    try {
      clis.push(await startCli(flags(server)));
      clis.push(await startCli(flags(server)));
      const [one, two] = clis;
      const post = await api(one, "POST", "/user/x", {
        target: a.url,
        jupyterhub: true,
        user: "x",
      });
      assert.equal(post.status, 201);
      await post.body?.cancel();
      const listed = await (await api(two, "GET", "")).json();
      assert.deepEqual(
        Object.keys(listed),
        ["/user/x"],
        "written through one, listed by the other",
      );
      assert.equal(listed["/user/x"].user, "x");
      assert.equal((await hit(one.publicUrl + "/user/x/")).backend, "a");
      // The other process's fallback serves it as soon as its watch has it.
      const started = performance.now();
      await waitFor(
        async () => (await hit(two.publicUrl + "/user/x/")).backend === "a",
        "the other process",
      );
      console.log(
        `served by the other process after ${(performance.now() - started).toFixed(1)} ms`,
      );
      const post2 = await api(two, "POST", "/user/y", { target: b.url, jupyterhub: true });
      await post2.body?.cancel();
      await waitFor(
        async () => (await hit(one.publicUrl + "/user/y/")).backend === "b",
        "first traefik",
      );

      // One pair dies hard: the process (and with it, its traefik).
      one.child.kill("SIGKILL");
      await one.stop();
      const post3 = await api(two, "POST", "/user/z", { target: a.url, jupyterhub: true });
      assert.equal(post3.status, 201);
      await post3.body?.cancel();
      assert.equal((await hit(two.publicUrl + "/user/z/")).backend, "a");
      assert.equal((await hit(two.publicUrl + "/user/x/")).backend, "a");
      const del = await api(two, "DELETE", "/user/y");
      assert.equal(del.status, 204);
      assert.equal((await hit(two.publicUrl + "/user/y/")).status, 404);
    } finally {
      for (const cli of clis) await cli.stop();
      await a.close();
      await b.close();
      await server.stop();
    }
  });
}

for (const [name, start, flags, ignore] of STORES.filter(([name]) => name !== "etcd")) {
  Deno.test({
    name: `while ${name} is down the API answers 5xx with a message at once`,
    ignore,
  }, async () => {
    const server = await start();
    const backend = startBackend("a");
    const cli = await startCli(flags(server));
    try {
      const ok = await api(cli, "POST", "/user/before", { target: backend.url, jupyterhub: true });
      assert.equal(ok.status, 201);
      await ok.body?.cancel();
      await server.stop();
      const down = await api(cli, "POST", "/user/during", {
        target: backend.url,
        jupyterhub: true,
      });
      assert.ok(down.status >= 500, `status ${down.status}`);
      assert.match((await down.json()).message, new RegExp(name));
      const list = await api(cli, "GET", "");
      assert.ok(list.status >= 500);
      await list.body?.cancel();
    } finally {
      assert.equal(await cli.stop(), 0);
      await backend.close();
    }
  });
}

Deno.test("CLI: an unreachable store at start is one clear error and exit 1", async () => {
  const { SHIM } = await import("./cli_helpers.ts");
  const out = await new Deno.Command(SHIM, {
    args: ["--ip", "127.0.0.1", "--provider", "redis", "--redis-url", "redis://127.0.0.1:1"],
    stdin: "null",
  }).output();
  assert.equal(out.code, 1);
  assert.match(new TextDecoder().decode(out.stderr), /cannot use redis at 127\.0\.0\.1:1/);
});

Deno.test({
  name: "consul: a process killed with SIGKILL mid-burst loses no acknowledged route",
  ignore: NO_CONSUL,
}, async () => {
  const server = await startConsul();
  const backend = startBackend("burst");
  const flags = ["--provider", "consul", "--consul-url", server.url];
  let second: Cli | undefined;
  try {
    const first = await startCli(flags);
    const acknowledged: string[] = [];
    const burst = Promise.all(Array.from({ length: 40 }, async (_, i) => {
      try {
        const response = await api(first, "POST", `/user/burst${i}`, { target: backend.url });
        await response.body?.cancel();
        if (response.status === 201) acknowledged.push(`/user/burst${i}`);
      } catch {
        // the process died before answering: not acknowledged
      }
    }));
    await waitFor(() => acknowledged.length >= 5, "some acknowledged routes");
    first.child.kill("SIGKILL");
    await burst;
    await first.stop();
    second = await startCli(flags);
    const listed = await (await api(second, "GET", "")).json();
    for (const spec of acknowledged) assert.ok(spec in listed, `${spec} was lost`);
    for (const spec of acknowledged) {
      assert.equal((await hit(`${second.publicUrl}${spec}/`)).backend, "burst", spec);
    }
  } finally {
    await second?.stop();
    await backend.close();
    await server.stop();
  }
});
