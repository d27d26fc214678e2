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
import { feedConfirmer, feedStampReader } from "./traefik/feed_confirmer.ts";
import { runAll } from "./async/run_all.ts";
import type { ConfigTree, RouteChange } from "./core/types.ts";
import { type EntryTree, TREE_ROUTER_PREFIX } from "./core/entry_tree.ts";
import { openStore, type ProviderOptions } from "../providers/mod.ts";
import type { KvStore, SharedValues } from "../providers/kv_store.ts";
export type { SharedValues, VersionedValue } from "../providers/kv_store.ts";
import { ConfigError, FallbackError, TargetError } from "./core/errors.ts";
import { unixTarget } from "./core/unix_target.ts";
import { unixTargetRelays } from "./net/unix_targets.ts";
import { checkFallbackRouter, FALLBACK_ROUTER, fallbackConfig } from "./traefik/fallback_router.ts";
import { fallbackHandler, type FallbackHandlerOptions } from "./fallback/handler.ts";
import { type FallbackRouter, fallbackRouter } from "./fallback/router.ts";
import { upstreamPool } from "./fallback/upstream_pool.ts";
import { type ActivityTracker, activityTracker } from "./activity/tracker.ts";
import { localActivity } from "./activity/local_activity.ts";
import { sharedActivity } from "./activity/shared_activity.ts";
import { accessLogEntry } from "./traefik/access_log.ts";
import { type DriftRepair, driftRepair } from "./traefik/drift_repair.ts";
import { routespecOfRouter } from "./core/names.ts";

export type { ActivityTracker } from "./activity/tracker.ts";
export type { DriftRepair } from "./traefik/drift_repair.ts";

/** Events a running proxy reports (for metrics). */
export interface ProxyEvents {
  /** traefik took a change over from the fallback, `ms` after it was acknowledged. */
  takeover?(ms: number): void;
  /**
   * A route created (by this process or another replica) reached this process's copy of the
   * table `ms` after its creation.
   */
  watchLag?(ms: number): void;
}

/** Options of the tracking of routes' activity (see `StartProxyOptions.activity`). */
export interface ActivityOptions {
  /** How often activity is written to the store (or the file beside the routes), in ms; default 10,000. */
  intervalMs?: number;
  /**
   * Relay websockets through this process's fallback, which sees every message of an open
   * websocket (default true with the fallback on); false: traefik relays them, and a websocket
   * counts once, when it closes.
   */
  websockets?: boolean;
}

export type { FallbackHandlerOptions } from "./fallback/handler.ts";
export type { TargetTls } from "./fallback/forward.ts";
export {
  BadResponseError,
  RequestBodyError,
  UnreachableError,
  type UpstreamPool,
  upstreamPool,
  type UpstreamPoolOptions,
  type UpstreamRequest,
  type UpstreamResponse,
} from "./fallback/upstream_pool.ts";

/** Options of the fallback (see `StartProxyOptions.fallback`). */
export interface FallbackOptions extends FallbackHandlerOptions {
  /** Where the fallback server listens; default `127.0.0.1`. */
  hostname?: string;
  /**
   * Its port; default a free one. Required with an external traefik, whose catch-all router
   * must name it (checked at start).
   */
  port?: number;
}

export type {
  ConsulProviderOptions,
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
   * The fallback (on by default with a traefik started here): this process serves, through
   * traefik's catch-all router, the routes traefik has not loaded yet, so that a new route is
   * routable, and `addRoute` resolves, as soon as the store holds it; traefik takes each route
   * over with its next rebuild. The root route `/` and the default target are always served
   * by the fallback. `false`: no fallback, every change waits for traefik (and the caller
   * routes unmatched requests itself, e.g. through `extraDynamicConfig`). With `external`, off
   * unless given with a `port`, to which the external traefik must have the catch-all router
   * (`fallbackConfig`; checked at start).
   */
  fallback?: false | FallbackOptions;
  /**
   * Routes' `last_activity` from real traffic (on by default): the requests traefik serves,
   * read from its access log (a traefik started here), and those the fallback serves, websocket
   * messages included; kept in the shared store (every replica's traffic) or beside the routes
   * file. `false`: routes keep the time they were added, as with the Python proxy.
   */
  activity?: false | ActivityOptions;
  /**
   * A tree of entry points in the traefik started here, with the fallback
   * (`lib/core/entry_tree.ts`): from this many routes under one parent path (`/user/`), each
   * route's router goes to a loopback entry point for the first character of its user name,
   * reached from the public entry point through one router per such entry point, so that
   * traefik tries a request against a twelfth of the table. Default 2,000; `false`: every
   * router stays on the public entry point.
   */
  entryTree?: false | number;
  /**
   * Drift repair (on by default, every 60 s): compare the routers and services traefik serves
   * with the table and write again what differs (`driftRepair`). `false`: off.
   */
  drift?: false | { intervalMs?: number };
  /**
   * traefik's Prometheus metrics on its private API address (`/metrics`, behind the API's
   * basicAuth), for this process to serve beside its own. Not with `external`.
   */
  traefikMetrics?: boolean;
  /** Receives events for this process's metrics. */
  events?: ProxyEvents;
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
  /**
   * TLS certificate and key for the public entry point; it is also traefik's default
   * certificate (served to clients that send no name it has a certificate for). With
   * `clientCaFile`, every TLS client must present a certificate signed by that CA.
   */
  tls?: PublicTls;
  /**
   * Serve TLS on the public entry point before there is a certificate (traefik's own default
   * one, until `RunningProxy.setTls` gives one: ACME).
   */
  tlsPending?: boolean;
  /**
   * traefik's dashboard on its private API address (`/dashboard/`), behind the API's basicAuth;
   * never on the public entry point. Not with `external`.
   */
  dashboard?: boolean;
  /**
   * How traefik reaches every route's target (a dynamic `http.serversTransports` entry:
   * `rootCAs`, `certificates`, `insecureSkipVerify`, `forwardingTimeouts`), when traefik's
   * static default transport cannot say it (client certificates); default that transport. Not
   * with `external` (that traefik's transports are its operator's).
   */
  serversTransport?: ConfigTree;
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
  /** The fallback router, when the fallback is on. */
  readonly fallback?: FallbackRouter;
  /** Routes' activity from traffic, unless `activity: false`. */
  readonly activity?: ActivityTracker;
  /** Drift repair, unless `drift: false`. */
  readonly drift?: DriftRepair;
  /** How often the watch of a shared store was lost and the table read again. */
  watchResets?(): number;
  /**
   * Serves `tls` on the public entry point from now on (a renewed certificate), in place of the
   * one given at start; resolves once traefik's file holds it.
   */
  setTls(tls: PublicTls): Promise<void>;
  /** Single values beside the routes in a shared store (redis, etcd, consul), with CAS. */
  readonly values?: SharedValues;
  /** Stops traefik (if started here), closes the store and removes private files. */
  stop(): Promise<void>;
}

/**
 * A certificate for the public entry point, and the CA of the clients' certificates if it
 * requires them.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import type { PublicTls } from "./proxy.ts";
 * const tls: PublicTls = { certFile: "/etc/hub/cert.pem", keyFile: "/etc/hub/key.pem" };
 * assert.equal(tls.clientCaFile, undefined);
 * ```
 */
export interface PublicTls {
  /** PEM certificate chain. */
  certFile: string;
  /** PEM private key. */
  keyFile: string;
  /** Clients must present a certificate this CA signed. */
  clientCaFile?: string;
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
 * @throws {FallbackError} when the fallback cannot run with this store or external traefik.
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
    const fallbackOptions = options.fallback || undefined;
    if (options.external && fallbackOptions && !fallbackOptions.port) {
      throw new ConfigError(
        "the fallback with an external traefik needs a fixed port, to which traefik's catch-all " +
          "router sends unmatched requests",
      );
    }
    const useFallback = options.external
      ? fallbackOptions !== undefined
      : options.fallback !== false;
    // http+unix targets: a loopback relay per socket, for the traefik started here.
    const unixRelays = options.external ? undefined : unixTargetRelays();
    if (unixRelays) cleanups.unshift(() => unixRelays.close());
    const abort = new AbortController();
    cleanups.unshift(() => Promise.resolve(abort.abort(new Error("the proxy is stopping"))));
    let router: FallbackRouter | undefined;
    let tracker: ActivityTracker | undefined;
    const activityOptions = options.activity === false ? undefined : options.activity ?? {};
    const relayWebsockets = activityOptions !== undefined && activityOptions.websockets !== false;
    let fallbackPort: number | undefined;
    let fallbackHost = "127.0.0.1";
    if (useFallback) {
      // Connections to targets, kept between requests; closed after the server below.
      let pool = fallbackOptions?.pool;
      if (pool === undefined) {
        const own = pool = upstreamPool();
        cleanups.unshift(() => Promise.resolve(own.close()));
      }
      const handler = fallbackHandler(
        { match: (request) => router?.match(request) },
        {
          ...fallbackOptions,
          pool,
          targetUrl: unixRelays?.url,
          onActivity: (routespec) => tracker?.seen(routespec),
        },
      );
      const server = Deno.serve({
        hostname: fallbackOptions?.hostname ?? "127.0.0.1",
        port: fallbackOptions?.port ?? 0,
        // Responses go out as the target sent them (forward.ts).
        automaticCompression: false,
        onListen: () => {},
      }, handler);
      // Streams (downloads, event streams) hold a graceful shutdown open: give them a moment.
      cleanups.unshift(() =>
        Promise.race([server.shutdown(), new Promise((resolve) => setTimeout(resolve, 2_000))])
          .then(() => {})
      );
      fallbackPort = server.addr.port;
      fallbackHost = server.addr.hostname;
    }
    let fixed: ConfigTree = options.extraDynamicConfig ?? {};
    // The tree's loopback entry points: only for the traefik started here and fed here, with
    // the fallback, and without routers of the operator's (the branches would take requests
    // for their paths away from them; this process's own are named jupyterhub-...).
    const operatorRouters = Object.keys(
      ((options.extraDynamicConfig?.http as ConfigTree | undefined)?.routers ?? {}) as ConfigTree,
    ).some((name) => !name.startsWith("jupyterhub-"));
    const tree = fallbackPort !== undefined && !options.external && options.entryTree !== false &&
        options.feedTraefik !== false && !operatorRouters
      ? entryTree(options.entryTree ?? TREE_MIN_ROUTES, [
        portOf(options.publicAddress ?? "127.0.0.1:8000"),
        portOf(apiAddress),
      ])
      : undefined;
    if (operatorRouters && options.entryTree !== false && !options.external) {
      log("traefik gets no tree of entry points: the extra dynamic configuration has routers");
    }
    if (fallbackPort !== undefined && !options.external) {
      // traefik runs here: a wildcard address is reached on the loopback interface.
      const host = fallbackHost === "0.0.0.0"
        ? "127.0.0.1"
        : fallbackHost === "::"
        ? "[::1]"
        : fallbackHost.includes(":")
        ? `[${fallbackHost}]`
        : fallbackHost;
      const url = `http://${host}:${fallbackPort}`;
      fixed = deepMerge(fixed, fallbackConfig({ entryPoint, url, websockets: relayWebsockets }));
    }
    if (options.serversTransport && options.external) {
      throw new ConfigError(
        "serversTransport: an external traefik reaches targets through its own transports",
      );
    }
    if (options.serversTransport) {
      fixed = deepMerge(fixed, {
        http: { serversTransports: { [TARGETS_TRANSPORT]: options.serversTransport } },
      });
    }
    if (!options.external) {
      fixed = deepMerge(
        apiRouteConfig({
          dashboard: options.dashboard,
          metrics: options.traefikMetrics,
          username,
          passwordHash: await apiPasswordHash(password, {
            generated: options.apiPassword === undefined,
          }),
        }),
        fixed,
      );
    }
    // The public certificate goes in last, so that setTls can replace it.
    const base = fixed;
    const fixedWith = (tls: PublicTls | undefined) => tls ? withPublicTls(base, tls) : base;
    fixed = fixedWith(options.tls);
    const provider = options.provider ?? { kind: "file" };
    const opened = await openStore(provider, {
      workDir,
      entryPoint,
      serversTransport: options.serversTransport ? `${TARGETS_TRANSPORT}@file` : undefined,
      targetUrl: unixRelays?.url,
      fixed,
      log,
      feed: !options.external && options.feedTraefik !== false,
      // With the fallback serving every route, traefik may start on the fixed part alone and
      // take the routes over once it runs: a restart on a large table is served at once.
      deferFeed: useFallback,
      // ... which also routes the bare paths traefik's short rules leave to it.
      shortRules: useFallback,
      tree,
    });
    cleanups.unshift(() => opened.close());
    const { providers, traefikProvider } = opened;
    // What only a key-value store has: single shared values, and a count of its watch's losses.
    const kv = opened.store as Partial<Pick<KvStore, "values" | "watchResets">>;
    const values = kv.values;
    if (activityOptions !== undefined) {
      const sink = values ? sharedActivity(values) : localActivity({
        path: provider.kind === "file" && provider.path
          ? `${provider.path}.activity.json`
          : undefined,
      });
      const started = activityTracker({
        sink,
        intervalMs: activityOptions.intervalMs,
        log,
        table: () => opened.store.getAllRoutes(),
      });
      tracker = started;
      cleanups.unshift(() => started.close());
    }
    // Relays serve the traefik fed from files rendered here; one that reads the store itself
    // would get the http+unix URL, which it cannot dial.
    const unixTargets = unixRelays !== undefined && traefikProvider === "file";
    const store = unixTargets ? opened.store : refusingUnixTargets(opened.store, {
      why: options.external
        ? "an external traefik cannot reach a unix socket"
        : "a traefik that reads the store itself cannot reach a unix socket; let this " +
          "process feed it (the default)",
    });
    if (unixTargets && opened.store.mirror) {
      const mirror = await opened.store.mirror(unixRelays);
      cleanups.unshift(() => mirror.close());
    }

    const api = options.external
      ? traefikApi({
        url: options.external.apiUrl,
        username: options.external.username,
        password: options.external.password,
      })
      : traefikApi({ url: `http://${apiAddress}`, username, password });
    const traefikConfirm = (intervalMs?: number) =>
      routeConfirmer(api, {
        provider: traefikProvider,
        targetUrl: unixRelays?.url,
        timeoutMs: options.checkRouteTimeoutMs,
        intervalMs,
        signal: abort.signal,
      });
    // A traefik fed from a stamped file: one small request per poll confirms every change.
    const feedWrites = opened.feedWrites;
    // One reader of traefik's stamp for the confirmers and the pacer of its file.
    const applied = feedStampReader(api);
    const feedConfirm = (intervalMs?: number): RouteConfirmer => {
      const confirmer = feedConfirmer(api, {
        applied,
        timeoutMs: options.checkRouteTimeoutMs,
        intervalMs,
        signal: abort.signal,
      });
      const unsubscribe = feedWrites!.subscribe(confirmer.written);
      cleanups.unshift(() => {
        unsubscribe();
        return Promise.resolve();
      });
      return confirmer;
    };
    const confirmerOf = (intervalMs?: number) =>
      feedWrites ? feedConfirm(intervalMs ?? 20) : traefikConfirm(intervalMs);
    let confirm = confirmerOf();
    if (useFallback) {
      if (!store.mirror) {
        throw new FallbackError(`the ${store.provider} store cannot be followed`);
      }
      const followed = fallbackRouter({
        traefik: confirm,
        // Following traefik's takeovers: a poll every 50 ms (one small request with the stamp).
        background: confirmerOf(feedWrites ? 50 : 250),
        indexWaitMs: options.checkRouteTimeoutMs,
        onTakeover: options.events?.takeover && ((_, ms) => options.events!.takeover!(ms)),
        signal: abort.signal,
      });
      // After the whole table (the first change), each route's creation time tells how long it
      // took to reach this copy.
      const watchLag = options.events?.watchLag;
      let first = true;
      const target = watchLag === undefined ? followed : {
        apply(change: RouteChange) {
          if (!first) {
            const now = Date.now();
            for (const route of change.set ?? []) {
              const created = route.lastActivity ? Date.parse(route.lastActivity) : NaN;
              if (created > now - 60_000) watchLag(Math.max(0, now - created));
            }
          }
          first = false;
          return followed.apply(change);
        },
      };
      // The whole table now, before traefik starts: the first request finds it.
      const mirror = await store.mirror(target).catch((error) => {
        throw new FallbackError((error as Error).message, { cause: error });
      });
      cleanups.unshift(async () => {
        abort.abort(new Error("the proxy is stopping")); // ends the background confirmations
        await mirror.close();
        await followed.close();
      });
      router = followed;
      confirm = followed.confirm;
    }
    let traefik: TraefikProcess | undefined;
    if (!options.external) {
      traefik = await startTraefik({
        staticConfig: staticConfig({
          entryPoint,
          publicAddress: options.publicAddress ?? "127.0.0.1:8000",
          apiAddress,
          logLevel: options.traefikLogLevel,
          providers,
          tls: options.tls !== undefined || options.tlsPending === true,
          dashboard: options.dashboard,
          middlewares: options.middlewares,
          respondingTimeouts: options.respondingTimeouts,
          accessLog: tracker !== undefined,
          metrics: options.traefikMetrics,
          treeEntryPoints: tree?.entryPoints.map((name, branch) => ({
            name,
            address: tree.urls[branch].slice("http://".length),
          })),
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
        env: opened.traefikEnv,
        stdoutLines: tracker === undefined ? undefined : accessLogReader(tracker),
      });
      cleanups.unshift(() => traefik!.stop());
    }
    if (options.external && fallbackPort !== undefined) {
      await checkFallbackRouter(api, {
        port: fallbackPort,
        entryPoint,
        timeoutMs: options.startTimeoutMs ?? 10_000,
      });
    }
    await opened.startFeed?.({ applied, log });
    let drift: DriftRepair | undefined;
    if (options.drift !== false) {
      const repairing = driftRepair({
        api,
        table: () => store.getAllRoutes(),
        repair: (change) => opened.repair(change),
        provider: traefikProvider,
        targetUrl: unixTargets ? unixRelays?.url : undefined,
        intervalMs: options.drift?.intervalMs ?? 60_000,
        log,
      });
      drift = repairing;
      cleanups.unshift(() => repairing.close());
    }
    let stopped: Promise<void> | undefined;
    return {
      store,
      confirm,
      api,
      traefik,
      fallback: router,
      activity: tracker,
      drift,
      ...(kv.watchResets !== undefined ? { watchResets: () => kv.watchResets! } : {}),
      setTls: (tls) => opened.setFixed(fixedWith(tls)),
      values,
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

/** Branches of the tree of entry points (`StartProxyOptions.entryTree`). */
const TREE_BRANCHES = 12;

/** Routes under one parent from which the traefik started here gets the tree, by default. */
const TREE_MIN_ROUTES = 2_000;

// The tree's entry points, each on a free loopback port other than `reserved` (ports traefik
// binds for other entry points).
function entryTree(minRoutes: number, reserved: number[]): EntryTree {
  const entryPoints: string[] = [];
  const urls: string[] = [];
  const ports = new Set<number>(reserved);
  const range = portRange();
  for (let branch = 0; branch < TREE_BRANCHES; branch++) {
    entryPoints.push(`${TREE_ROUTER_PREFIX}${branch}`);
    urls.push(`http://127.0.0.1:${treePort(range, ports)}`);
  }
  return { entryPoints, urls, minRoutes, fallback: FALLBACK_ROUTER };
}

// The ports outside the range the kernel hands out to connections (`ip_local_port_range`): the
// larger of the two ranges around it (above 10,000, clear of the usual services).
function portRange(): [from: number, to: number] {
  let low = 32_768, high = 60_999;
  try {
    const range = Deno.readTextFileSync("/proc/sys/net/ipv4/ip_local_port_range").trim();
    [low, high] = range.split(/\s+/).map(Number);
  } catch {
    // not Linux: its usual range
  }
  return low - 1 - 10_000 >= 65_535 - (high + 1) ? [10_000, low - 1] : [high + 1, 65_535];
}

// A free loopback port in `range` for traefik to listen on: one taken now stays free until
// traefik binds it, as no outgoing connection (this process's own to traefik and the stores)
// can take it meanwhile.
function treePort([from, to]: [number, number], taken: Set<number>): number {
  for (let attempt = 0; attempt < 200 && to > from; attempt++) {
    const port = from + Math.floor(Math.random() * (to - from + 1));
    if (taken.has(port)) continue;
    try {
      Deno.listen({ hostname: "127.0.0.1", port }).close();
      taken.add(port);
      return port;
    } catch {
      // in use: another
    }
  }
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  taken.add(port);
  return port;
}

// The port of a `host:port` address (`[::1]:8000`, `:8000`).
function portOf(address: string): number {
  return Number(address.slice(address.lastIndexOf(":") + 1));
}

/** Name of the servers transport of `StartProxyOptions.serversTransport` (in the file provider). */
const TARGETS_TRANSPORT = "jupyterhub-targets";

/**
 * The public certificate as traefik's default (clients that connect by IP address or another
 * name get it, as from CHP) and among its certificates (picked by name, beside any the fixed
 * configuration already has); with a client CA, traefik's default TLS options require client
 * certificates it signed.
 */
function withPublicTls(fixed: ConfigTree, tls: PublicTls): ConfigTree {
  const certificate = { certFile: tls.certFile, keyFile: tls.keyFile };
  const current = (fixed.tls as ConfigTree | undefined)?.certificates;
  const tlsConfig: ConfigTree = {
    certificates: [...(Array.isArray(current) ? current : []), certificate],
    stores: { default: { defaultCertificate: certificate } },
  };
  if (tls.clientCaFile) {
    tlsConfig.options = {
      default: {
        clientAuth: { caFiles: [tls.clientCaFile], clientAuthType: "RequireAndVerifyClientCert" },
      },
    };
  }
  return deepMerge(fixed, { tls: tlsConfig });
}

/** `store`, except that routes to `http+unix://` targets are refused, saying `why`. */
function refusingUnixTargets(store: Store, options: { why: string }): Store {
  return {
    provider: store.provider,
    entryPoint: store.entryPoint,
    getAllRoutes: () => store.getAllRoutes(),
    getRoute: (routespec) => store.getRoute(routespec),
    apply(change) {
      const unix = change.set?.find((route) => unixTarget(route.target));
      if (unix) return Promise.reject(new TargetError(unix.target, options.why));
      return store.apply(change);
    },
    ...(store.mirror ? { mirror: (target) => store.mirror!(target) } : {}),
    close: () => store.close(),
  };
}

/**
 * Reads traefik's standard output: access-log lines mark their route active (a request below
 * status 300, or a websocket that closed), every other line is traefik's own log and goes to
 * this process's standard output as traefik wrote it.
 */
function accessLogReader(tracker: ActivityTracker): (line: string) => void {
  // Router names repeat: each is decoded once (the cache is dropped if it ever grows past any
  // table's size: names come from traefik's routers).
  const routespecs = new Map<string, string | null>();
  return (line) => {
    const entry = accessLogEntry(line);
    if (entry === undefined) {
      console.log(line);
      return;
    }
    if (entry.status >= 300) return;
    let routespec = routespecs.get(entry.router);
    if (routespec === undefined) {
      if (routespecs.size > 200_000) routespecs.clear();
      routespec = routespecOfRouter(entry.router) ?? null;
      routespecs.set(entry.router, routespec);
    }
    if (routespec !== null) tracker.seen(routespec);
  };
}
