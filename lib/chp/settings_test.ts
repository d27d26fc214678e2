import assert from "node:assert/strict";
import { ConfigError } from "../core/errors.ts";
import { parseFlags } from "./flags.ts";
import { cliSettings, hostPort, traefikApiAddress } from "./settings.ts";

Deno.test("cliSettings maps CHP flags onto traefik", () => {
  const s = cliSettings(
    parseFlags([
      "--ip",
      "",
      "--port",
      "8000",
      "--api-ip",
      "127.0.0.1",
      "--api-port",
      "8001",
      "--ssl-key",
      "k.pem",
      "--ssl-cert",
      "c.pem",
      "--redirect-port",
      "8080",
      "--metrics-port",
      "9100",
      "--proxy-timeout",
      "5000",
      "--keep-alive-timeout",
      "7000",
      "--insecure",
    ]).values,
  );
  assert.equal(s.publicAddress, ":8000");
  assert.deepEqual(s.api, { hostname: "127.0.0.1", port: 8001 });
  assert.deepEqual(s.tls, { certFile: "c.pem", keyFile: "k.pem" });
  assert.equal(s.entryPoint, "https");
  const extras = s.staticExtras as Record<string, Record<string, Record<string, unknown>>>;
  assert.deepEqual(extras.entryPoints.redirect, {
    address: ":8080",
    http: { redirections: { entryPoint: { to: "https", scheme: "https" } } },
  });
  // This process serves the metrics (its own and traefik's) on --metrics-port.
  assert.deepEqual(s.metrics, { hostname: "0.0.0.0", port: 9100 });
  assert.deepEqual(extras.serversTransport, {
    insecureSkipVerify: true,
    forwardingTimeouts: { responseHeaderTimeout: "5000ms" },
  });
  assert.deepEqual(
    (extras.entryPoints.https as Record<string, Record<string, unknown>>).transport
      .respondingTimeouts,
    { readTimeout: "0s", idleTimeout: "7000ms" },
  );
  assert.equal(cliSettings({}).publicAddress, ":8000");
  assert.deepEqual(cliSettings({}).api, { hostname: "localhost", port: 8001 });
  assert.deepEqual(cliSettings({ "api-socket": "/tmp/s" }).api, { path: "/tmp/s" });
  assert.equal(cliSettings({ provider: "traefik_toml" }).provider.kind, "file");
});

Deno.test("cliSettings refuses what traefik cannot do, saying what to use instead", () => {
  assert.throws(
    () => cliSettings({ socket: "/tmp/p.sock", port: 8000 }),
    /--socket replaces --ip and --port/,
  );
  assert.throws(() => cliSettings({ provider: "zookeeper" }), /use file, redis, etcd or consul/);
  assert.throws(() => cliSettings({ "ssl-key": "k" }), /together/);
  assert.throws(() => cliSettings({ port: 70000 }), /--port must be a port number/);
  assert.throws(() => cliSettings({ "traefik-entrypoint": "a b" }), /entrypoint/);
});

Deno.test("cliSettings holds everything main needs, typed, with CHP's defaults", () => {
  const s = cliSettings(
    parseFlags([
      "--error-target=http://127.0.0.1:8081/hub/error",
      "--default-target=http://127.0.0.1:8081",
      "--custom-header=X-A: 1",
      "--extra-static-config=s.toml",
      "--extra-dynamic-config=d.yaml",
      "--traefik-api-username=u",
      "--traefik-api-password=p",
      "--traefik-bin=/opt/traefik",
      "--traefik-log-level=debug",
      "--static-config-file=static.toml",
      "--host-routing",
      "--pid-file=/tmp/p.pid",
      "--log-level=warn",
      "--check-route-timeout=2.5",
    ]).values,
  );
  assert.equal(s.errorTarget, "http://127.0.0.1:8081/hub/error");
  assert.equal(s.defaultTarget, "http://127.0.0.1:8081");
  assert.deepEqual(s.customHeaders, ["X-A: 1"]);
  assert.equal(s.extraStaticConfigFile, "s.toml");
  assert.equal(s.extraDynamicConfigFile, "d.yaml");
  assert.deepEqual(s.traefikApi, { url: undefined, username: "u", password: "p" });
  assert.equal(s.traefikBin, "/opt/traefik");
  assert.equal(s.traefikLogLevel, "DEBUG");
  assert.equal(s.staticConfigFile, "static.toml");
  assert.equal(s.hostRouting, true);
  assert.equal(s.pidFile, "/tmp/p.pid");
  assert.equal(s.logLevel, "warn");
  assert.equal(s.checkRouteTimeoutMs, 2500);
  assert.equal(s.external, false);
  const d = cliSettings({});
  assert.equal(d.logLevel, "info");
  assert.equal(d.checkRouteTimeoutMs, 30_000);
  assert.deepEqual(d.customHeaders, []);
  assert.equal(d.hostRouting, false);
  assert.equal(d.authToken, undefined);
  const env = { CONFIGPROXY_AUTH_TOKEN: "s3cret" };
  assert.equal(cliSettings({}, { env }).authToken, "s3cret");
  assert.equal(cliSettings({}, { env: { CONFIGPROXY_AUTH_TOKEN: "" } }).authToken, undefined);
  assert.deepEqual(d.provider, { kind: "file", path: undefined });
  const extras = d.staticExtras as Record<string, Record<string, unknown>>;
  assert.deepEqual(extras.entryPoints.auth_api, {
    transport: { lifeCycle: { graceTimeOut: "1s" } },
  });
});

Deno.test("cliSettings builds the provider options of redis and etcd", () => {
  const redis = cliSettings(
    parseFlags([
      "--provider=redis",
      "--redis-url=rediss://127.0.0.1:6379",
      "--redis-username=u",
      "--redis-password=p",
      "--redis-ca-file=/etc/redis-ca.pem",
      "--kv-traefik-prefix=t",
      "--kv-jupyterhub-prefix=j",
      "--no-kv-traefik-keys",
    ]).values,
  );
  assert.deepEqual(redis.provider, {
    kind: "redis",
    url: "rediss://127.0.0.1:6379",
    username: "u",
    password: "p",
    caFile: "/etc/redis-ca.pem",
    traefikPrefix: "t",
    jupyterhubPrefix: "j",
    traefikKeys: false,
  });
  assert.equal(redis.feedTraefik, true);
  const etcd = cliSettings(
    parseFlags([
      "--provider=ETCD",
      "--etcd-url",
      "http://a:2379, http://b:2379,",
      "--etcd-ca-file=ca",
    ])
      .values,
  );
  assert.deepEqual(etcd.provider, {
    kind: "etcd",
    urls: ["http://a:2379", "http://b:2379"],
    username: undefined,
    password: undefined,
    caFile: "ca",
    traefikPrefix: undefined,
    jupyterhubPrefix: undefined,
    traefikKeys: undefined,
  });
  assert.deepEqual(cliSettings({ "dynamic-config-file": "r.toml" }).provider, {
    kind: "file",
    path: "r.toml",
  });
});

Deno.test("cliSettings checks --traefik-api-url and --external-traefik together", () => {
  assert.throws(() => cliSettings({ "external-traefik": true }), /needs --traefik-api-url/);
  assert.throws(
    () => cliSettings({ "traefik-api-url": "http://10.0.0.1:8099" }),
    /127\.0\.0\.1 or localhost/,
  );
  assert.throws(() => cliSettings({ "traefik-api-url": "not a url" }), /is not a URL/);
  const own = cliSettings({ "traefik-api-url": "http://[::1]:8099" });
  assert.deepEqual(own.binds.at(-1), { hostname: "::1", port: 8099, what: "--traefik-api-url" });
  const external = cliSettings({
    "external-traefik": true,
    "traefik-api-url": "http://traefik:8099",
  });
  assert.equal(external.external, true);
  assert.equal(external.traefikApi.url, "http://traefik:8099");
  assert.ok(!external.binds.some((bind) => bind.what === "--traefik-api-url"));
});

Deno.test("cliSettings lists every address to check before starting, with its flag", () => {
  const s = cliSettings({
    ip: "127.0.0.1",
    port: 8000,
    "api-ip": "",
    "metrics-port": 9100,
    "redirect-port": 8080,
  });
  assert.deepEqual(s.binds, [
    { hostname: "127.0.0.1", port: 8000, what: "--port" },
    { hostname: "0.0.0.0", port: 8001, what: "--api-port" },
    { hostname: "0.0.0.0", port: 9100, what: "--metrics-port" },
    { hostname: "127.0.0.1", port: 8080, what: "--redirect-port" },
  ]);
});

Deno.test("hostPort formats traefik addresses", () => {
  assert.equal(hostPort("", 80), ":80");
  assert.equal(hostPort("127.0.0.1", 80), "127.0.0.1:80");
  assert.equal(hostPort("::1", 80), "[::1]:80");
  assert.equal(hostPort("localhost", 80), "localhost:80");
});

Deno.test("traefikApiAddress is the host:port of traefik's API URL", () => {
  assert.equal(traefikApiAddress("http://127.0.0.1:8099"), "127.0.0.1:8099");
  assert.equal(traefikApiAddress("http://localhost"), "localhost:80");
  assert.equal(traefikApiAddress("http://[::1]:9000/"), "[::1]:9000");
});

Deno.test("cliSettings feeds the traefik it starts unless told otherwise, and refuses a traefik left without routes", () => {
  const redis = ["--provider=redis"];
  assert.equal(cliSettings(parseFlags(redis).values).feedTraefik, true);
  assert.equal(
    cliSettings(parseFlags([...redis, "--traefik-reads-store"]).values).feedTraefik,
    false,
  );
  const external = [...redis, "--external-traefik", "--traefik-api-url=http://127.0.0.1:8099"];
  assert.equal(cliSettings(parseFlags(external).values).feedTraefik, false);
  for (const argv of [[...external], [...redis, "--traefik-reads-store"]]) {
    assert.throws(
      () => cliSettings(parseFlags([...argv, "--no-kv-traefik-keys"]).values),
      (error: Error) => error instanceof ConfigError && /no-kv-traefik-keys/.test(error.message),
    );
  }
});

Deno.test("cliSettings: the fallback is on by default, off with --no-fallback, and needs a port with an external traefik", () => {
  const settings = (argv: string[]) => cliSettings(parseFlags(argv).values);
  assert.deepEqual(settings([]).fallback, { hostname: "127.0.0.1", port: undefined });
  assert.equal(settings(["--no-fallback"]).fallback, false);
  assert.deepEqual(settings(["--fallback-ip=0.0.0.0", "--fallback-port=8002"]).fallback, {
    hostname: "0.0.0.0",
    port: 8002,
  });
  const external = ["--external-traefik", "--traefik-api-url=http://127.0.0.1:8099"];
  assert.equal(settings(external).fallback, false);
  assert.deepEqual(settings([...external, "--fallback-port=8002"]).fallback, {
    hostname: "127.0.0.1",
    port: 8002,
  });
  assert.equal(settings([...external, "--fallback-port=8002", "--no-fallback"]).fallback, false);
  assert.throws(
    () => settings([...external, "--fallback"]),
    (error: Error) => error instanceof ConfigError && /--fallback-port/.test(error.message),
  );
  assert.ok(
    settings(["--fallback-port=8002"]).binds.some((bind) => bind.what === "--fallback-port"),
  );
  // Deno's fetch always verifies certificates: --insecure leaves targets to traefik alone.
  assert.equal(settings(["--insecure"]).fallback, false);
  assert.match(settings(["--insecure"]).fallbackOff ?? "", /--insecure/);
  assert.throws(
    () => settings(["--insecure", "--fallback"]),
    (error: Error) => error instanceof ConfigError && /--insecure/.test(error.message),
  );
  assert.deepEqual(settings(["--client-ssl-ca=/ca.pem"]).targetTls, {
    caFile: "/ca.pem",
    certFile: undefined,
    keyFile: undefined,
  });
});

Deno.test("cliSettings: --socket puts traefik's public entry point on a loopback port", () => {
  const s = cliSettings({ socket: "/run/hub/proxy.sock", "api-socket": "/run/hub/api.sock" });
  assert.equal(s.socket, "/run/hub/proxy.sock");
  assert.equal(s.publicAddress, "127.0.0.1:0");
  assert.deepEqual(s.binds.map((bind) => bind.what), ["--port"]); // port 0: not checked
  assert.throws(
    () =>
      cliSettings({ socket: "/p.sock", "external-traefik": true, "traefik-api-url": "http://h" }),
    /--socket with --external-traefik/,
  );
});

const INTERNAL_SSL = [
  "--api-ssl-key=api.key",
  "--api-ssl-cert=api.crt",
  "--api-ssl-ca=api-ca.crt",
  "--api-ssl-request-cert",
  "--api-ssl-reject-unauthorized",
  "--client-ssl-key=client.key",
  "--client-ssl-cert=client.crt",
  "--client-ssl-ca=client-ca.crt",
  "--client-ssl-request-cert",
  "--client-ssl-reject-unauthorized",
];
const TOKEN = { env: { CONFIGPROXY_AUTH_TOKEN: "t" } };

Deno.test("cliSettings: JupyterHub's internal SSL flags all take effect", () => {
  const parsed = parseFlags(INTERNAL_SSL);
  // Only --client-ssl-request-cert, which means nothing for a client, has no effect.
  assert.deepEqual(parsed.warnings.map((line) => line.split(" ")[0]), [
    "--client-ssl-request-cert",
  ]);
  const s = cliSettings(parsed.values, TOKEN);
  assert.deepEqual(s.apiTls, { cert: "api.crt", key: "api.key", clientCaFile: "api-ca.crt" });
  // The static default transport trusts the CA; routes name a dynamic one with the certificate.
  const extras = s.staticExtras as { serversTransport: Record<string, unknown> };
  assert.deepEqual(extras.serversTransport, { rootCAs: ["client-ca.crt"] });
  assert.equal("certificates" in extras.serversTransport, false);
  assert.deepEqual(s.targetTransport, {
    rootCAs: ["client-ca.crt"],
    certificates: [{ certFile: "client.crt", keyFile: "client.key" }],
  });
});

Deno.test("cliSettings refuses client-certificate settings it could not enforce", () => {
  const values = (args: string[]) => parseFlags(args).values;
  // An open API behind the certificate check: its private listener would be open too.
  assert.throws(() => cliSettings(values(INTERNAL_SSL), {}), /needs CONFIGPROXY_AUTH_TOKEN/);
  assert.throws(
    () => cliSettings(values([...INTERNAL_SSL, "--api-socket=/a.sock"]), TOKEN),
    /--api-socket/,
  );
  assert.throws(
    () => cliSettings(values(["--api-ssl-key=k", "--api-ssl-cert=c", "--api-socket=/a.sock"])),
    /without TLS/,
  );
  assert.throws(
    () =>
      cliSettings(
        values([...INTERNAL_SSL, "--external-traefik", "--traefik-api-url=http://h:1"]),
        TOKEN,
      ),
    /--external-traefik/,
  );
  assert.throws(
    () => cliSettings(values(["--api-ssl-ca=ca.crt", "--api-ssl-key=k", "--api-ssl-cert=c"])),
    /only with --api-ssl-request-cert/,
  );
  assert.throws(
    () => cliSettings(values(["--api-ssl-request-cert", "--api-ssl-key=k", "--api-ssl-cert=c"])),
    /needs --api-ssl-ca/,
  );
  assert.throws(
    () => cliSettings(values(["--api-ssl-request-cert", "--api-ssl-ca=ca"]), TOKEN),
    /needs --api-ssl-key and --api-ssl-cert/,
  );
  assert.throws(
    () =>
      cliSettings(values([
        "--ssl-key=k",
        "--ssl-cert=c",
        "--ssl-ca=ca",
        "--ssl-request-cert",
        "--no-ssl-reject-unauthorized",
      ])),
    /protects nothing/,
  );
  assert.throws(() => cliSettings(values(["--client-ssl-key=k"])), /together/);
  assert.throws(
    () => parseFlags(["--ssl-ciphers=RC4"]),
    /--ssl-ciphers is refused: .*cipherSuites/,
  );
  assert.throws(() => parseFlags(["--ssl-allow-rc4"]), /--ssl-allow-rc4 is refused/);
  assert.throws(
    () => cliSettings(values(["--external-traefik", "--traefik-api-url=http://h:1", "--insecure"])),
    /--insecure with --external-traefik/,
  );
});

Deno.test("cliSettings: public client certificates need the public TLS and a CA", () => {
  const s = cliSettings(
    parseFlags(["--ssl-key=k", "--ssl-cert=c", "--ssl-ca=ca", "--ssl-request-cert"]).values,
  );
  assert.deepEqual(s.tls, { certFile: "c", keyFile: "k", clientCaFile: "ca" });
  assert.throws(
    () => cliSettings(parseFlags(["--ssl-ca=ca", "--ssl-request-cert"]).values),
    /--ssl-request-cert needs --ssl-key and --ssl-cert/,
  );
});

Deno.test("cliSettings: ACME needs a DNS name, the redirect port and one node", () => {
  const base = { "acme-domain": ["hub.example.org"], "redirect-port": 80, port: 443 };
  const s = cliSettings({ ...base, "dynamic-config-file": "/var/lib/hub/routes.toml" });
  assert.equal(s.entryPoint, "https");
  assert.deepEqual(s.acme, {
    domains: ["hub.example.org"],
    email: undefined,
    server: "https://acme-v02.api.letsencrypt.org/directory",
    caFile: undefined,
    renewBeforeMs: 30 * 24 * 60 * 60 * 1000,
    storageDir: "/var/lib/hub/routes.toml.acme",
  });
  const redirect = (s.staticExtras as { entryPoints: { redirect: unknown } }).entryPoints.redirect;
  assert.deepEqual(redirect, {
    address: ":80",
    http: { redirections: { entryPoint: { to: "https", scheme: "https", priority: 1 } } },
  });
  assert.throws(() => cliSettings({ ...base, "acme-domain": ["*.example.org"] }), /DNS name/);
  assert.throws(() => cliSettings({ ...base, "acme-domain": ["10.0.0.1"] }), /DNS name/);
  assert.throws(() => cliSettings({ "acme-domain": ["hub.example.org"] }), /--redirect-port/);
  // Several replicas share the certificate through the store: no storage beside a file.
  assert.equal(cliSettings({ ...base, provider: "redis" }).acme?.storageDir, undefined);
  assert.throws(
    () => cliSettings({ ...base, "ssl-key": "k", "ssl-cert": "c" }),
    /each give the certificate/,
  );
  assert.throws(() => cliSettings({ ...base, "acme-challenge": "dns" }), /only http/);
  assert.throws(() => cliSettings({ "acme-email": "a@b.c" }), /needs --acme-domain/);
  assert.throws(
    () => cliSettings({ ...base, "external-traefik": true, "traefik-api-url": "http://h:1" }),
    /--external-traefik/,
  );
});

Deno.test("cliSettings: activity, drift repair and metrics", () => {
  const defaults = cliSettings({});
  assert.deepEqual(defaults.activity, { intervalMs: 10_000, websockets: true });
  assert.deepEqual(defaults.drift, { intervalMs: 60_000 });
  assert.equal(defaults.metrics, undefined);
  assert.equal(cliSettings({ activity: false }).activity, false);
  assert.deepEqual(
    cliSettings({ "activity-interval": 2, "websocket-activity": false }).activity,
    { intervalMs: 2_000, websockets: false },
  );
  assert.equal(cliSettings({ "drift-interval": 0 }).drift, false);
  assert.throws(() => cliSettings({ "activity-interval": 0 }), /--activity-interval takes seconds/);
  assert.throws(() => cliSettings({ "drift-interval": -1 }), /--drift-interval takes seconds/);
  const metrics = cliSettings({ "metrics-ip": "127.0.0.1", "metrics-port": 9100 });
  assert.deepEqual(metrics.metrics, { hostname: "127.0.0.1", port: 9100 });
  assert.ok(metrics.binds.some((bind) => bind.port === 9100 && bind.what === "--metrics-port"));
  // This process serves them: traefik gets no public metrics entry point.
  assert.equal(
    (metrics.staticExtras.entryPoints as Record<string, unknown> | undefined)?.metrics,
    undefined,
  );
});

Deno.test("cliSettings: the tree of entry points from 2,000 routes, 0 for none, only with the fallback", () => {
  assert.equal(cliSettings({}).entryTree, 2_000);
  assert.equal(cliSettings({ "entry-tree-routes": 50 }).entryTree, 50);
  assert.equal(cliSettings({ "entry-tree-routes": 0 }).entryTree, false);
  assert.throws(() => cliSettings({ "entry-tree-routes": -1 }), /--entry-tree-routes takes/);
  assert.throws(() => cliSettings({ "entry-tree-routes": 1.5 }), /--entry-tree-routes takes/);
  // Given for a traefik that has no tree: refused, not ignored.
  assert.throws(
    () => cliSettings({ "entry-tree-routes": 100, fallback: false }),
    /--entry-tree-routes: the tree is for the traefik started and fed here/,
  );
  assert.throws(
    () =>
      cliSettings({
        "entry-tree-routes": 100,
        "external-traefik": true,
        "traefik-api-url": "http://127.0.0.1:8099",
      }),
    /--entry-tree-routes/,
  );
  assert.throws(
    () => cliSettings({ "entry-tree-routes": 100, "traefik-reads-store": true }),
    /--entry-tree-routes/,
  );
  assert.equal(cliSettings({ "entry-tree-routes": 0, fallback: false }).entryTree, false);
});
