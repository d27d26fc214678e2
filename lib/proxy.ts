/**
 * A running proxy: a route store, the traefik that serves it (started here, or external), and
 * the confirmer that waits for traefik to reflect changes. Created by `startProxy`, ended by
 * its `stop()`.
 *
 * @module
 */

import { apiPasswordHash, generateApiPassword } from "./traefik/api_password.ts";
import { deepMerge } from "./core/tree.ts";
import { SENTINEL_NAME } from "./core/route_config.ts";
import { staticConfig } from "./traefik/static_config.ts";
import { apiRouteConfig } from "./traefik/api_router.ts";
import type { Store } from "./core/store.ts";
import { startTraefik, type TraefikProcess } from "./traefik/process.ts";
import type { RouteConfirmer } from "./core/confirmer.ts";
import { type TraefikApi, traefikApi } from "./traefik/api.ts";
import { routeConfirmer } from "./traefik/confirm.ts";
import { runAll } from "./async/run_all.ts";
import type { ConfigTree } from "./core/types.ts";
import { openStore, type ProviderOptions } from "../providers/mod.ts";

export type {
  EtcdProviderOptions,
  FileProviderOptions,
  ProviderOptions,
  RedisProviderOptions,
} from "../providers/mod.ts";

/** traefik managed by someone else: this proxy only writes the dynamic configuration. */
export interface ExternalTraefikOptions {
  /** URL of traefik's API, e.g. `http://127.0.0.1:8099`. */
  apiUrl: string;
  /** basicAuth user name of the API. */
  username?: string;
  /** basicAuth password of the API. */
  password?: string;
}

/** Options of `startProxy`. */
export interface StartProxyOptions {
  /** Where routes live; default a private TOML file. */
  provider?: ProviderOptions;
  /** Public entry point name; default `http`. */
  entryPoint?: string;
  /** Public address of traefik (`host:port`); default `127.0.0.1:8000`. */
  publicAddress?: string;
  /** Private address of traefik's API entry point; default `127.0.0.1:8099`. */
  apiAddress?: string;
  /** traefik API user name; default `jupyterhub`. */
  apiUsername?: string;
  /** traefik API password; default: random. */
  apiPassword?: string;
  /** Use an external traefik instead of starting one. */
  external?: ExternalTraefikOptions;
  /**
   * With routes in redis or etcd and a traefik started here: feed that traefik from a private
   * file rendered from the watched store (default true), instead of having it read the store
   * itself (false, as an external traefik does). traefik's file provider reloads in a fraction
   * of the time its redis and etcd providers take.
   */
  feedTraefik?: boolean;
  /** traefik binary; default: `findTraefik()`. */
  traefikBinary?: string;
  /** traefik's log level; default WARN. */
  traefikLogLevel?: string;
  /** TLS certificate and key for the public entry point. */
  tls?: { certFile: string; keyFile: string };
  /** Static configuration deep-merged last into the generated one. */
  extraStaticConfig?: ConfigTree;
  /** Dynamic configuration written beside the routes (file provider) . */
  extraDynamicConfig?: ConfigTree;
  /** Public entry-point middlewares (`name@provider`), e.g. from `extraDynamicConfig`. */
  middlewares?: string[];
  /** Entry-point timeouts as traefik durations. */
  respondingTimeouts?: { readTimeout?: string; writeTimeout?: string; idleTimeout?: string };
  /** How long to wait for traefik to confirm a route change, in ms; default 30,000. */
  checkRouteTimeoutMs?: number;
  /** Where to write traefik's static configuration; default: a private file. */
  staticConfigFile?: string;
  /** How long traefik may take to stop after SIGTERM before SIGKILL, in ms; default 10,000. */
  stopGraceMs?: number;
  /** How long traefik may take to start, in ms; default 30,000. */
  startTimeoutMs?: number;
  /** Receives lifecycle messages. */
  log?: (message: string) => void;
}

/** A running proxy. */
export interface RunningProxy {
  /** The route store. */
  readonly store: Store;
  /** Waits for traefik to reflect changes. */
  readonly confirm: RouteConfirmer;
  /** Client of traefik's API. */
  readonly api: TraefikApi;
  /** The traefik process, when this proxy started it. */
  readonly traefik?: TraefikProcess;
  /** Stops traefik (if started here), closes the store and removes private files. */
  stop(): Promise<void>;
}

/**
 * Starts a proxy: opens the store, starts traefik (unless `external`) and waits until traefik
 * has loaded the routing table.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { addRoute, getAllRoutes } from "./routes.ts";
 * import { startProxy } from "./proxy.ts";
 * const free = () => {
 *   const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 *   listener.close();
 *   return listener.addr.port;
 * };
 * const proxy = await startProxy({
 *   publicAddress: `127.0.0.1:${free()}`,
 *   apiAddress: `127.0.0.1:${free()}`,
 * });
 * try {
 *   // Resolves once traefik serves the route (a private routes file, removed by stop()).
 *   await addRoute(proxy, { routespec: "/user/alice/", target: "http://127.0.0.1:9000" });
 *   assert.deepEqual([...(await getAllRoutes(proxy)).keys()], ["/user/alice/"]);
 * } finally {
 *   await proxy.stop();
 * }
 * ```
 * @throws {TraefikNotFoundError | TraefikStartError} when traefik cannot be started.
 * @throws {StoreError | ConfigError} when the store cannot be opened.
 */
export async function startProxy(options: StartProxyOptions = {}): Promise<RunningProxy> {
  const entryPoint = options.entryPoint ?? "http";
  const apiAddress = options.apiAddress ?? "127.0.0.1:8099";
  const username = options.apiUsername ?? "jupyterhub";
  const password = options.apiPassword ?? generateApiPassword();
  const log = options.log ?? (() => {});
  const workDir = await Deno.makeTempDir({ prefix: "jupyterhub-traefik-" });
  const cleanups: (() => Promise<void>)[] = [() => Deno.remove(workDir, { recursive: true })];

  try {
    let fixed: ConfigTree = options.extraDynamicConfig ?? {};
    if (options.tls) {
      fixed = deepMerge(fixed, { tls: { certificates: [{ ...options.tls }] } });
    }
    if (!options.external) {
      fixed = deepMerge(
        apiRouteConfig({
          username,
          passwordHash: await apiPasswordHash(password, {
            generated: options.apiPassword === undefined,
          }),
        }),
        fixed,
      );
    }
    const opened = await openStore(options.provider ?? { kind: "file" }, {
      workDir,
      entryPoint,
      fixed,
      log,
      feed: !options.external && options.feedTraefik !== false,
    });
    cleanups.unshift(() => opened.close());
    const { store, providers, traefikProvider } = opened;

    const api = options.external
      ? traefikApi({
        url: options.external.apiUrl,
        username: options.external.username,
        password: options.external.password,
      })
      : traefikApi({ url: `http://${apiAddress}`, username, password });
    let traefik: TraefikProcess | undefined;
    if (!options.external) {
      traefik = await startTraefik({
        staticConfig: staticConfig({
          entryPoint,
          publicAddress: options.publicAddress ?? "127.0.0.1:8000",
          apiAddress,
          logLevel: options.traefikLogLevel,
          providers,
          tls: options.tls !== undefined,
          middlewares: options.middlewares,
          respondingTimeouts: options.respondingTimeouts,
          extra: options.extraStaticConfig,
        }),
        workDir,
        configPath: options.staticConfigFile,
        stopGraceMs: options.stopGraceMs,
        binary: options.traefikBinary,
        api,
        readyPath: `/api/http/routers/${SENTINEL_NAME}@${traefikProvider}`,
        startTimeoutMs: options.startTimeoutMs,
        log,
      });
      cleanups.unshift(() => traefik!.stop());
    }
    const confirm = routeConfirmer(api, {
      provider: traefikProvider,
      timeoutMs: options.checkRouteTimeoutMs,
    });
    let stopped: Promise<void> | undefined;
    return {
      store,
      confirm,
      api,
      traefik,
      stop() {
        stopped ??= runAll(cleanups);
        return stopped;
      },
    };
  } catch (error) {
    await runAll(cleanups);
    throw error;
  }
}
