/**
 * The command-line proxy: a drop-in for `configurable-http-proxy` that JupyterHub launches
 * through `c.ConfigurableHTTPProxy.command`. It starts traefik (unless `--external-traefik`),
 * writes routes to the chosen provider and serves CHP's REST API, until SIGTERM or SIGINT.
 *
 * ```sh
 * deno run --allow-net --allow-read --allow-write --allow-env --allow-run \
 *   jsr:@jupyterhub/traefik-proxy-deno/cli --ip 127.0.0.1 --port 8000
 * ```
 *
 * @module
 */

import denoJson from "../../deno.json" with { type: "json" };
import { runAll } from "../async/run_all.ts";
import { type RunningProxy, startProxy } from "../proxy.ts";
import { chpHandler } from "./api_handler.ts";
import { checkTlsFiles, loadFlags, readExtraConfig, targetTls } from "./config_file.ts";
import { withFlagHint } from "./error_hint.ts";
import { helpText } from "./flags.ts";
import { internalHandler } from "./internal_handler.ts";
import { createLogger, type Logger } from "./log.ts";
import { checkFree, freeLoopbackPort } from "./ports.ts";
import { proxyOptions } from "./proxy_options.ts";
import { type CliSettings, cliSettings } from "./settings.ts";
import { checkSocketPath, unixRelay } from "./unix_relay.ts";
import type { AcmeSettings } from "./settings.ts";
import type { CertificateFiles } from "../acme/acme.ts";
import { type ProxyMetrics, proxyMetrics } from "./metrics.ts";

/**
 * Options of `main`.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { main, type MainOptions } from "./main.ts";
 * const options: MainOptions = { env: {}, stop: Promise.resolve() };
 * assert.equal(await main(["--version"], options), 0);
 * ```
 */
export interface MainOptions {
  /** Environment; default `Deno.env`. */
  env?: Record<string, string | undefined>;
  /** Resolves when the process should stop (in addition to SIGTERM and SIGINT). */
  stop?: Promise<void>;
}

type Cleanup = () => Promise<unknown> | unknown;

/** How long a request to the API may wait for the proxy to start before a 503. */
const STARTING_WAIT_MS = 30_000;

/**
 * Runs the proxy until SIGTERM, SIGINT or `options.stop`; resolves to the exit code. Startup
 * errors print one line saying what to do and resolve to 1.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { main } from "./main.ts";
 * assert.equal(await main(["--version"], { env: {} }), 0);
 * assert.equal(await main(["--no-such-flag"], { env: {} }), 1);
 * ```
 */
export async function main(args: string[], options: MainOptions = {}): Promise<number> {
  const env = options.env ?? Deno.env.toObject();
  let log = createLogger("info");
  // Run in order on the way out: last started, first stopped; the pid file goes last.
  const cleanups: Cleanup[] = [];
  try {
    const flags = await loadFlags(args, { env });
    if (flags.values.help) {
      console.log(helpText());
      return 0;
    }
    if (flags.values.version) {
      console.log(denoJson.version);
      return 0;
    }
    const settings = cliSettings(flags.values, { env });
    log = createLogger(settings.logLevel, { format: settings.logFormat });
    // From here on SIGTERM is a clean stop, also one that arrives while starting (JupyterHub
    // may give up on a slow start): the start completes, then everything stops.
    let signalled!: () => void;
    const done = new Promise<void>((resolve) => signalled = resolve);
    const onSignal = () => signalled();
    for (const signal of ["SIGTERM", "SIGINT"] as const) {
      Deno.addSignalListener(signal, onSignal);
      cleanups.push(() => Deno.removeSignalListener(signal, onSignal));
    }
    for (const warning of flags.warnings) log.warn(warning);
    for (const bind of settings.binds) checkFree(bind);
    await checkTlsFiles(settings);
    if (settings.socket) await checkSocketPath(settings.socket, "--socket");
    if ("path" in settings.api) await checkSocketPath(settings.api.path, "--api-socket");
    const traefikApiUrl = settings.traefikApi.url ?? `http://127.0.0.1:${freeLoopbackPort()}`;
    const extra = await readExtraConfig(settings);
    const tls = await targetTls(settings);

    // The internal server behind /_chp_healthz, the 404 catch-all, error pages and ACME's
    // HTTP-01 challenges.
    const acmeChallenges = new Map<string, string>();
    // In memory on one node; from the shared store with several replicas (set below).
    let acmeChallenge = (token: string): string | undefined | Promise<string | undefined> =>
      acmeChallenges.get(token);
    const internal = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      internalHandler({
        errorTarget: settings.errorTarget,
        acmeChallenge: (token) => acmeChallenge(token),
      }),
    );
    cleanups.unshift(() => internal.shutdown());

    // Prometheus metrics of this process, and of its traefik, on --metrics-ip/--metrics-port.
    const current: { proxy?: RunningProxy } = {};
    let certificate: (() => Date | undefined) | undefined;
    // Counted only when served: no work on the API's or the fallback's path otherwise.
    const metrics = settings.metrics
      ? proxyMetrics({
        proxy: () => current.proxy,
        provider: settings.provider.kind,
        traefikMetrics: async () => {
          const response = await current.proxy?.api.get("/metrics");
          return response?.status === 200 && typeof response.body === "string"
            ? response.body
            : undefined;
        },
        certificateNotAfter: () => certificate?.(),
      })
      : undefined;
    if (settings.metrics && metrics) {
      const metricsServer = Deno.serve(
        { hostname: settings.metrics.hostname, port: settings.metrics.port, onListen: () => {} },
        async (request) => {
          if (new URL(request.url).pathname !== "/metrics") {
            return new Response("404: metrics are at /metrics\n", { status: 404 });
          }
          return new Response(await metrics.render(), {
            headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" },
          });
        },
      );
      cleanups.unshift(() => metricsServer.shutdown());
    }

    // The REST API answers once the proxy runs; behind traefik's certificate check (API client
    // certificates), its private listener must be there before traefik starts.
    const api = apiServer(settings, log, metrics);
    cleanups.unshift(() => api.stop());
    const apiBackend = settings.apiTls?.clientCaFile ? api.listenPrivate() : undefined;

    // With --socket, traefik listens on a free loopback port that the socket is relayed to.
    const socketPort = settings.socket ? freeLoopbackPort() : undefined;
    const proxy: RunningProxy = await startProxy(proxyOptions(settings, {
      traefikApiUrl,
      internalUrl: `http://127.0.0.1:${internal.addr.port}`,
      ...extra,
      targetTls: tls,
      publicAddress: socketPort ? `127.0.0.1:${socketPort}` : undefined,
      apiBackend,
      log: (message) => log.info(message),
      events: metrics && { takeover: metrics.takeover, watchLag: metrics.watchLag },
    }));
    cleanups.unshift(() => proxy.stop());
    current.proxy = proxy;

    if (settings.socket && socketPort) {
      const relay = await unixRelay({
        path: settings.socket,
        target: { hostname: "127.0.0.1", port: socketPort },
        flag: "--socket",
      });
      cleanups.unshift(() => relay.close());
    }
    if (settings.acme) {
      if (proxy.values) {
        const { sharedChallengeAnswer } = await import("../acme/shared.ts");
        acmeChallenge = sharedChallengeAnswer(proxy.values);
      }
      const manager = await acmeManager(settings.acme, {
        challenges: acmeChallenges,
        proxy,
        log,
      });
      certificate = manager.notAfter;
      cleanups.unshift(manager.close);
    }
    api.serve(proxy);

    const pidFile = settings.pidFile;
    if (pidFile) {
      await Deno.writeTextFile(pidFile, `${Deno.pid}\n`);
      cleanups.push(() => Deno.remove(pidFile).catch(() => {}));
    }
    log.info(
      `proxying ${
        settings.socket
          ? `${settings.socket} (relayed to 127.0.0.1:${socketPort})`
          : settings.publicAddress
      } through traefik (${settings.provider.kind} provider, ` +
        `${settings.external ? "external" : `pid ${proxy.traefik?.pid}`}; fallback ` +
        `${proxy.fallback ? "on" : settings.fallbackOff ?? "off"}); ` +
        `REST API on ${apiWhere(settings)}`,
    );

    await Promise.race([done, options.stop ?? new Promise(() => {})]);
    log.info("stopping");
    await runAll(cleanups);
    return 0;
  } catch (error) {
    await runAll(cleanups);
    console.error(`jupyterhub-traefik-proxy: ${withFlagHint(error)}`);
    return 1;
  }
}

/** CHP's REST API: its listener(s) now, its handler once the proxy runs. */
interface ApiServer {
  /** Starts the private listener behind traefik's certificate check; its `127.0.0.1:port`. */
  listenPrivate(): string;
  /** Serves the API of `proxy` (and starts the listener of `--api-ip/-port` or `--api-socket`). */
  serve(proxy: RunningProxy): void;
  /** Stops every listener; removes the API's socket file. */
  stop(): Promise<void>;
}

/**
 * The REST API: on its TCP address (with TLS when configured), on its unix socket, or, when
 * clients must present certificates, on a private loopback port behind traefik.
 */
function apiServer(
  settings: CliSettings,
  log: Logger,
  metrics: ProxyMetrics | undefined,
): ApiServer {
  let handler: ((request: Request) => Promise<Response>) | undefined;
  // traefik opens the API's port before the proxy is up: early requests wait for it.
  const { promise: ready, resolve: started } = Promise.withResolvers<void>();
  const servers: Deno.HttpServer[] = [];
  const logged = async (request: Request) => {
    if (!handler) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise((resolve) => timer = setTimeout(resolve, STARTING_WAIT_MS));
      await Promise.race([ready, late]);
      clearTimeout(timer);
      if (!handler) return new Response("the proxy is starting\n", { status: 503 });
    }
    const started = performance.now();
    const response = await handler(request);
    metrics?.apiRequest(request.method, response.status, performance.now() - started);
    log.debug(`${request.method} ${new URL(request.url).pathname} ${response.status}`);
    return response;
  };
  const api = settings.api;
  return {
    listenPrivate() {
      const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, logged);
      servers.push(server);
      return `127.0.0.1:${server.addr.port}`;
    },
    serve(proxy) {
      handler = chpHandler(proxy, {
        authToken: settings.authToken,
        hostRouting: settings.hostRouting,
        log: (message) => log.warn(message),
        activity: proxy.activity,
      });
      started();
      if (settings.apiTls?.clientCaFile) return; // traefik listens on the API's address
      if ("path" in api) {
        servers.push(Deno.serve({ path: api.path, onListen: () => {} }, logged));
        return;
      }
      const tls = settings.apiTls
        ? {
          cert: Deno.readTextFileSync(settings.apiTls.cert),
          key: Deno.readTextFileSync(settings.apiTls.key),
        }
        : {};
      servers.push(
        Deno.serve({ hostname: api.hostname, port: api.port, ...tls, onListen: () => {} }, logged),
      );
    },
    async stop() {
      await Promise.all(servers.map((server) => server.shutdown()));
      if ("path" in api && servers.length > 0) await Deno.remove(api.path).catch(() => {});
    },
  };
}

/**
 * Starts ordering and renewing the public certificate; each one goes to traefik. Without a
 * routes file to keep them beside, the account and certificates live in a private directory
 * removed at exit.
 */
async function acmeManager(
  acme: AcmeSettings,
  context: { challenges: Map<string, string>; proxy: RunningProxy; log: Logger },
): Promise<{ close(): Promise<void>; notAfter(): Date | undefined }> {
  const values = context.proxy.values;
  const privateDir = acme.storageDir && !values
    ? undefined
    : await Deno.makeTempDir({ prefix: "jupyterhub-traefik-acme-" });
  const common = {
    directoryUrl: acme.server,
    domains: acme.domains,
    email: acme.email,
    caCert: acme.caFile ? await Deno.readTextFile(acme.caFile) : undefined,
    renewBeforeMs: acme.renewBeforeMs,
    onCertificate: (files: CertificateFiles) => context.proxy.setTls(files),
    log: (message: string) => context.log.info(message),
  };
  // Loaded only here: the ACME client stays out of a proxy that does not use it.
  const manager = values
    // Several replicas: the certificate, the lease and the challenges are in the shared store.
    ? await (await import("../acme/shared.ts")).startSharedAcme({
      ...common,
      values,
      holder: `${Deno.pid}:${crypto.randomUUID()}`,
      localDir: privateDir!,
    })
    : await (await import("../acme/acme.ts")).startAcme({
      ...common,
      storageDir: acme.storageDir ?? privateDir!,
      challenges: context.challenges,
    });
  return {
    notAfter: () => manager.current?.notAfter,
    async close() {
      await manager.close();
      if (privateDir) await Deno.remove(privateDir, { recursive: true }).catch(() => {});
    },
  };
}

function apiWhere(settings: CliSettings): string {
  const api = settings.api;
  return "path" in api ? api.path : `${api.hostname}:${api.port}`;
}
