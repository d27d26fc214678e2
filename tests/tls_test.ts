/**
 * TLS as JupyterHub uses it: internal SSL (the REST API demands a client certificate; https
 * targets demand traefik's), and the public port with a certificate, client certificates and
 * a redirect port. Real traefik, real certificates (openssl), a Python target that checks the
 * client certificate.
 */
import assert from "node:assert/strict";
import { makePki, type Pki, startMtlsTarget } from "./pki.ts";
import { api, type Cli, startCli } from "./cli_helpers.ts";
import { freePort, waitFor } from "./helpers.ts";
import { startEtcd } from "./stores.ts";
import { etcdStore } from "../providers/etcd.ts";
import { StoreError } from "../lib/core/errors.ts";

function internalSslFlags(pki: Pki): string[] {
  return [
    `--api-ssl-key=${pki.server.key}`,
    `--api-ssl-cert=${pki.server.cert}`,
    `--api-ssl-ca=${pki.ca}`,
    "--api-ssl-request-cert",
    "--api-ssl-reject-unauthorized",
    `--client-ssl-key=${pki.client.key}`,
    `--client-ssl-cert=${pki.client.cert}`,
    `--client-ssl-ca=${pki.ca}`,
    "--client-ssl-request-cert",
    "--client-ssl-reject-unauthorized",
  ];
}

/** A client that trusts `ca` and presents `identity`, if given. */
async function client(ca: string, identity?: { cert: string; key: string }) {
  return Deno.createHttpClient({
    caCerts: [await Deno.readTextFile(ca)],
    ...(identity
      ? { cert: await Deno.readTextFile(identity.cert), key: await Deno.readTextFile(identity.key) }
      : {}),
  });
}

async function apiCall(
  cli: Cli,
  httpClient: Deno.HttpClient,
  init: { method?: string; path?: string; body?: unknown } = {},
): Promise<Response> {
  return await fetch(`https://127.0.0.1:${cli.apiPort}/api/routes${init.path ?? ""}`, {
    method: init.method ?? "GET",
    headers: { authorization: "token secret" },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
    client: httpClient,
  });
}

for (const fallback of [true, false]) {
  Deno.test(
    `internal SSL${fallback ? "" : " (--no-fallback)"}: the API demands a certificate of ` +
      "--api-ssl-ca; an https target gets --client-ssl-cert",
    async () => {
      const pki = await makePki();
      const target = await startMtlsTarget(pki);
      const cli = await startCli([
        ...internalSslFlags(pki),
        ...(fallback ? [] : ["--no-fallback"]),
      ]);
      const hub = await client(pki.ca, pki.client);
      const anonymous = await client(pki.ca);
      const stranger = await client(pki.ca, pki.stranger);
      try {
        // traefik opens the API's port a moment before it has loaded the API's router.
        await waitFor(
          () => apiCall(cli, hub).then((r) => (r.body?.cancel(), r.ok), () => false),
          "the API behind traefik",
          10_000,
        );
        // No certificate, or one of another CA: the TLS handshake fails.
        await assert.rejects(apiCall(cli, anonymous));
        await assert.rejects(apiCall(cli, stranger));
        // The hub's certificate: the API answers (and still wants the token).
        const listed = await apiCall(cli, hub);
        assert.equal(listed.status, 200);
        assert.deepEqual(await listed.json(), {});
        const added = await apiCall(cli, hub, {
          method: "POST",
          path: "/user/tls",
          body: { target: target.url, jupyterhub: true },
        });
        assert.equal(added.status, 201, await added.text());
        // Served at once (by the fallback, or by traefik with --no-fallback), and again later
        // (by traefik): the target saw the proxy's client certificate every time.
        for (const delay of [0, 1500]) {
          await new Promise((resolve) => setTimeout(resolve, delay));
          const response = await fetch(`${cli.publicUrl}/user/tls/api`);
          assert.equal(response.status, 200);
          assert.deepEqual(await response.json(), {
            client: "proxy-client",
            path: "/user/tls/api",
          });
        }
        // A websocket to the https target (relayed by the fallback, over its own TLS
        // connection): the target saw the proxy's client certificate too.
        const socket = new WebSocket(`${cli.publicUrl.replace("http", "ws")}/user/tls/ws`);
        const received = new Promise<string>((resolve, reject) => {
          socket.onmessage = (event) => resolve(String(event.data));
          socket.onclose = () => reject(new Error("closed before a message"));
        });
        const closed = new Promise((resolve) => socket.addEventListener("close", resolve));
        socket.onopen = () => socket.send("hello");
        assert.equal(await received, "echo hello to proxy-client");
        await closed;
      } finally {
        for (const c of [hub, anonymous, stranger]) c.close();
        const code = await cli.stop();
        await target.close();
        await pki.remove();
        assert.equal(code, 0, cli.stderr());
      }
    },
  );
}

Deno.test("public TLS: --ssl-key/--ssl-cert, client certificates, and a redirect port", async () => {
  const pki = await makePki();
  const redirectPort = freePort();
  const traefikApi = `http://127.0.0.1:${freePort()}`;
  // Users' routes end up on the branches of a tree of entry points (from two of them).
  const echo = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (request) =>
      Response.json({
        path: new URL(request.url).pathname,
        proto: request.headers.get("x-forwarded-proto"),
        realIp: request.headers.get("x-real-ip"),
      }),
  );
  const cli = await startCli([
    `--ssl-key=${pki.server.key}`,
    `--ssl-cert=${pki.server.cert}`,
    `--ssl-ca=${pki.ca}`,
    "--ssl-request-cert",
    "--ssl-reject-unauthorized",
    `--redirect-port=${redirectPort}`,
    "--entry-tree-routes=2",
    `--traefik-api-url=${traefikApi}`,
    "--traefik-api-password=pw",
  ]);
  const user = await client(pki.ca, pki.client);
  const anonymous = await client(pki.ca);
  const stranger = await client(pki.ca, pki.stranger);
  try {
    const base = `https://127.0.0.1:${cli.port}`;
    // The certificate is served to a client that connects by IP address (traefik's default).
    const health = await fetch(`${base}/_chp_healthz`, { client: user });
    assert.deepEqual(await health.json(), { status: "OK" });
    const byName = await fetch(`https://localhost:${cli.port}/_chp_healthz`, { client: user });
    assert.equal(byName.status, 200);
    await byName.body?.cancel();
    await assert.rejects(fetch(`${base}/_chp_healthz`, { client: anonymous }));
    await assert.rejects(fetch(`${base}/_chp_healthz`, { client: stranger }));
    const redirect = await fetch(`http://127.0.0.1:${redirectPort}/hub/login?next=x`, {
      redirect: "manual",
    });
    await redirect.body?.cancel();
    assert.ok([301, 302, 307, 308].includes(redirect.status), `status ${redirect.status}`);
    assert.equal(redirect.headers.get("location"), `${base}/hub/login?next=x`);

    for (const name of ["alice", "bob"]) {
      const added = await api(cli, "POST", `/user/${name}`, {
        target: `http://127.0.0.1:${echo.addr.port}`,
      });
      await added.body?.cancel();
      assert.equal(added.status, 201);
    }
    const auth = { authorization: `Basic ${btoa("jupyterhub:pw")}` };
    await waitFor(async () => {
      const routers = await (await fetch(`${traefikApi}/api/http/routers`, { headers: auth }))
        .json() as { name: string; entryPoints: string[] }[];
      return routers.some((r) =>
        r.name === "router__2Fuser_2Falice_2F@file" &&
        r.entryPoints[0].startsWith("jupyterhub-tree-")
      );
    }, "alice's router on a branch of the tree");
    // Through the branch: the client's certificate checked once, at the public entry point, and
    // the target told the request came over https.
    const hit = await fetch(`${base}/user/alice/x`, { client: user });
    assert.deepEqual(await hit.json(), {
      path: "/user/alice/x",
      proto: "https",
      realIp: "127.0.0.1",
    });
    await assert.rejects(fetch(`${base}/user/alice/x`, { client: anonymous }));
  } finally {
    await echo.shutdown();
    for (const c of [user, anonymous, stranger]) c.close();
    const code = await cli.stop();
    await pki.remove();
    assert.equal(code, 0, cli.stderr());
  }
});

Deno.test("etcd over https: the store trusts --etcd-ca-file's CA, and no other", async () => {
  const pki = await makePki();
  const etcd = await startEtcd({ tls: { ...pki.server, ca: pki.ca } });
  try {
    assert.match(etcd.url, /^https:/);
    const store = await etcdStore({ urls: [etcd.url], caFile: pki.ca });
    try {
      const route = { routespec: "/user/tls/", target: "http://127.0.0.1:9000", data: {} };
      await store.apply({ set: [route] });
      assert.equal((await store.getRoute("/user/tls/"))?.target, route.target);
    } finally {
      await store.close();
    }
    await assert.rejects(
      etcdStore({ urls: [etcd.url], caFile: pki.otherCa, connectTimeoutMs: 3_000 }),
      StoreError,
    );
  } finally {
    await etcd.stop();
    await pki.remove();
  }
});
