/**
 * The command-line proxy: a drop-in for `configurable-http-proxy` that JupyterHub launches
 * through `c.ConfigurableHTTPProxy.command`. It starts traefik (unless `--external-traefik`),
 * writes routes to the chosen provider and serves CHP's REST API.
 *
 * ```sh
 * deno run --allow-net --allow-read --allow-write --allow-env --allow-run \
 *   jsr:@jupyterhub/traefik-proxy-deno/cli --ip 127.0.0.1 --port 8000
 * ```
 *
 * @module
 */

import denoJson from "../../deno.json" with { type: "json" };
import { helpText, type OptionValues, parseArgs } from "./flags.ts";
import { cliSettings } from "./settings.ts";
import { formatOf, parseConfig } from "../core/config_format.ts";
import { chpHandler } from "./api_handler.ts";
import { ConfigError } from "../core/errors.ts";
import { instanceConfig } from "./instance_config.ts";
import { internalHandler } from "./internal_handler.ts";
import { deepMerge } from "../core/tree.ts";
import { type ProviderOptions, type Proxy, startProxy } from "../proxy.ts";
import { runAll } from "../async/run_all.ts";
import type { ConfigTree } from "../core/types.ts";

const LEVELS = ["debug", "info", "warn", "error"] as const;
type Level = typeof LEVELS[number];

/** A logger that writes one line per message to stderr, from `level` up. */
export type Logger = Record<Level, (message: string) => void>;

function logger(level: string): Logger {
  const min = Math.max(0, LEVELS.indexOf(level.toLowerCase() as Level));
  const out = {} as Logger;
  LEVELS.forEach((name, i) => {
    out[name] = i < min ? () => {} : (message: string) => {
      const time = new Date().toISOString().replace("T", " ").slice(0, 23);
      console.error(`[${name[0].toUpperCase()} ${time} traefik-proxy] ${message}`);
    };
  });
  return out;
}

/** Options of `main`. */
export interface MainOptions {
  /** Environment; default `Deno.env`. */
  env?: Record<string, string | undefined>;
  /** Resolves when the process should stop (in addition to SIGTERM and SIGINT). */
  stop?: Promise<void>;
}

/**
 * Runs the proxy until SIGTERM or SIGINT; resolves to the exit code. Startup errors print one
 * line saying what to do and resolve to 1.
 *
 * @example
 * ```ts
 * import { main } from "./main.ts";
 * // Deno.exit(await main(["--ip", "127.0.0.1", "--port", "8000"]));
 * ```
 */
export async function main(args: string[], options: MainOptions = {}): Promise<number> {
  const env = options.env ?? Deno.env.toObject();
  let log = logger("info");
  const cleanups: (() => Promise<void> | void)[] = [];
  try {
    const configPath = preScan(args, "config") ?? env.JUPYTERHUB_TRAEFIK_CONFIG;
    const config = configPath ? await readTree(configPath, "--config") : undefined;
    const { values, warnings } = parseArgs(args, { env, config });
    if (values.help) {
      console.log(helpText());
      return 0;
    }
    if (values.version) {
      console.log(denoJson.version);
      return 0;
    }
    log = logger(String(values["log-level"] ?? "info"));
    for (const warning of warnings) log.warn(warning);
    const settings = cliSettings(values);
    const external = values["external-traefik"] === true;
    for (const bind of settings.binds) checkFree(bind.hostname, bind.port, bind.what);

    // traefik's private API entry point.
    let apiUrl = settings.traefikApiUrl;
    if (!apiUrl) {
      if (external) throw new ConfigError("--external-traefik needs --traefik-api-url");
      apiUrl = `http://127.0.0.1:${freeLoopbackPort()}`;
    }
    const parsedApi = new URL(apiUrl);
    const apiAddress = `${parsedApi.hostname}:${parsedApi.port || 80}`;
    if (!external) {
      if (!["127.0.0.1", "localhost", "[::1]"].includes(parsedApi.hostname)) {
        throw new ConfigError(
          "--traefik-api-url must be on 127.0.0.1 or localhost (it is private)",
        );
      }
      checkFree(parsedApi.hostname, Number(parsedApi.port || 80), "--traefik-api-url");
    }

    // The internal server behind /_chp_healthz, the 404 catch-all and error pages.
    const internal = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      internalHandler({ errorTarget: values["error-target"] as string | undefined }),
    );
    cleanups.unshift(() => internal.shutdown());
    const instance = instanceConfig({
      entryPoint: settings.entryPoint,
      internalUrl: `http://127.0.0.1:${internal.addr.port}`,
      defaultTarget: values["default-target"] as string | undefined,
      customHeaders: values["custom-header"] as string[] | undefined,
    });
    const extraStatic = values["extra-static-config"]
      ? await readTree(String(values["extra-static-config"]), "--extra-static-config")
      : {};
    const extraDynamic = values["extra-dynamic-config"]
      ? await readTree(String(values["extra-dynamic-config"]), "--extra-dynamic-config")
      : {};

    const proxy: Proxy = await startProxy({
      provider: providerOptions(settings.provider, values),
      entryPoint: settings.entryPoint,
      publicAddress: settings.publicAddress,
      apiAddress,
      apiUsername: values["traefik-api-username"] as string | undefined,
      apiPassword: values["traefik-api-password"] as string | undefined,
      external: external
        ? {
          apiUrl,
          username: values["traefik-api-username"] as string | undefined,
          password: values["traefik-api-password"] as string | undefined,
        }
        : undefined,
      traefikBinary: values["traefik-bin"] as string | undefined,
      traefikLogLevel: (values["traefik-log-level"] as string | undefined)?.toUpperCase(),
      tls: settings.tls,
      staticConfigFile: values["static-config-file"] as string | undefined,
      extraStaticConfig: deepMerge(settings.staticExtras, extraStatic),
      extraDynamicConfig: external ? extraDynamic : deepMerge(instance.config, extraDynamic),
      middlewares: external ? [] : instance.middlewares.map((name) => `${name}@file`),
      checkRouteTimeoutMs: settings.checkRouteTimeoutMs,
      stopGraceMs: 5_000,
      log: (message) => log.info(message),
    });
    cleanups.unshift(() => proxy.stop());

    const handler = chpHandler(proxy, {
      authToken: env.CONFIGPROXY_AUTH_TOKEN || undefined,
      hostRouting: values["host-routing"] === true,
      log: (message) => log.warn(message),
    });
    const logged = async (request: Request) => {
      const response = await handler(request);
      log.debug(`${request.method} ${new URL(request.url).pathname} ${response.status}`);
      return response;
    };
    let server: Deno.HttpServer;
    if ("path" in settings.api) {
      await Deno.remove(settings.api.path).catch(() => {});
      server = Deno.serve({ path: settings.api.path, onListen: () => {} }, logged);
    } else {
      server = Deno.serve({
        hostname: settings.api.hostname,
        port: settings.api.port,
        ...(settings.apiTls
          ? {
            cert: await Deno.readTextFile(settings.apiTls.cert),
            key: await Deno.readTextFile(settings.apiTls.key),
          }
          : {}),
        onListen: () => {},
      }, logged);
    }
    cleanups.unshift(() => server.shutdown());
    const pidFile = values["pid-file"] as string | undefined;
    if (pidFile) {
      await Deno.writeTextFile(pidFile, `${Deno.pid}\n`);
      cleanups.push(() => Deno.remove(pidFile).catch(() => {}));
    }
    const apiWhere = "path" in settings.api
      ? settings.api.path
      : `${settings.api.hostname}:${settings.api.port}`;
    log.info(
      `proxying ${settings.publicAddress} through traefik (${settings.provider} provider, ` +
        `${external ? "external" : `pid ${proxy.traefik?.pid}`}); REST API on ${apiWhere}`,
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
    const message = error instanceof Error ? error.message : String(error);
    console.error(`jupyterhub-traefik-proxy: ${message}`);
    return 1;
  }
}

function providerOptions(kind: string, values: OptionValues): ProviderOptions {
  const str = (name: string) => values[name] === undefined ? undefined : String(values[name]);
  const prefixes = {
    traefikPrefix: str("kv-traefik-prefix"),
    jupyterhubPrefix: str("kv-jupyterhub-prefix"),
  };
  if (kind === "redis") {
    return {
      kind,
      url: str("redis-url"),
      username: str("redis-username"),
      password: str("redis-password"),
      ...prefixes,
    };
  }
  if (kind === "etcd") {
    return {
      kind,
      urls: str("etcd-url")?.split(",").map((url) => url.trim()).filter(Boolean),
      username: str("etcd-username"),
      password: str("etcd-password"),
      caFile: str("etcd-ca-file"),
      ...prefixes,
    };
  }
  return { kind: "file", path: str("dynamic-config-file") };
}

function preScan(args: string[], name: string): string | undefined {
  let found: string | undefined;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === `--${name}`) found = args[i + 1];
    else if (args[i].startsWith(`--${name}=`)) found = args[i].slice(name.length + 3);
  }
  return found;
}

async function readTree(path: string, what: string): Promise<ConfigTree> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    throw new ConfigError(`${what} ${path} cannot be read: ${(error as Error).message}`);
  }
  try {
    return parseConfig(text, formatOf(path));
  } catch (error) {
    throw new ConfigError(`${what} ${path}: ${(error as Error).message}`);
  }
}

function checkFree(hostname: string, port: number, what: string): void {
  if (port === 0) return;
  let listener: Deno.Listener | undefined;
  try {
    listener = Deno.listen({ hostname: hostname.replace(/^\[|\]$/g, ""), port });
  } catch (error) {
    if (error instanceof Deno.errors.AddrInUse) {
      throw new ConfigError(
        `${what}: ${hostname}:${port} is already in use; stop what listens there or choose ` +
          "another port",
      );
    }
    throw new ConfigError(
      `${what}: cannot listen on ${hostname}:${port}: ${(error as Error).message}`,
    );
  } finally {
    listener?.close();
  }
}

function freeLoopbackPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}
