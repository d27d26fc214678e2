/**
 * HTTPS with certificates from a real ACME server (pebble): the HTTP-01 challenge goes through
 * traefik's http entry point to this process; the certificate is served for the domain, renewed
 * without a failed request, and http redirects to https. And an ACME server that cannot be reached:
 * the proxy keeps serving and says why, once per attempt.
 */
import assert from "node:assert/strict";
import { api, type Cli, startCli } from "./cli_helpers.ts";
import { freePort, startBackend, waitFor } from "./helpers.ts";
import { hasPebble, startPebble } from "./pebble.ts";
import { makePki } from "./pki.ts";
import { relayConnections } from "../lib/net/relay.ts";

const DOMAIN = "hub.jupyter.test";

/** curl through the public port with the domain's name, trusting only `rootFile`. */
async function curl(port: number, path: string, rootFile: string) {
  const out = await new Deno.Command("curl", {
    args: [
      "-sS",
      "--max-time",
      "5",
      "--resolve",
      `${DOMAIN}:${port}:127.0.0.1`,
      "--cacert",
      rootFile,
      "-w",
      "\n%{http_code}",
      `https://${DOMAIN}:${port}${path}`,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  const status = Number(text.slice(text.lastIndexOf("\n") + 1));
  return { ok: out.success, status, body: text.slice(0, text.lastIndexOf("\n")) };
}

/** The serial number of the certificate served for the domain. */
async function servedSerial(port: number): Promise<string> {
  const out = await new Deno.Command("bash", {
    args: [
      "-c",
      `echo | openssl s_client -connect 127.0.0.1:${port} -servername ${DOMAIN} 2>/dev/null ` +
      "| openssl x509 -noout -serial",
    ],
    stdout: "piped",
  }).output();
  return new TextDecoder().decode(out.stdout).trim();
}

Deno.test({
  name:
    "ACME (pebble): the domain gets a certificate through traefik, renewed with no failed request",
  ignore: !(await hasPebble()),
  async fn() {
    const pki = await makePki();
    const redirectPort = freePort();
    const pebble = await startPebble({ httpPort: redirectPort, pki, validitySeconds: 100 });
    const dir = await Deno.makeTempDir({ prefix: "jhtp-acme-" });
    const backend = startBackend("acme-user");
    const cli = await startCli([
      "--acme-domain",
      DOMAIN,
      "--acme-email",
      "admin@jupyter.test",
      "--acme-server",
      pebble.directoryUrl,
      "--acme-ca-file",
      pebble.caFile,
      "--redirect-port",
      String(redirectPort),
      // pebble's certificates here last 100 s: renew when 92 s are left, some 8 s after issue.
      "--acme-renew-before",
      "92",
      "--dynamic-config-file",
      `${dir}/routes.toml`,
    ]);
    const root = `${dir}/pebble-root.pem`;
    try {
      await Deno.writeTextFile(root, await pebble.issuingRoot());
      const post = await api(cli, "POST", "/user/a", { target: backend.url, jupyterhub: true });
      assert.equal(post.status, 201);
      await post.body?.cancel();
      // Served with a certificate of pebble's for the domain, once issued.
      await waitFor(async () => (await curl(cli.port, "/user/a/x", root)).ok, "the certificate");
      const served = await curl(cli.port, "/user/a/x", root);
      assert.equal(served.status, 200);
      assert.match(served.body, /acme-user/);
      const first = await servedSerial(cli.port);
      assert.match(first, /^serial=/);
      // The certificate and its key are kept beside the routes file, private.
      const stored = JSON.parse(await Deno.readTextFile(`${dir}/routes.toml.acme/current.json`));
      assert.equal((await Deno.stat(stored.keyFile)).mode! & 0o077, 0);

      // Renewal: requests keep succeeding while the certificate is replaced.
      let failures = 0;
      let requests = 0;
      const deadline = Date.now() + 40_000;
      let renewed = "";
      while (Date.now() < deadline) {
        const result = await curl(cli.port, "/user/a/x", root);
        requests++;
        if (!result.ok || result.status !== 200) failures++;
        const serial = await servedSerial(cli.port);
        if (serial !== first) {
          renewed = serial;
          break;
        }
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      assert.notEqual(renewed, "", `renewed within 40 s:\n${cli.stderr().slice(-3000)}`);
      assert.equal(failures, 0, `${failures} of ${requests} requests failed during renewal`);
      assert.match(cli.stderr(), /acme: obtained the certificate for hub\.jupyter\.test/);
      assert.match(cli.stderr(), /acme: renewed the certificate/);
      assert.doesNotMatch(cli.stderr(), /BEGIN (RSA |EC )?PRIVATE KEY/);

      // http redirects to https, except the challenges.
      const redirect = await fetch(`http://127.0.0.1:${redirectPort}/hub/`, { redirect: "manual" });
      await redirect.body?.cancel();
      assert.ok([301, 302, 307, 308].includes(redirect.status), `${redirect.status}`);
      assert.match(redirect.headers.get("location") ?? "", /^https:/);
    } finally {
      const code = await cli.stop();
      await backend.close();
      await pebble.stop();
      await pki.remove();
      await Deno.remove(dir, { recursive: true });
      assert.equal(code, 0, cli.stderr());
    }
  },
});

Deno.test("ACME server unreachable: the proxy serves on, one line per failed attempt", async () => {
  const cli = await startCli([
    "--acme-domain",
    DOMAIN,
    "--acme-server",
    "https://127.0.0.1:1/directory",
    "--redirect-port",
    String(freePort()),
  ]);
  try {
    await waitFor(() => /acme: ordering a certificate/.test(cli.stderr()), "the failure line");
    assert.match(
      cli.stderr(),
      /acme: ordering a certificate for hub\.jupyter\.test from https:\/\/127\.0\.0\.1:1\/directory failed: .*; next attempt in 60 s/,
    );
    // traefik's own certificate meanwhile: the port answers.
    const health = await new Deno.Command("curl", {
      args: ["-sk", `https://127.0.0.1:${cli.port}/_chp_healthz`],
      stdout: "piped",
    }).output();
    assert.deepEqual(JSON.parse(new TextDecoder().decode(health.stdout)), { status: "OK" });
  } finally {
    assert.equal(await cli.stop(), 0);
  }
});

Deno.test({
  name: "ACME on redis, two replicas: one order for both, the challenge answered by either, " +
    "the other renews when the first is gone",
  ignore: !(await hasPebble()),
  async fn() {
    const { startRedis } = await import("./stores.ts");
    const pki = await makePki();
    const redis = await startRedis();
    // pebble validates on one port: a relay in front of the first replica's http port (later,
    // of the survivor's), so that the order may come from either replica.
    const redirects = [freePort(), freePort()];
    let validated = redirects[0];
    const front = Deno.listen({ hostname: "127.0.0.1", port: freePort() });
    const relay = relayConnections(
      front,
      () => Deno.connect({ hostname: "127.0.0.1", port: validated }),
    );
    const pebble = await startPebble({ httpPort: front.addr.port, pki, validitySeconds: 100 });
    const backend = startBackend("acme-ha");
    const root = `${pki.dir}/pebble-root.pem`;
    const clis: Cli[] = [];
    try {
      await Deno.writeTextFile(root, await pebble.issuingRoot());
      for (const redirect of redirects) {
        clis.push(
          await startCli([
            "--provider",
            "redis",
            "--redis-url",
            redis.url,
            "--acme-domain",
            DOMAIN,
            "--acme-server",
            pebble.directoryUrl,
            "--acme-ca-file",
            pebble.caFile,
            "--redirect-port",
            String(redirect),
            "--acme-renew-before",
            "80",
          ]),
        );
      }
      const post = await api(clis[0], "POST", "/user/ha", { target: backend.url });
      assert.equal(post.status, 201);
      await post.body?.cancel();
      for (const cli of clis) {
        await waitFor(
          async () => (await curl(cli.port, "/user/ha/x", root)).status === 200,
          "both traefiks serving the certificate",
          30_000,
        );
      }
      const logs = () => clis.map((cli) => cli.stderr()).join("\n");
      const orders = logs().match(/acme: obtained the shared certificate/g) ?? [];
      assert.equal(orders.length, 1, `one order for the deployment:\n${logs().slice(-3000)}`);
      const first = await servedSerial(clis[1].port);
      assert.equal(await servedSerial(clis[0].port), first, "the same certificate on both");
      // The replica that ordered goes away for good; the other renews (some 20 s after issue).
      const holder = clis.findIndex((cli) => /obtained the shared/.test(cli.stderr()));
      const other = clis[1 - holder];
      validated = redirects[1 - holder];
      clis[holder].child.kill("SIGKILL");
      await clis[holder].stop();
      clis.splice(holder, 1);
      await waitFor(
        async () => {
          const serial = await servedSerial(other.port);
          return serial !== "" && serial !== first;
        },
        "the other replica's renewal",
        60_000,
      ).catch((error) => {
        throw new Error(`${error.message}:\n${other.stderr().slice(-3000)}`);
      });
      assert.match(other.stderr(), /acme: renewed the shared certificate/);
      assert.equal((await curl(other.port, "/user/ha/x", root)).status, 200);
    } finally {
      for (const cli of clis) await cli.stop();
      await relay.close();
      await backend.close();
      await pebble.stop();
      await redis.stop();
      await pki.remove();
    }
  },
});
