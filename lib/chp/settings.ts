/**
 * Turns parsed command-line values into the one typed settings object of a proxy process:
 * addresses, TLS, the provider, the traefik static-configuration extras that CHP flags map onto,
 * and everything else `main` needs. Pure: no I/O.
 *
 * @module
 */

import type { FlagValues } from "./flags.ts";
import { ConfigError } from "../core/errors.ts";
import { deepMerge } from "../core/tree.ts";
import type { ConfigTree } from "../core/types.ts";
import type { ProviderOptions } from "../proxy.ts";
import { API_ENTRYPOINT } from "../traefik/static_config.ts";
import { API_TLS_NAME } from "./api_tls.ts";

/**
 * Where the REST API listens: a TCP address, or a unix socket.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { type ApiListen, cliSettings } from "./settings.ts";
 * const api: ApiListen = cliSettings({ "api-socket": "/tmp/api.sock" }).api;
 * assert.deepEqual(api, { path: "/tmp/api.sock" });
 * ```
 */
export type ApiListen =
  | { hostname: string; port: number }
  | { path: string };

/**
 * An address this process (or its traefik) will listen on, and the flag that set it.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { type Bind, cliSettings } from "./settings.ts";
 * const [bind]: Bind[] = cliSettings({ ip: "", port: 8000 }).binds;
 * assert.deepEqual(bind, { hostname: "0.0.0.0", port: 8000, what: "--port" });
 * ```
 */
export interface Bind {
  /** Host name or IP address, without brackets. */
  hostname: string;
  /** TCP port; 0 = any free port. */
  port: number;
  /** The flag that chose it, for error messages (`--port`). */
  what: string;
}

/**
 * traefik's API: given by `--traefik-api-url`, or a free loopback port chosen at start.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { cliSettings, type TraefikApiSettings } from "./settings.ts";
 * const api: TraefikApiSettings = cliSettings({ "traefik-api-username": "hub" }).traefikApi;
 * assert.deepEqual(api, { url: undefined, username: "hub", password: undefined });
 * ```
 */
export interface TraefikApiSettings {
  /** URL of traefik's API, when given. */
  url?: string;
  /** basicAuth user name; default (in `startProxy`) `jupyterhub`. */
  username?: string;
  /** basicAuth password; default (in `startProxy`) random. */
  password?: string;
}

/**
 * Everything the CLI needs to start a proxy.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { type CliSettings, cliSettings } from "./settings.ts";
 * const settings: CliSettings = cliSettings({ "error-target": "http://127.0.0.1:8081/hub/error" });
 * assert.equal(settings.errorTarget, "http://127.0.0.1:8081/hub/error");
 * assert.equal(settings.hostRouting, false);
 * ```
 */
export interface CliSettings {
  /** Level of this process's log: debug, info, warn or error. */
  logLevel: string;
  /** This process's (and its traefik's) log lines: text, or one JSON object per line. */
  logFormat: "text" | "json";
  /** traefik's public address (`host:port`). */
  publicAddress: string;
  /** The REST API's listen address. */
  api: ApiListen;
  /**
   * TLS certificate and key files of the REST API. With `clientCaFile`, clients must present a
   * certificate signed by it: traefik terminates the API's TLS on its own entry point and
   * forwards to this process on a private loopback port (Deno cannot verify client certificates).
   */
  apiTls?: { cert: string; key: string; clientCaFile?: string };
  /**
   * The public unix socket (`--socket`): this process listens there and relays to traefik's
   * public entry point, which then listens on a free loopback port.
   */
  socket?: string;
  /** TLS of the public entry point; with `clientCaFile`, clients need a certificate it signed. */
  tls?: { certFile: string; keyFile: string; clientCaFile?: string };
  /** HTTPS on the public entry point with a certificate from an ACME server. */
  acme?: AcmeSettings;
  /** Public entry point name. */
  entryPoint: string;
  /** Where routes live. */
  provider: ProviderOptions;
  /** traefik is managed elsewhere: only write routes. */
  external: boolean;
  /** Feed the traefik started here from a file rendered from redis/etcd (not external). */
  feedTraefik: boolean;
  /** Serve routes traefik has not loaded yet from this process, listening here. */
  fallback: false | { hostname: string; port?: number };
  /** Why the fallback is off although not turned off (`--insecure`), for the log. */
  fallbackOff?: string;
  /** Routes' activity from traffic, written every `intervalMs`; websockets relayed to count them. */
  activity: false | { intervalMs: number; websockets: boolean };
  /** Compare traefik's routers with the table every `intervalMs` and repair what differs. */
  drift: false | { intervalMs: number };
  /** Routes under one path from which traefik gets a tree of entry points; false: never. */
  entryTree: false | number;
  /**
   * Where this process serves Prometheus metrics (its own and those of the traefik it started),
   * `--metrics-ip/--metrics-port`.
   */
  metrics?: { hostname: string; port: number };
  /** Certificates to reach https targets with (`--client-ssl-ca/-cert/-key`). */
  targetTls?: { caFile?: string; certFile?: string; keyFile?: string };
  /**
   * traefik's servers transport for every route (dynamic configuration), when targets get a
   * client certificate: the static default transport cannot carry one.
   */
  targetTransport?: ConfigTree;
  /** traefik's API. */
  traefikApi: TraefikApiSettings;
  /** traefik binary, when given. */
  traefikBin?: string;
  /** traefik's dashboard on its private API entry point. */
  traefikDashboard: boolean;
  /** traefik's log level, upper case, when given. */
  traefikLogLevel?: string;
  /** Where to write traefik's static configuration, when given. */
  staticConfigFile?: string;
  /** TOML/YAML file of static configuration merged last, when given. */
  extraStaticConfigFile?: string;
  /** TOML/YAML file of dynamic configuration written beside the routes, when given. */
  extraDynamicConfigFile?: string;
  /** Static configuration that CHP flags map onto. */
  staticExtras: ConfigTree;
  /** The addresses this process and its traefik will bind, for a port-in-use check. */
  binds: Bind[];
  /** How long to wait for traefik to confirm a route change, in milliseconds. */
  checkRouteTimeoutMs: number;
  /** Base URL of error pages (CHP's `--error-target`). */
  errorTarget?: string;
  /** Where unmatched requests go (CHP's `--default-target`). */
  defaultTarget?: string;
  /** Headers added to proxied requests, `Name: value`. */
  customHeaders: string[];
  /** Route by host: the first path segment of a route is its host. */
  hostRouting: boolean;
  /** The REST API's token (`CONFIGPROXY_AUTH_TOKEN`); none = an open API, as CHP. */
  authToken?: string;
  /** Where to write this process's pid, when given. */
  pidFile?: string;
}

/**
 * Certificates from an ACME server (`--acme-*`).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { type AcmeSettings, cliSettings } from "./settings.ts";
 * const acme: AcmeSettings | undefined = cliSettings({
 *   "acme-domain": ["hub.example.org"],
 *   "redirect-port": 80,
 *   port: 443,
 * }).acme;
 * assert.equal(acme?.server, "https://acme-v02.api.letsencrypt.org/directory");
 * ```
 */
export interface AcmeSettings {
  /** Domains of the certificate. */
  domains: string[];
  /** Contact address. */
  email?: string;
  /** Directory URL of the ACME server. */
  server: string;
  /** CA to trust for the ACME server's own https. */
  caFile?: string;
  /** Renew this long before expiry, in ms. */
  renewBeforeMs: number;
  /** Where the account key and certificates are kept (beside the routes file); else private. */
  storageDir?: string;
}

/** Let's Encrypt's production directory. */
const LETS_ENCRYPT = "https://acme-v02.api.letsencrypt.org/directory";

/**
 * A `host:port` address as traefik takes it: `''` means all interfaces, IPv6 gets brackets.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { hostPort } from "./settings.ts";
 * assert.equal(hostPort("", 8000), ":8000");
 * assert.equal(hostPort("::1", 8000), "[::1]:8000");
 * ```
 */
export function hostPort(ip: string, port: number): string {
  if (ip === "" || ip === "*") return `:${port}`;
  if (ip.includes(":") && !ip.startsWith("[")) return `[${ip}]:${port}`;
  return `${ip}:${port}`;
}

const PROVIDERS: Record<string, ProviderOptions["kind"]> = {
  file: "file",
  toml: "file",
  traefik_toml: "file",
  traefik_file: "file",
  yaml: "file",
  redis: "redis",
  traefik_redis: "redis",
  etcd: "etcd",
  traefik_etcd: "etcd",
  consul: "consul",
  traefik_consul: "consul",
};

const LOOPBACK_HOSTS = ["127.0.0.1", "localhost", "[::1]"];

function port(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 0 || value > 65535) {
    throw new ConfigError(`--${name} must be a port number from 0 to 65535`);
  }
  return value;
}

function ms(value: number): string {
  return `${Math.round(value)}ms`;
}

/**
 * Options of `cliSettings`.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { cliSettings, type CliSettingsOptions } from "./settings.ts";
 * const options: CliSettingsOptions = { env: { CONFIGPROXY_AUTH_TOKEN: "" } };
 * assert.equal(cliSettings({}, options).authToken, undefined);
 * ```
 */
export interface CliSettingsOptions {
  /** The environment, for `CONFIGPROXY_AUTH_TOKEN`. */
  env?: Record<string, string | undefined>;
}

/**
 * Builds the settings from parsed values and the environment.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { cliSettings } from "./settings.ts";
 * const settings = cliSettings(
 *   { ip: "127.0.0.1", port: 8000, provider: "redis" },
 *   { env: { CONFIGPROXY_AUTH_TOKEN: "s3cret" } },
 * );
 * assert.equal(settings.publicAddress, "127.0.0.1:8000");
 * assert.equal(settings.authToken, "s3cret");
 * assert.deepEqual(settings.api, { hostname: "localhost", port: 8001 });
 * assert.equal(settings.provider.kind, "redis");
 * assert.equal(settings.checkRouteTimeoutMs, 30_000);
 * ```
 * @throws {ConfigError} for contradictory or invalid values (with what to change).
 */
export function cliSettings(values: FlagValues, options: CliSettingsOptions = {}): CliSettings {
  const socket = values.socket || undefined;
  if (socket !== undefined && (values.ip !== undefined || values.port !== undefined)) {
    throw new ConfigError("--socket replaces --ip and --port; give one or the other");
  }
  // With --socket, traefik's public entry point listens on a free loopback port (chosen at
  // start) and this process relays the socket to it.
  const ip = socket === undefined ? values.ip ?? "" : "127.0.0.1";
  const publicPort = socket === undefined ? port(values.port ?? 8000, "port") : 0;
  const tls = values["ssl-key"] || values["ssl-cert"]
    ? { certFile: values["ssl-cert"] ?? "", keyFile: values["ssl-key"] ?? "" }
    : undefined;
  if (tls && (!tls.certFile || !tls.keyFile)) {
    throw new ConfigError("--ssl-key and --ssl-cert must be given together");
  }
  const acme = acmeOf(values, tls !== undefined);
  const publicClientCa = clientCaOf(values, "ssl");
  if (publicClientCa !== undefined) {
    if (!tls) throw new ConfigError("--ssl-request-cert needs --ssl-key and --ssl-cert");
    Object.assign(tls, { clientCaFile: publicClientCa });
  }
  const entryPoint = values["traefik-entrypoint"] ?? (tls || acme ? "https" : "http");
  if (!/^[A-Za-z0-9_-]+$/.test(entryPoint)) {
    throw new ConfigError("--traefik-entrypoint may only contain letters, digits, '-' and '_'");
  }
  const binds: Bind[] = [{ hostname: ip || "0.0.0.0", port: publicPort, what: "--port" }];
  let api: ApiListen;
  if (values["api-socket"] !== undefined) api = { path: values["api-socket"] };
  else {
    const apiPort = port(values["api-port"] ?? publicPort + 1, "api-port");
    const apiIp = values["api-ip"] ?? "localhost";
    api = { hostname: apiIp === "" ? "0.0.0.0" : apiIp.replace(/^\[|\]$/g, ""), port: apiPort };
    binds.push({ hostname: api.hostname, port: apiPort, what: "--api-port" });
  }
  const apiTls: CliSettings["apiTls"] = values["api-ssl-key"] || values["api-ssl-cert"]
    ? { cert: values["api-ssl-cert"] ?? "", key: values["api-ssl-key"] ?? "" }
    : undefined;
  if (apiTls && (!apiTls.cert || !apiTls.key)) {
    throw new ConfigError("--api-ssl-key and --api-ssl-cert must be given together");
  }
  if (apiTls && "path" in api) {
    throw new ConfigError(
      "--api-ssl-key/--api-ssl-cert with --api-socket: the REST API serves a unix socket " +
        "without TLS (its file permissions protect it); drop one of them",
    );
  }
  const external = values["external-traefik"] === true;
  const apiClientCa = clientCaOf(values, "api-ssl");
  if (apiClientCa !== undefined) {
    if (!apiTls) {
      throw new ConfigError("--api-ssl-request-cert needs --api-ssl-key and --api-ssl-cert");
    }
    if (external) {
      throw new ConfigError(
        "--api-ssl-request-cert needs the traefik this process starts (it verifies the API " +
          "clients' certificates); drop --external-traefik or the API's client certificates",
      );
    }
    if (!options.env?.CONFIGPROXY_AUTH_TOKEN) {
      throw new ConfigError(
        "--api-ssl-request-cert needs CONFIGPROXY_AUTH_TOKEN: the API behind traefik's " +
          "certificate check listens on a private loopback port that the token protects",
      );
    }
    if (entryPoint === API_TLS_NAME) {
      throw new ConfigError(
        `--traefik-entrypoint ${API_TLS_NAME} is the REST API's; choose another`,
      );
    }
    apiTls.clientCaFile = apiClientCa;
  }
  // An external traefik listens on the public address itself: nothing to check here.
  if (external) binds.shift();
  if (values["traefik-dashboard"] === true && external) {
    throw new ConfigError(
      "--traefik-dashboard with --external-traefik: your traefik's dashboard is its own " +
        "configuration (api.dashboard); drop --traefik-dashboard",
    );
  }
  if (acme && external) {
    throw new ConfigError(
      "--acme-domain with --external-traefik: certificates for your traefik are its own " +
        "configuration (its certificatesResolvers); drop --acme-domain",
    );
  }
  if (socket !== undefined && external) {
    throw new ConfigError(
      "--socket with --external-traefik: this process relays the socket to the traefik it " +
        "starts; drop one of them",
    );
  }
  if (external) {
    const ignored = [
      "client-ssl-key",
      "client-ssl-cert",
      "client-ssl-ca",
      "insecure",
      "ssl-ca",
    ] as const;
    const given = ignored.find((name) => values[name] !== undefined && values[name] !== false) ??
      (values["client-ssl-reject-unauthorized"] === false
        ? "no-client-ssl-reject-unauthorized"
        : undefined);
    if (given) {
      throw new ConfigError(
        `--${given} with --external-traefik: how your traefik reaches targets and checks ` +
          "clients is its own configuration (serversTransport, tls.options); drop the option " +
          "and set it there",
      );
    }
  }
  const traefikApiUrl = values["traefik-api-url"] || undefined;
  if (external && !traefikApiUrl) {
    throw new ConfigError("--external-traefik needs --traefik-api-url");
  }
  const feedTraefik = !external && values["traefik-reads-store"] !== true;
  if (values["kv-traefik-keys"] === false && !feedTraefik) {
    throw new ConfigError(
      "--no-kv-traefik-keys leaves a traefik that reads the store itself with no routes; " +
        "drop it, or let this proxy feed its traefik (no --external-traefik or " +
        "--traefik-reads-store)",
    );
  }
  const fallbackPort = values["fallback-port"] === undefined
    ? undefined
    : port(values["fallback-port"], "fallback-port");
  if (external && values.fallback === true && fallbackPort === undefined) {
    throw new ConfigError(
      "--fallback with --external-traefik needs --fallback-port, the port your traefik's " +
        "catch-all router sends unmatched requests to (see the README)",
    );
  }
  // Deno's TLS always verifies a target's certificate: --insecure is traefik's alone.
  const insecure = values.insecure === true || values["client-ssl-reject-unauthorized"] === false;
  if (insecure && values.fallback === true) {
    throw new ConfigError(
      "--fallback cannot skip the verification of targets' certificates that --insecure asks " +
        "for; drop one of them",
    );
  }
  const fallbackOff = insecure && values.fallback === undefined
    ? "off: --insecure targets are reached through traefik only"
    : undefined;
  const fallback = values.fallback === false || (external && fallbackPort === undefined) ||
      fallbackOff
    ? false as const
    : { hostname: values["fallback-ip"] || "127.0.0.1", port: fallbackPort };
  if (!values["client-ssl-cert"] !== !values["client-ssl-key"]) {
    throw new ConfigError("--client-ssl-key and --client-ssl-cert must be given together");
  }
  const targetTls = values["client-ssl-ca"] || values["client-ssl-cert"]
    ? {
      caFile: values["client-ssl-ca"] || undefined,
      certFile: values["client-ssl-cert"] || undefined,
      keyFile: values["client-ssl-key"] || undefined,
    }
    : undefined;
  if (fallback && fallbackPort !== undefined) {
    binds.push({ hostname: fallback.hostname, port: fallbackPort, what: "--fallback-port" });
  }
  const { staticExtras, extraBinds, targetTransport } = staticExtrasOf(values, {
    ip,
    entryPoint,
  });
  binds.push(...extraBinds);
  if (traefikApiUrl) {
    const url = traefikApiUrlOf(traefikApiUrl, external);
    if (!external) {
      binds.push({
        hostname: url.hostname.replace(/^\[|\]$/g, ""),
        port: Number(url.port || 80),
        what: "--traefik-api-url",
      });
    }
  }
  const activityInterval = values["activity-interval"] ?? 10;
  if (!(activityInterval > 0 && activityInterval <= 3600)) {
    throw new ConfigError("--activity-interval takes seconds between 0 and 3600, e.g. 10");
  }
  const activity = values.activity === false
    ? false as const
    : { intervalMs: activityInterval * 1000, websockets: values["websocket-activity"] !== false };
  const driftInterval = values["drift-interval"] ?? 60;
  if (!(driftInterval >= 0 && driftInterval <= 86_400)) {
    throw new ConfigError("--drift-interval takes seconds between 0 (off) and 86400, e.g. 60");
  }
  const drift = driftInterval === 0 ? false as const : { intervalMs: driftInterval * 1000 };
  const treeRoutes = values["entry-tree-routes"] ?? 2_000;
  if (!(Number.isInteger(treeRoutes) && treeRoutes >= 0)) {
    throw new ConfigError("--entry-tree-routes takes a number of routes, 0 for none, e.g. 2000");
  }
  if (
    treeRoutes > 0 && values["entry-tree-routes"] !== undefined &&
    (external || !fallback || !feedTraefik)
  ) {
    throw new ConfigError(
      "--entry-tree-routes: the tree is for the traefik started and fed here, with the fallback " +
        "(its branches' catch-all goes to it); drop it with --external-traefik, --no-fallback " +
        "or --traefik-reads-store",
    );
  }
  return {
    logLevel: values["log-level"] ?? "info",
    logFormat: logFormatOf(values["log-format"]),
    publicAddress: hostPort(ip, publicPort),
    api,
    apiTls,
    socket,
    tls,
    acme,
    entryPoint,
    provider: providerOptions(values),
    external,
    feedTraefik,
    fallback,
    fallbackOff,
    activity,
    drift,
    entryTree: treeRoutes === 0 ? false : treeRoutes,
    metrics: values["metrics-port"] === undefined ? undefined : {
      hostname: values["metrics-ip"] || "0.0.0.0",
      port: port(values["metrics-port"], "metrics-port"),
    },
    targetTls,
    targetTransport,
    traefikApi: {
      url: traefikApiUrl,
      username: values["traefik-api-username"],
      password: values["traefik-api-password"],
    },
    traefikBin: values["traefik-bin"],
    traefikDashboard: values["traefik-dashboard"] === true,
    traefikLogLevel: values["traefik-log-level"]?.toUpperCase(),
    staticConfigFile: values["static-config-file"],
    extraStaticConfigFile: values["extra-static-config"] || undefined,
    extraDynamicConfigFile: values["extra-dynamic-config"] || undefined,
    staticExtras,
    binds,
    checkRouteTimeoutMs: (values["check-route-timeout"] ?? 30) * 1000,
    errorTarget: values["error-target"],
    defaultTarget: values["default-target"],
    customHeaders: values["custom-header"] ?? [],
    hostRouting: values["host-routing"] === true,
    authToken: options.env?.CONFIGPROXY_AUTH_TOKEN || undefined,
    pidFile: values["pid-file"] || undefined,
  };
}

/** The traefik static configuration that CHP flags map onto, and the ports it adds. */
function staticExtrasOf(
  values: FlagValues,
  where: { ip: string; entryPoint: string },
): { staticExtras: ConfigTree; extraBinds: Bind[]; targetTransport?: ConfigTree } {
  const { ip, entryPoint } = where;
  const extraBinds: Bind[] = [];
  // Stop promptly on SIGTERM, as CHP does: JupyterHub restarts the proxy on the same ports.
  const lifeCycle = { graceTimeOut: "1s" };
  let extras: ConfigTree = {
    entryPoints: {
      [entryPoint]: {
        // No limit on reading a request: large uploads must not be cut (a CHP complaint).
        transport: { respondingTimeouts: { readTimeout: "0s" }, lifeCycle },
      },
      [API_ENTRYPOINT]: { transport: { lifeCycle } },
    },
  };
  if (values["log-format"] === "json") extras = deepMerge(extras, { log: { format: "json" } });
  const keepAlive = values["keep-alive-timeout"];
  if (keepAlive !== undefined) {
    extras = deepMerge(extras, {
      entryPoints: {
        [entryPoint]: { transport: { respondingTimeouts: { idleTimeout: ms(keepAlive) } } },
      },
    });
  }
  const transport: ConfigTree = {};
  if (values.insecure === true || values["client-ssl-reject-unauthorized"] === false) {
    transport.insecureSkipVerify = true;
  }
  if (values["client-ssl-ca"]) transport.rootCAs = [values["client-ssl-ca"]];
  if (values["proxy-timeout"] !== undefined) {
    transport.forwardingTimeouts = { responseHeaderTimeout: ms(values["proxy-timeout"]) };
  }
  if (Object.keys(transport).length > 0) {
    extras = deepMerge(extras, { serversTransport: transport });
  }
  // traefik's static (default) transport has no client certificates: with one, every route
  // names a dynamic transport that has everything the default one has, and the certificate.
  const targetTransport = values["client-ssl-cert"] && values["client-ssl-key"]
    ? {
      ...transport,
      certificates: [{ certFile: values["client-ssl-cert"], keyFile: values["client-ssl-key"] }],
    }
    : undefined;
  if (values["metrics-port"] !== undefined) {
    const metricsPort = port(values["metrics-port"], "metrics-port");
    const metricsIp = values["metrics-ip"] ?? "";
    extraBinds.push({
      hostname: metricsIp || "0.0.0.0",
      port: metricsPort,
      what: "--metrics-port",
    });
  }
  if (values["redirect-port"] !== undefined) {
    const redirectPort = port(values["redirect-port"], "redirect-port");
    const to = values["redirect-to"] !== undefined
      ? `:${port(values["redirect-to"], "redirect-to")}`
      : entryPoint;
    extras = deepMerge(extras, {
      entryPoints: {
        redirect: {
          address: hostPort(ip, redirectPort),
          http: {
            redirections: {
              // With ACME, its challenge router on this entry point goes first.
              entryPoint: {
                to,
                scheme: "https",
                ...(values["acme-domain"]?.length ? { priority: 1 } : {}),
              },
            },
          },
        },
      },
    });
    extraBinds.push({ hostname: ip || "0.0.0.0", port: redirectPort, what: "--redirect-port" });
  }
  return { staticExtras: extras, extraBinds, targetTransport };
}

function logFormatOf(value: string | undefined): "text" | "json" {
  if (value === undefined || value === "text" || value === "json") return value ?? "text";
  throw new ConfigError(`--log-format ${JSON.stringify(value)}: use text or json`);
}

/** The ACME settings of `--acme-*`, checked; undefined without `--acme-domain`. */
function acmeOf(values: FlagValues, staticTls: boolean): AcmeSettings | undefined {
  const domains = values["acme-domain"] ?? [];
  const others = ["acme-email", "acme-server", "acme-ca-file", "acme-challenge"] as const;
  if (domains.length === 0) {
    const stray = others.find((name) => values[name] !== undefined);
    if (stray) throw new ConfigError(`--${stray} needs --acme-domain`);
    return undefined;
  }
  for (const domain of domains) {
    if (
      !/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?$/i
        .test(domain)
    ) {
      throw new ConfigError(
        `--acme-domain ${JSON.stringify(domain)} is not a DNS name (HTTP-01 cannot prove ` +
          "wildcards or IP addresses)",
      );
    }
  }
  if ((values["acme-challenge"] ?? "http") !== "http") {
    throw new ConfigError("--acme-challenge: only http (HTTP-01) is offered");
  }
  if (staticTls) {
    throw new ConfigError(
      "--acme-domain and --ssl-key/--ssl-cert each give the certificate; use one",
    );
  }
  if (values["redirect-port"] === undefined) {
    throw new ConfigError(
      "--acme-domain needs --redirect-port: ACME's HTTP-01 challenges arrive over http (port 80 " +
        "in production), where everything else is redirected to https",
    );
  }
  const server = values["acme-server"] ?? LETS_ENCRYPT;
  try {
    new URL(server);
  } catch {
    throw new ConfigError(`--acme-server ${JSON.stringify(server)} is not a URL`);
  }
  const routesFile = values["dynamic-config-file"];
  return {
    domains,
    email: values["acme-email"],
    server,
    caFile: values["acme-ca-file"],
    renewBeforeMs: (values["acme-renew-before"] ?? 30 * 24 * 60 * 60) * 1000,
    storageDir: routesFile ? `${routesFile}.acme` : undefined,
  };
}

/**
 * The CA that clients' certificates must be signed by, for the public side (`ssl`) or the API
 * (`api-ssl`); undefined when clients are not asked for certificates. As configurable-http-proxy
 * (Node's servers reject unverified clients unless told otherwise), `--<p>-request-cert` alone
 * already requires a verified certificate; the combinations that would protect nothing, or that
 * say to verify without asking, are refused.
 */
function clientCaOf(values: FlagValues, side: "ssl" | "api-ssl"): string | undefined {
  const [ca, request, reject] = side === "ssl"
    ? [values["ssl-ca"], values["ssl-request-cert"], values["ssl-reject-unauthorized"]]
    : [values["api-ssl-ca"], values["api-ssl-request-cert"], values["api-ssl-reject-unauthorized"]];
  if (request !== true) {
    if (ca || reject === true) {
      throw new ConfigError(
        `--${side}-ca and --${side}-reject-unauthorized verify client certificates only with ` +
          `--${side}-request-cert; add it, or drop them`,
      );
    }
    return undefined;
  }
  if (reject === false) {
    throw new ConfigError(
      `--no-${side}-reject-unauthorized with --${side}-request-cert asks for client ` +
        "certificates and accepts any, which protects nothing; drop one of them",
    );
  }
  if (!ca) {
    throw new ConfigError(
      `--${side}-request-cert needs --${side}-ca, the CA that signs the clients' certificates`,
    );
  }
  return ca;
}

/** The `--traefik-api-url`, checked; the API of a traefik started here must be on loopback. */
function traefikApiUrlOf(url: string, external: boolean): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError(
      `--traefik-api-url ${JSON.stringify(url)} is not a URL; give one such as ` +
        "http://127.0.0.1:8099",
    );
  }
  if (!external && !LOOPBACK_HOSTS.includes(parsed.hostname)) {
    throw new ConfigError("--traefik-api-url must be on 127.0.0.1 or localhost (it is private)");
  }
  return parsed;
}

function providerOptions(values: FlagValues): ProviderOptions {
  const name = (values.provider ?? "file").toLowerCase();
  const kind = PROVIDERS[name];
  if (!kind) {
    throw new ConfigError(`--provider ${name} is not known; use file, redis, etcd or consul`);
  }
  const prefixes = {
    traefikPrefix: values["kv-traefik-prefix"],
    jupyterhubPrefix: values["kv-jupyterhub-prefix"],
    traefikKeys: values["kv-traefik-keys"],
  };
  if (kind === "redis") {
    return {
      kind,
      url: values["redis-url"],
      username: values["redis-username"],
      password: values["redis-password"],
      caFile: values["redis-ca-file"],
      ...prefixes,
    };
  }
  if (kind === "etcd") {
    return {
      kind,
      urls: values["etcd-url"]?.split(",").map((url) => url.trim()).filter(Boolean),
      username: values["etcd-username"],
      password: values["etcd-password"],
      caFile: values["etcd-ca-file"],
      ...prefixes,
    };
  }
  if (kind === "consul") {
    return {
      kind,
      url: values["consul-url"],
      token: values["consul-token"],
      caFile: values["consul-ca-file"],
      ...prefixes,
    };
  }
  return { kind, path: values["dynamic-config-file"] };
}

/**
 * The `host:port` of traefik's API entry point, from its URL (port 80 when none is given).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { traefikApiAddress } from "./settings.ts";
 * assert.equal(traefikApiAddress("http://127.0.0.1:8099"), "127.0.0.1:8099");
 * assert.equal(traefikApiAddress("http://[::1]"), "[::1]:80");
 * ```
 */
export function traefikApiAddress(url: string): string {
  const parsed = new URL(url);
  return `${parsed.hostname}:${parsed.port || 80}`;
}
