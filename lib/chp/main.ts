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
import { loadFlags, readExtraConfig, targetClient } from "./config_file.ts";
import { withFlagHint } from "./error_hint.ts";
import { helpText } from "./flags.ts";
import { internalHandler } from "./internal_handler.ts";
import { createLogger, type Logger } from "./log.ts";
import { checkFree, freeLoopbackPort } from "./ports.ts";
import { proxyOptions } from "./proxy_options.ts";
import { type CliSettings, cliSettings } from "./settings.ts";

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
    log = createLogger(settings.logLevel);
    for (const warning of flags.warnings) log.warn(warning);
    for (const bind of settings.binds) checkFree(bind);
    const traefikApiUrl = settings.traefikApi.url ?? `http://127.0.0.1:${freeLoopbackPort()}`;
    const extra = await readExtraConfig(settings);
    const client = await targetClient(settings);
    if (client) cleanups.push(() => client.close());

    // The internal server behind /_chp_healthz, the 404 catch-all and error pages.
    const internal = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      internalHandler({ errorTarget: settings.errorTarget }),
    );
    cleanups.unshift(() => internal.shutdown());

    const proxy: RunningProxy = await startProxy(proxyOptions(settings, {
      traefikApiUrl,
      internalUrl: `http://127.0.0.1:${internal.addr.port}`,
      ...extra,
      targetClient: client,
      log: (message) => log.info(message),
    }));
    cleanups.unshift(() => proxy.stop());

    const server = await serveApi(proxy, settings, log);
    cleanups.unshift(() => server.shutdown());

    const pidFile = settings.pidFile;
    if (pidFile) {
      await Deno.writeTextFile(pidFile, `${Deno.pid}\n`);
      cleanups.push(() => Deno.remove(pidFile).catch(() => {}));
    }
    log.info(
      `proxying ${settings.publicAddress} through traefik (${settings.provider.kind} provider, ` +
        `${settings.external ? "external" : `pid ${proxy.traefik?.pid}`}; fallback ` +
        `${proxy.fallback ? "on" : settings.fallbackOff ?? "off"}); ` +
        `REST API on ${apiWhere(settings)}`,
    );

    let signalled!: () => void;
    const done = new Promise<void>((resolve) => signalled = resolve);
    const onSignal = () => signalled();
    for (const signal of ["SIGTERM", "SIGINT"] as const) {
      Deno.addSignalListener(signal, onSignal);
      cleanups.push(() => Deno.removeSignalListener(signal, onSignal));
    }
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

/** Serves CHP's REST API on its TCP address (with TLS when configured) or unix socket. */
async function serveApi(
  proxy: RunningProxy,
  settings: CliSettings,
  log: Logger,
): Promise<Deno.HttpServer> {
  const handler = chpHandler(proxy, {
    authToken: settings.authToken,
    hostRouting: settings.hostRouting,
    log: (message) => log.warn(message),
  });
  const logged = async (request: Request) => {
    const response = await handler(request);
    log.debug(`${request.method} ${new URL(request.url).pathname} ${response.status}`);
    return response;
  };
  const api = settings.api;
  if ("path" in api) {
    await Deno.remove(api.path).catch(() => {});
    return Deno.serve({ path: api.path, onListen: () => {} }, logged);
  }
  const tls = settings.apiTls
    ? {
      cert: await Deno.readTextFile(settings.apiTls.cert),
      key: await Deno.readTextFile(settings.apiTls.key),
    }
    : {};
  return Deno.serve({ hostname: api.hostname, port: api.port, ...tls, onListen: () => {} }, logged);
}

function apiWhere(settings: CliSettings): string {
  const api = settings.api;
  return "path" in api ? api.path : `${api.hostname}:${api.port}`;
}
