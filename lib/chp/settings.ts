/**
 * Turns parsed command-line values into the settings of a proxy process: addresses, the
 * traefik static-configuration extras that CHP flags map onto, and the provider. Pure.
 *
 * @module
 */

import type { OptionValues } from "./flags.ts";
import { ConfigError } from "../core/errors.ts";
import { deepMerge } from "../core/tree.ts";
import type { ConfigTree } from "../core/types.ts";

/** Where the REST API listens. */
export type ApiListen =
  | { hostname: string; port: number }
  | { path: string };

/** Everything the CLI needs to start a proxy. */
export interface CliSettings {
  /** traefik's public address (`host:port`). */
  publicAddress: string;
  /** The REST API's listen address. */
  api: ApiListen;
  /** TLS certificate and key of the REST API. */
  apiTls?: { cert: string; key: string };
  /** TLS certificate and key of the public entry point. */
  tls?: { certFile: string; keyFile: string };
  /** Public entry point name. */
  entryPoint: string;
  /** Provider name, normalised: file, redis or etcd. */
  provider: "file" | "redis" | "etcd";
  /** traefik API URL, when given. */
  traefikApiUrl?: string;
  /** Static configuration that CHP flags map onto. */
  staticExtras: ConfigTree;
  /** The addresses this process will bind (for a port-in-use check): `host:port`. */
  binds: { hostname: string; port: number; what: string }[];
  /** Seconds to wait for traefik to confirm a route. */
  checkRouteTimeoutMs: number;
}

/**
 * A `host:port` address as traefik takes it: `''` means all interfaces, IPv6 gets brackets.
 *
 * @example
 * ```ts
 * import { hostPort } from "./settings.ts";
 * hostPort("", 8000); // ":8000"
 * hostPort("::1", 8000); // "[::1]:8000"
 * ```
 */
export function hostPort(ip: string, port: number): string {
  if (ip === "" || ip === "*") return `:${port}`;
  if (ip.includes(":") && !ip.startsWith("[")) return `[${ip}]:${port}`;
  return `${ip}:${port}`;
}

const PROVIDERS: Record<string, CliSettings["provider"]> = {
  file: "file",
  toml: "file",
  traefik_toml: "file",
  traefik_file: "file",
  yaml: "file",
  redis: "redis",
  traefik_redis: "redis",
  etcd: "etcd",
  traefik_etcd: "etcd",
};

function port(value: unknown, name: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) {
    throw new ConfigError(`--${name} must be a port number from 0 to 65535`);
  }
  return n;
}

function ms(value: unknown): string {
  return `${Math.round(Number(value))}ms`;
}

/**
 * Builds the settings from parsed values.
 *
 * @example
 * ```ts
 * import { cliSettings } from "./settings.ts";
 * cliSettings({ ip: "127.0.0.1", port: 8000 }).publicAddress; // "127.0.0.1:8000"
 * ```
 * @throws {ConfigError} for contradictory or invalid values (with what to change).
 */
export function cliSettings(values: OptionValues): CliSettings {
  const v = values as Record<string, unknown>;
  if (v.socket !== undefined) {
    throw new ConfigError(
      "--socket: traefik cannot listen on a unix socket; give the public address with --ip/--port",
    );
  }
  const ip = String(v.ip ?? "");
  const publicPort = port(v.port ?? 8000, "port");
  const providerName = String(v.provider ?? "file").toLowerCase();
  const provider = PROVIDERS[providerName];
  if (!provider) {
    throw new ConfigError(`--provider ${providerName} is not known; use file, redis or etcd`);
  }
  const tls = v["ssl-key"] || v["ssl-cert"]
    ? { certFile: String(v["ssl-cert"] ?? ""), keyFile: String(v["ssl-key"] ?? "") }
    : undefined;
  if (tls && (!tls.certFile || !tls.keyFile)) {
    throw new ConfigError("--ssl-key and --ssl-cert must be given together");
  }
  const entryPoint = String(v["traefik-entrypoint"] ?? (tls ? "https" : "http"));
  if (!/^[A-Za-z0-9_-]+$/.test(entryPoint)) {
    throw new ConfigError("--traefik-entrypoint may only contain letters, digits, '-' and '_'");
  }
  const binds: CliSettings["binds"] = [{
    hostname: ip || "0.0.0.0",
    port: publicPort,
    what: "--port",
  }];
  let api: ApiListen;
  if (v["api-socket"] !== undefined) api = { path: String(v["api-socket"]) };
  else {
    const apiPort = port(v["api-port"] ?? publicPort + 1, "api-port");
    const apiIp = String(v["api-ip"] ?? "localhost");
    api = { hostname: apiIp === "" ? "0.0.0.0" : apiIp.replace(/^\[|\]$/g, ""), port: apiPort };
    binds.push({ hostname: api.hostname, port: apiPort, what: "--api-port" });
  }
  const apiTls = v["api-ssl-key"] || v["api-ssl-cert"]
    ? { cert: String(v["api-ssl-cert"] ?? ""), key: String(v["api-ssl-key"] ?? "") }
    : undefined;
  if (apiTls && (!apiTls.cert || !apiTls.key)) {
    throw new ConfigError("--api-ssl-key and --api-ssl-cert must be given together");
  }

  // Stop promptly on SIGTERM, as CHP does: JupyterHub restarts the proxy on the same ports.
  const lifeCycle = { graceTimeOut: "1s" };
  let extras: ConfigTree = {
    entryPoints: {
      [entryPoint]: {
        // No limit on reading a request: large uploads must not be cut (a CHP complaint).
        transport: { respondingTimeouts: { readTimeout: "0s" }, lifeCycle },
      },
      auth_api: { transport: { lifeCycle } },
    },
  };
  if (v["keep-alive-timeout"] !== undefined) {
    extras = deepMerge(extras, {
      entryPoints: {
        [entryPoint]: {
          transport: { respondingTimeouts: { idleTimeout: ms(v["keep-alive-timeout"]) } },
        },
      },
    });
  }
  const transport: ConfigTree = {};
  if (v.insecure === true || v["client-ssl-reject-unauthorized"] === false) {
    transport.insecureSkipVerify = true;
  }
  if (v["client-ssl-ca"]) transport.rootCAs = [String(v["client-ssl-ca"])];
  if (v["client-ssl-cert"] && v["client-ssl-key"]) {
    transport.certificates = [{
      certFile: String(v["client-ssl-cert"]),
      keyFile: String(v["client-ssl-key"]),
    }];
  }
  if (v["proxy-timeout"] !== undefined) {
    transport.forwardingTimeouts = { responseHeaderTimeout: ms(v["proxy-timeout"]) };
  }
  if (Object.keys(transport).length > 0) {
    extras = deepMerge(extras, { serversTransport: transport });
  }
  if (v["metrics-port"] !== undefined) {
    const metricsPort = port(v["metrics-port"], "metrics-port");
    const metricsIp = String(v["metrics-ip"] ?? "");
    extras = deepMerge(extras, {
      entryPoints: { metrics: { address: hostPort(metricsIp, metricsPort) } },
      metrics: { prometheus: { entryPoint: "metrics" } },
    });
    binds.push({ hostname: metricsIp || "0.0.0.0", port: metricsPort, what: "--metrics-port" });
  }
  if (v["redirect-port"] !== undefined) {
    const redirectPort = port(v["redirect-port"], "redirect-port");
    const to = v["redirect-to"] !== undefined
      ? `:${port(v["redirect-to"], "redirect-to")}`
      : entryPoint;
    extras = deepMerge(extras, {
      entryPoints: {
        redirect: {
          address: hostPort(ip, redirectPort),
          http: { redirections: { entryPoint: { to, scheme: "https" } } },
        },
      },
    });
    binds.push({ hostname: ip || "0.0.0.0", port: redirectPort, what: "--redirect-port" });
  }
  const timeout = Number(v["check-route-timeout"] ?? 30);
  return {
    publicAddress: hostPort(ip, publicPort),
    api,
    apiTls,
    tls,
    entryPoint,
    provider,
    traefikApiUrl: v["traefik-api-url"] === undefined ? undefined : String(v["traefik-api-url"]),
    staticExtras: extras,
    binds,
    checkRouteTimeoutMs: timeout * 1000,
  };
}
