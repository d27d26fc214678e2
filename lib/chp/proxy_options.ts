/**
 * The options of `startProxy` for the command line: the settings, plus what is known only once
 * the process runs (traefik's API URL, the internal server's URL, the extra configuration read
 * from files). Pure.
 *
 * @module
 */

import { rawRequestPath } from "../core/request_path.ts";
import { deepMerge } from "../core/tree.ts";
import type { ConfigTree } from "../core/types.ts";
import type { TargetTls } from "../fallback/forward.ts";
import type { ProxyEvents, StartProxyOptions } from "../proxy.ts";
import { apiTlsConfig } from "./api_tls.ts";
import { ConfigError } from "../core/errors.ts";
import { instanceConfig } from "./instance_config.ts";
import { errorPage } from "./internal_handler.ts";
import { type CliSettings, hostPort, traefikApiAddress } from "./settings.ts";

/** How long traefik may take to stop after SIGTERM: JupyterHub restarts on the same ports. */
const STOP_GRACE_MS = 5_000;

/**
 * What `proxyOptions` needs beyond the settings.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { cliSettings } from "./settings.ts";
 * import { proxyOptions, type ProxyRuntime } from "./proxy_options.ts";
 * const runtime: ProxyRuntime = {
 *   traefikApiUrl: "http://127.0.0.1:8099",
 *   internalUrl: "http://127.0.0.1:40000",
 *   extraStaticConfig: { accessLog: {} },
 * };
 * const options = proxyOptions(cliSettings({}), runtime);
 * assert.deepEqual(options.extraStaticConfig?.accessLog, {});
 * ```
 */
export interface ProxyRuntime {
  /** traefik's API URL: `--traefik-api-url`, or one on a free loopback port. */
  traefikApiUrl: string;
  /** URL of this process's internal server (healthz, the 404 page, error pages). */
  internalUrl: string;
  /** Static configuration merged last (`--extra-static-config`). */
  extraStaticConfig?: ConfigTree;
  /** Dynamic configuration written beside the routes (`--extra-dynamic-config`). */
  extraDynamicConfig?: ConfigTree;
  /** Receives the proxy's lifecycle messages. */
  log?: (message: string) => void;
  /** The CAs and client certificate the fallback reaches https targets with (`targetTls`). */
  targetTls?: TargetTls;
  /**
   * With `--socket`: traefik's public address, a free loopback port the socket is relayed to.
   */
  publicAddress?: string;
  /**
   * With API client certificates (`CliSettings.apiTls.clientCaFile`): this process's private
   * API listener, `127.0.0.1:port`, that traefik passes verified connections to.
   */
  apiBackend?: string;
  /** Receives the proxy's events (this process's metrics). */
  events?: ProxyEvents;
}

/**
 * Builds the options of `startProxy`. A traefik started here gets this process's healthz,
 * catch-all, error pages and custom headers; an external one only the extra configuration.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { cliSettings } from "./settings.ts";
 * import { proxyOptions } from "./proxy_options.ts";
 * const options = proxyOptions(cliSettings({ ip: "127.0.0.1", port: 8000 }), {
 *   traefikApiUrl: "http://127.0.0.1:8099",
 *   internalUrl: "http://127.0.0.1:40000",
 * });
 * assert.equal(options.apiAddress, "127.0.0.1:8099");
 * assert.deepEqual(options.middlewares, ["jupyterhub-errors@file"]);
 * ```
 * @throws {ConfigError} for an invalid `--custom-header`.
 */
export function proxyOptions(settings: CliSettings, runtime: ProxyRuntime): StartProxyOptions {
  const { traefikApi, external } = settings;
  const instance = instanceConfig({
    entryPoint: settings.entryPoint,
    internalUrl: runtime.internalUrl,
    defaultTarget: settings.defaultTarget,
    customHeaders: settings.customHeaders,
    fallback: settings.fallback !== false,
    // HTTP-01 challenges come over http: on the redirect entry point (the public one is https).
    acmeEntryPoints: settings.acme ? ["redirect"] : undefined,
  });
  const pages = { errorTarget: settings.errorTarget };
  let extraDynamic = runtime.extraDynamicConfig ?? {};
  let extraStatic = deepMerge(settings.staticExtras, runtime.extraStaticConfig ?? {});
  const apiTls = settings.apiTls;
  if (apiTls?.clientCaFile && "port" in settings.api) {
    if (!runtime.apiBackend) {
      throw new ConfigError("the REST API's private listener must be given (apiBackend)");
    }
    const api = apiTlsConfig({
      address: hostPort(settings.api.hostname, settings.api.port),
      backend: runtime.apiBackend,
      certFile: apiTls.cert,
      keyFile: apiTls.key,
      clientCaFile: apiTls.clientCaFile,
    });
    // Routers that name no entry point stay on the public one, off the API's.
    extraStatic = deepMerge(
      deepMerge(api.staticConfig, {
        entryPoints: { [settings.entryPoint]: { asDefault: true } },
      }),
      extraStatic,
    );
    extraDynamic = withCertificates(deepMerge(api.dynamicConfig, extraDynamic), [
      extraDynamic,
      api.dynamicConfig,
    ]);
  }
  return {
    provider: settings.provider,
    entryPoint: settings.entryPoint,
    publicAddress: runtime.publicAddress ?? settings.publicAddress,
    apiAddress: traefikApiAddress(runtime.traefikApiUrl),
    apiUsername: traefikApi.username,
    apiPassword: traefikApi.password,
    external: external
      ? {
        apiUrl: runtime.traefikApiUrl,
        username: traefikApi.username,
        password: traefikApi.password,
      }
      : undefined,
    feedTraefik: settings.feedTraefik,
    fallback: settings.fallback
      ? {
        ...settings.fallback,
        ...(runtime.targetTls ? { tls: runtime.targetTls } : {}),
        defaultTarget: settings.defaultTarget,
        notFound: (request) => errorPage(404, rawRequestPath(request.url), pages),
        unreachable: (request) => errorPage(503, rawRequestPath(request.url), pages),
      }
      : false,
    activity: settings.activity,
    drift: settings.drift,
    entryTree: settings.entryTree,
    traefikMetrics: settings.metrics !== undefined && !external,
    events: runtime.events,
    traefikBinary: settings.traefikBin,
    dashboard: settings.traefikDashboard,
    traefikLogLevel: settings.traefikLogLevel,
    tls: settings.tls,
    tlsPending: settings.acme !== undefined,
    serversTransport: settings.targetTransport,
    staticConfigFile: settings.staticConfigFile,
    extraStaticConfig: extraStatic,
    extraDynamicConfig: external ? extraDynamic : deepMerge(instance.config, extraDynamic),
    middlewares: external ? [] : instance.middlewares.map((name) => `${name}@file`),
    checkRouteTimeoutMs: settings.checkRouteTimeoutMs,
    stopGraceMs: STOP_GRACE_MS,
    log: runtime.log,
  };
}

/** `config` with `tls.certificates` of every one of `sources`, one after the other. */
function withCertificates(config: ConfigTree, sources: ConfigTree[]): ConfigTree {
  const certificates = sources.flatMap((source) => {
    const list = (source.tls as ConfigTree | undefined)?.certificates;
    return Array.isArray(list) ? list : [];
  });
  return deepMerge(config, { tls: { certificates } });
}
