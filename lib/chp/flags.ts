/**
 * The command line: every configurable-http-proxy flag plus this proxy's own options, read from
 * argv, environment variables (`JUPYTERHUB_TRAEFIK_<OPTION>`) and a TOML/YAML `--config` file.
 * Precedence: argv (last occurrence wins), then the environment, then the config file.
 *
 * @module
 */

import { ConfigError } from "../core/errors.ts";

type Kind = "string" | "number" | "boolean" | "list";
/** How a CHP flag is honoured: mapped onto traefik, or accepted with a warning. */
type Support = "yes" | "warn";

interface Flag {
  kind: Kind;
  help: string;
  /** CHP flags only: whether it is implemented. */
  chp?: Support;
  /** Placeholder for the help text. */
  arg?: string;
}

/** Every flag, by its long name without `--`. */
export const FLAGS: Record<string, Flag> = {
  // configurable-http-proxy's flags
  "ip": { kind: "string", chp: "yes", arg: "ADDR", help: "public IP address ('' = all)" },
  "port": { kind: "number", chp: "yes", arg: "N", help: "public port (default 8000)" },
  "socket": { kind: "string", chp: "warn", arg: "PATH", help: "public unix socket (unsupported)" },
  "api-ip": { kind: "string", chp: "yes", arg: "ADDR", help: "REST API IP (default localhost)" },
  "api-port": { kind: "number", chp: "yes", arg: "N", help: "REST API port (default port+1)" },
  "api-socket": { kind: "string", chp: "yes", arg: "PATH", help: "REST API on a unix socket" },
  "default-target": { kind: "string", chp: "yes", arg: "URL", help: "target for unmatched paths" },
  "error-target": {
    kind: "string",
    chp: "yes",
    arg: "URL",
    help: "fetch error pages from URL/<code>?url=...",
  },
  "error-path": { kind: "string", chp: "warn", arg: "DIR", help: "error pages from files" },
  "ssl-key": { kind: "string", chp: "yes", arg: "FILE", help: "TLS key of the public port" },
  "ssl-cert": {
    kind: "string",
    chp: "yes",
    arg: "FILE",
    help: "TLS certificate of the public port",
  },
  "ssl-ca": { kind: "string", chp: "warn", arg: "FILE", help: "client CA of the public port" },
  "ssl-request-cert": { kind: "boolean", chp: "warn", help: "request client certificates" },
  "ssl-reject-unauthorized": { kind: "boolean", chp: "warn", help: "reject bad client certs" },
  "ssl-protocol": { kind: "string", chp: "warn", arg: "P", help: "TLS protocol" },
  "ssl-ciphers": { kind: "string", chp: "warn", arg: "C", help: "TLS ciphers" },
  "ssl-allow-rc4": { kind: "boolean", chp: "warn", help: "allow RC4" },
  "ssl-dhparam": { kind: "string", chp: "warn", arg: "FILE", help: "DH parameters" },
  "api-ssl-key": { kind: "string", chp: "yes", arg: "FILE", help: "TLS key of the REST API" },
  "api-ssl-cert": { kind: "string", chp: "yes", arg: "FILE", help: "TLS certificate of the API" },
  "api-ssl-ca": { kind: "string", chp: "warn", arg: "FILE", help: "client CA of the REST API" },
  "api-ssl-request-cert": { kind: "boolean", chp: "warn", help: "API: request client certs" },
  "api-ssl-reject-unauthorized": { kind: "boolean", chp: "warn", help: "API: reject bad certs" },
  "client-ssl-key": { kind: "string", chp: "yes", arg: "FILE", help: "key for TLS to targets" },
  "client-ssl-cert": { kind: "string", chp: "yes", arg: "FILE", help: "cert for TLS to targets" },
  "client-ssl-ca": { kind: "string", chp: "yes", arg: "FILE", help: "CA of the targets" },
  "client-ssl-request-cert": { kind: "boolean", chp: "warn", help: "(no meaning for a client)" },
  "client-ssl-reject-unauthorized": {
    kind: "boolean",
    chp: "yes",
    help: "verify targets' TLS certificates (--no- form skips it)",
  },
  "redirect-port": { kind: "number", chp: "yes", arg: "N", help: "redirect HTTP on N to HTTPS" },
  "redirect-to": { kind: "number", chp: "yes", arg: "N", help: "port to redirect to" },
  "pid-file": { kind: "string", chp: "yes", arg: "FILE", help: "write this process's pid here" },
  "x-forward": { kind: "boolean", chp: "warn", help: "add X-Forwarded-* (always on)" },
  "prepend-path": { kind: "boolean", chp: "warn", help: "prepend target paths" },
  "include-prefix": { kind: "boolean", chp: "warn", help: "include the route prefix" },
  "auto-rewrite": { kind: "boolean", chp: "warn", help: "rewrite Location headers" },
  "change-origin": { kind: "boolean", chp: "warn", help: "rewrite Host to the target's" },
  "protocol-rewrite": { kind: "string", chp: "warn", arg: "P", help: "rewrite redirects' scheme" },
  "custom-header": {
    kind: "list",
    chp: "yes",
    arg: "'K: V'",
    help: "header added to proxied requests (repeatable)",
  },
  "insecure": { kind: "boolean", chp: "yes", help: "do not verify targets' TLS certificates" },
  "host-routing": { kind: "boolean", chp: "yes", help: "route by host: /host/path keys" },
  "metrics-ip": { kind: "string", chp: "yes", arg: "ADDR", help: "Prometheus metrics IP" },
  "metrics-port": { kind: "number", chp: "yes", arg: "N", help: "Prometheus metrics port" },
  "log-level": { kind: "string", chp: "yes", arg: "L", help: "debug, info, warn, error" },
  "timeout": {
    kind: "number",
    chp: "warn",
    arg: "MS",
    help: "request timeout (ignored: traefik's would cut large uploads)",
  },
  "proxy-timeout": { kind: "number", chp: "yes", arg: "MS", help: "wait this long for a target" },
  "keep-alive-timeout": { kind: "number", chp: "yes", arg: "MS", help: "idle keep-alive timeout" },
  "storage-backend": { kind: "string", chp: "warn", arg: "B", help: "use --provider instead" },
  // this proxy's own options
  "config": { kind: "string", arg: "FILE", help: "TOML/YAML file with any of these options" },
  "provider": { kind: "string", arg: "P", help: "file (default), redis or etcd" },
  "dynamic-config-file": {
    kind: "string",
    arg: "FILE",
    help: "routes file (*.toml/*.yaml); default: a private file removed on exit",
  },
  "static-config-file": {
    kind: "string",
    arg: "FILE",
    help: "where to write traefik's static config (default: private)",
  },
  "extra-static-config": { kind: "string", arg: "FILE", help: "static config merged last" },
  "extra-dynamic-config": { kind: "string", arg: "FILE", help: "dynamic config beside routes" },
  "traefik-api-url": {
    kind: "string",
    arg: "URL",
    help: "traefik API (default: a free 127.0.0.1 port)",
  },
  "traefik-api-username": { kind: "string", arg: "U", help: "API user (default jupyterhub)" },
  "traefik-api-password": { kind: "string", arg: "P", help: "API password (default random)" },
  "traefik-entrypoint": { kind: "string", arg: "NAME", help: "public entry point (http/https)" },
  "traefik-log-level": { kind: "string", arg: "L", help: "traefik's log level (default WARN)" },
  "traefik-bin": { kind: "string", arg: "FILE", help: "traefik binary (or TRAEFIK_BIN)" },
  "check-route-timeout": { kind: "number", arg: "S", help: "seconds to wait for traefik (30)" },
  "kv-traefik-prefix": { kind: "string", arg: "P", help: "KV prefix of traefik's keys" },
  "kv-jupyterhub-prefix": { kind: "string", arg: "P", help: "KV prefix of route records" },
  "redis-url": { kind: "string", arg: "URL", help: "redis:// or rediss:// URL" },
  "redis-username": { kind: "string", arg: "U", help: "redis ACL user" },
  "redis-password": { kind: "string", arg: "P", help: "redis password" },
  "etcd-url": { kind: "string", arg: "URLS", help: "etcd endpoints, comma-separated" },
  "etcd-username": { kind: "string", arg: "U", help: "etcd user" },
  "etcd-password": { kind: "string", arg: "P", help: "etcd password" },
  "etcd-ca-file": { kind: "string", arg: "FILE", help: "CA certificate for https etcd endpoints" },
  "external-traefik": { kind: "boolean", help: "traefik is managed elsewhere; only write routes" },
  "help": { kind: "boolean", help: "show this help" },
  "version": { kind: "boolean", help: "show the version" },
};

/** Parsed option values by flag name; lists are arrays. */
export type OptionValues = Record<string, string | number | boolean | string[]>;

/** The result of `parseArgs`. */
export interface ParsedArgs {
  /** Option values by flag name (without `--`). */
  values: OptionValues;
  /** One warning per accepted-but-unsupported flag that was given. */
  warnings: string[];
}

const ENV_PREFIX = "JUPYTERHUB_TRAEFIK_";

/**
 * Parses argv (`--flag value`, `--flag=value`, `--no-flag`; the last occurrence wins, lists
 * accumulate), then fills gaps from the environment (`JUPYTERHUB_TRAEFIK_REDIS_URL`,
 * `CONFIGPROXY_AUTH_TOKEN`) and from a config file's already-parsed contents.
 *
 * @example
 * ```ts
 * import { parseArgs } from "./flags.ts";
 * parseArgs(["--ip", "", "--port=8000", "--log-level", "debug"]).values;
 * // { ip: "", port: 8000, "log-level": "debug" }
 * ```
 * @throws {ConfigError} for an unknown flag, a missing value or a value of the wrong type.
 */
export function parseArgs(
  argv: string[],
  options: { env?: Record<string, string | undefined>; config?: Record<string, unknown> } = {},
): ParsedArgs {
  const values: OptionValues = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith("--")) throw new ConfigError(`unexpected argument ${JSON.stringify(arg)}`);
    const eq = arg.indexOf("=");
    let name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
    let inline: string | undefined = eq < 0 ? undefined : arg.slice(eq + 1);
    let negated = false;
    if (!(name in FLAGS) && name.startsWith("no-") && FLAGS[name.slice(3)]?.kind === "boolean") {
      name = name.slice(3);
      negated = true;
    }
    const flag = FLAGS[name];
    if (!flag) throw new ConfigError(`unknown option --${name}; see --help`);
    if (flag.kind === "boolean") {
      if (negated) {
        if (inline !== undefined) throw new ConfigError(`--no-${name} takes no value`);
        values[name] = false;
      } else values[name] = inline === undefined ? true : toBoolean(name, inline);
      continue;
    }
    if (negated) throw new ConfigError(`--no-${name} is not an option`);
    if (inline === undefined) {
      if (i + 1 >= argv.length) throw new ConfigError(`--${name} needs a value`);
      inline = argv[++i];
    }
    setValue(values, name, flag.kind, inline, `--${name}`);
  }
  const env = options.env ?? {};
  for (const [name, flag] of Object.entries(FLAGS)) {
    if (name in values) continue;
    const raw = env[ENV_PREFIX + name.toUpperCase().replaceAll("-", "_")];
    if (raw !== undefined) setValue(values, name, flag.kind, raw, ENV_PREFIX + name);
  }
  for (const [key, raw] of Object.entries(options.config ?? {})) {
    const name = key.replaceAll("_", "-");
    const flag = FLAGS[name];
    if (!flag || name === "config") throw new ConfigError(`unknown option ${key} in --config file`);
    if (name in values) continue;
    if (flag.kind === "list") {
      values[name] = (Array.isArray(raw) ? raw : [raw]).map(String);
    } else if (flag.kind === "boolean" && typeof raw === "boolean") values[name] = raw;
    else setValue(values, name, flag.kind, String(raw), `${key} in --config file`);
  }
  const warnings: string[] = [];
  for (const name of Object.keys(values)) {
    if (FLAGS[name].chp === "warn") {
      warnings.push(
        `--${name} is accepted for compatibility with configurable-http-proxy ` +
          `but has no effect with traefik (${FLAGS[name].help})`,
      );
    }
  }
  return { values, warnings };
}

function setValue(values: OptionValues, name: string, kind: Kind, raw: string, where: string) {
  if (kind === "number") {
    const n = Number(raw);
    if (raw.trim() === "" || !Number.isFinite(n) || n < 0) {
      throw new ConfigError(`${where} must be a non-negative number, not ${JSON.stringify(raw)}`);
    }
    values[name] = n;
  } else if (kind === "list") {
    values[name] = [...((values[name] as string[] | undefined) ?? []), raw];
  } else if (kind === "boolean") values[name] = toBoolean(where, raw);
  else values[name] = raw;
}

function toBoolean(where: string, raw: string): boolean {
  if (/^(1|true|yes|on)$/i.test(raw)) return true;
  if (/^(0|false|no|off|)$/i.test(raw)) return false;
  throw new ConfigError(`${where} must be true or false, not ${JSON.stringify(raw)}`);
}

/**
 * The `--help` text, generated from `FLAGS`.
 *
 * @example
 * ```ts
 * import { helpText } from "./flags.ts";
 * console.log(helpText());
 * ```
 */
export function helpText(): string {
  const lines = [
    "Usage: jupyterhub-traefik-proxy [options]",
    "",
    "A configurable-http-proxy replacement for JupyterHub that routes through traefik.",
    "Every option can also be set as JUPYTERHUB_TRAEFIK_<OPTION> (e.g. JUPYTERHUB_TRAEFIK_REDIS_URL)",
    "or in a --config file (redis-url or redis_url). The API token is CONFIGPROXY_AUTH_TOKEN.",
    "",
  ];
  const row = (name: string, flag: Flag) => {
    const left = `  --${name}${flag.arg ? " " + flag.arg : ""}`;
    lines.push(left.padEnd(36) + flag.help + (flag.chp === "warn" ? " [accepted, no effect]" : ""));
  };
  lines.push("configurable-http-proxy options:");
  for (const [name, flag] of Object.entries(FLAGS)) if (flag.chp) row(name, flag);
  lines.push("", "traefik options:");
  for (const [name, flag] of Object.entries(FLAGS)) if (!flag.chp) row(name, flag);
  lines.push("", "Boolean options also take --no-<option>.");
  return lines.join("\n");
}
