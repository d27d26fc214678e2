/**
 * The command line: every configurable-http-proxy flag plus this proxy's own options, read from
 * argv, environment variables (`JUPYTERHUB_TRAEFIK_<OPTION>`) and an already-parsed TOML/YAML
 * `--config` file. Precedence: argv (last occurrence wins), then the environment, then the
 * config file.
 *
 * argv is parsed by `node:util`'s `parseArgs` (strict, with `--no-<boolean>`), so every form
 * JupyterHub and CHP users write is accepted: `--flag=v`, `--flag v`, `--ip ''`, repeated flags.
 * One difference from configurable-http-proxy: a boolean flag takes no value, so
 * `--host-routing=true` is refused; write `--host-routing` or `--no-host-routing`.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { ConfigError } from "../core/errors.ts";
import type { ConfigTree } from "../core/types.ts";

/**
 * The kind of value a flag takes; `list` flags may be repeated and keep every value.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { FLAGS, type FlagKind } from "./flags.ts";
 * const kind: FlagKind = FLAGS["custom-header"].kind;
 * assert.equal(kind, "list");
 * ```
 */
export type FlagKind = "string" | "number" | "boolean" | "list";

/**
 * One row of the flag table.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { FLAGS, type FlagSpec } from "./flags.ts";
 * const spec: FlagSpec = FLAGS.timeout;
 * assert.deepEqual([spec.kind, spec.chp, spec.arg], ["number", "warn", "MS"]);
 * ```
 */
export interface FlagSpec {
  /** The kind of value. */
  readonly kind: FlagKind;
  /** One line for `--help`. */
  readonly help: string;
  /**
   * configurable-http-proxy flags only: `yes` = implemented, `warn` = accepted, no effect (none
   * of these affects security), `refused` = a start with it fails, saying `refusal`.
   */
  readonly chp?: "yes" | "warn" | "refused";
  /** For `refused` flags: why, and what to do instead. */
  readonly refusal?: string;
  /** Placeholder of the value in `--help`. */
  readonly arg?: string;
}

/**
 * Every flag, by its long name without `--`.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { FLAGS } from "./flags.ts";
 * assert.equal(FLAGS.port.kind, "number");
 * assert.equal(FLAGS["x-forward"].chp, "warn");
 * ```
 */
export const FLAGS = {
  // configurable-http-proxy's flags
  "ip": { kind: "string", chp: "yes", arg: "ADDR", help: "public IP address ('' = all)" },
  "port": { kind: "number", chp: "yes", arg: "N", help: "public port (default 8000)" },
  "socket": {
    kind: "string",
    chp: "yes",
    arg: "PATH",
    help: "public unix socket (relayed to traefik on loopback)",
  },
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
  "ssl-ca": { kind: "string", chp: "yes", arg: "FILE", help: "CA of the public clients' certs" },
  "ssl-request-cert": { kind: "boolean", chp: "yes", help: "public: require client certs" },
  "ssl-reject-unauthorized": { kind: "boolean", chp: "yes", help: "public: verify client certs" },
  "ssl-protocol": {
    kind: "string",
    chp: "refused",
    arg: "P",
    help: "TLS protocol",
    refusal: "OpenSSL protocol names have no traefik equivalent; set minVersion/maxVersion of " +
      "tls.options.default in an --extra-dynamic-config file",
  },
  "ssl-ciphers": {
    kind: "string",
    chp: "refused",
    arg: "C",
    help: "TLS ciphers",
    refusal: "OpenSSL cipher lists have no traefik equivalent; set cipherSuites of " +
      "tls.options.default in an --extra-dynamic-config file",
  },
  "ssl-allow-rc4": {
    kind: "boolean",
    chp: "refused",
    help: "allow RC4",
    refusal: "traefik (Go) cannot offer RC4, which is broken; drop the option",
  },
  "ssl-dhparam": {
    kind: "string",
    chp: "refused",
    arg: "FILE",
    help: "DH parameters",
    refusal: "traefik (Go) offers only elliptic-curve key exchange, no DH parameters; drop the " +
      "option (curvePreferences of tls.options.default in an --extra-dynamic-config file " +
      "choose the curves)",
  },
  "api-ssl-key": { kind: "string", chp: "yes", arg: "FILE", help: "TLS key of the REST API" },
  "api-ssl-cert": { kind: "string", chp: "yes", arg: "FILE", help: "TLS certificate of the API" },
  "api-ssl-ca": { kind: "string", chp: "yes", arg: "FILE", help: "CA of the API clients' certs" },
  "api-ssl-request-cert": { kind: "boolean", chp: "yes", help: "API: require client certs" },
  "api-ssl-reject-unauthorized": { kind: "boolean", chp: "yes", help: "API: verify client certs" },
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
  "log-format": {
    kind: "string",
    arg: "F",
    help: "text (default) or json: one object per line, also traefik's log",
  },
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
  "provider": { kind: "string", arg: "P", help: "file (default), redis, etcd or consul" },
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
  "redis-ca-file": { kind: "string", arg: "FILE", help: "CA certificate for a rediss:// URL" },
  "etcd-url": { kind: "string", arg: "URLS", help: "etcd endpoints, comma-separated" },
  "etcd-username": { kind: "string", arg: "U", help: "etcd user" },
  "etcd-password": { kind: "string", arg: "P", help: "etcd password" },
  "etcd-ca-file": { kind: "string", arg: "FILE", help: "CA certificate for https etcd endpoints" },
  "consul-url": { kind: "string", arg: "URL", help: "consul's HTTP API (http://127.0.0.1:8500)" },
  "consul-token": { kind: "string", arg: "T", help: "consul ACL token (never logged)" },
  "consul-ca-file": { kind: "string", arg: "FILE", help: "CA certificate for an https consul" },
  "external-traefik": { kind: "boolean", help: "traefik is managed elsewhere; only write routes" },
  "traefik-dashboard": {
    kind: "boolean",
    help: "traefik's dashboard at <traefik-api-url>/dashboard/, behind the API's basicAuth",
  },
  "acme-domain": {
    kind: "list",
    arg: "NAME",
    help: "HTTPS with a certificate from ACME for NAME (repeatable; needs --redirect-port)",
  },
  "acme-email": { kind: "string", arg: "ADDR", help: "contact address of the ACME account" },
  "acme-server": {
    kind: "string",
    arg: "URL",
    help: "ACME directory (default Let's Encrypt; staging: " +
      "https://acme-staging-v02.api.letsencrypt.org/directory)",
  },
  "acme-ca-file": { kind: "string", arg: "FILE", help: "CA to trust for a private ACME server" },
  "acme-challenge": { kind: "string", arg: "C", help: "ACME challenge: http (HTTP-01, default)" },
  "acme-renew-before": {
    kind: "number",
    arg: "S",
    help: "renew this many seconds before expiry (default 30 days)",
  },
  "traefik-reads-store": {
    kind: "boolean",
    help: "the traefik started here reads redis/etcd/consul itself, not a file fed from it",
  },
  "kv-traefik-keys": {
    kind: "boolean",
    help: "write traefik's keys to redis/etcd (default; --no- when only this proxy feeds traefik)",
  },
  "fallback": {
    kind: "boolean",
    help: "serve new routes from this process until traefik loads them (default; --no- for " +
      "traefik only)",
  },
  "fallback-ip": {
    kind: "string",
    arg: "ADDR",
    help: "where the fallback listens (default 127.0.0.1)",
  },
  "fallback-port": {
    kind: "number",
    arg: "N",
    help: "its port (default free; required to use it with --external-traefik)",
  },
  "activity": {
    kind: "boolean",
    help:
      "routes' last_activity from their traffic (default; --no- keeps the time they were added)",
  },
  "activity-interval": {
    kind: "number",
    arg: "S",
    help: "seconds between writes of activity to the store or file (10)",
  },
  "websocket-activity": {
    kind: "boolean",
    help: "relay websockets through this process to count their messages (default; --no- " +
      "leaves them to traefik: one count when a websocket closes)",
  },
  "entry-tree-routes": {
    kind: "number",
    arg: "N",
    help: "from N routes under one path (/user/), traefik tries a request against one of 12 " +
      "loopback entry points holding a twelfth of them (2000; 0: off)",
  },
  "drift-interval": {
    kind: "number",
    arg: "S",
    help: "seconds between comparisons of traefik's routers with the table, repairing what " +
      "differs (60; 0: off)",
  },
  "help": { kind: "boolean", help: "show this help" },
  "version": { kind: "boolean", help: "show the version" },
} as const satisfies Record<string, FlagSpec>;

/**
 * A flag's long name without `--`.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { FLAGS, type FlagName } from "./flags.ts";
 * const name: FlagName = "host-routing";
 * assert.equal(FLAGS[name].kind, "boolean");
 * ```
 */
export type FlagName = keyof typeof FLAGS;

/**
 * Parsed values by flag name, each of its flag's type (a `number` flag is a number, a `list`
 * flag a string array); a flag that was not given is absent.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import type { FlagValues } from "./flags.ts";
 * const values: FlagValues = { port: 8000, "host-routing": true, "custom-header": ["X-A: 1"] };
 * assert.equal(values.port, 8000);
 * ```
 */
export type FlagValues = {
  -readonly [N in FlagName]?: {
    string: string;
    number: number;
    boolean: boolean;
    list: string[];
  }[(typeof FLAGS)[N]["kind"]];
};

/**
 * The result of `parseFlags`.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { type ParsedFlags, parseFlags } from "./flags.ts";
 * const parsed: ParsedFlags = parseFlags(["--no-x-forward"]);
 * assert.equal(parsed.values["x-forward"], false);
 * assert.match(parsed.warnings[0], /--x-forward is accepted .* but has no effect/);
 * ```
 */
export interface ParsedFlags {
  /** Values by flag name (without `--`). */
  values: FlagValues;
  /** One warning per accepted-but-unsupported CHP flag that was given. */
  warnings: string[];
}

/**
 * Options of `parseFlags`: where to look for values argv does not give.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseFlags, type ParseFlagsOptions } from "./flags.ts";
 * const options: ParseFlagsOptions = {
 *   env: { JUPYTERHUB_TRAEFIK_REDIS_URL: "redis://127.0.0.1:6379" },
 *   config: { provider: "redis", redis_url: "redis://ignored:6379" },
 * };
 * const { values } = parseFlags([], options);
 * assert.deepEqual(values, { "redis-url": "redis://127.0.0.1:6379", provider: "redis" });
 * ```
 */
export interface ParseFlagsOptions {
  /** Environment variables, read as `JUPYTERHUB_TRAEFIK_<OPTION>`. */
  env?: Record<string, string | undefined>;
  /** The parsed `--config` file: option names as keys, with `-` or `_`. */
  config?: ConfigTree;
}

const ENV_PREFIX = "JUPYTERHUB_TRAEFIK_";

const FLAG_NAMES = Object.keys(FLAGS) as FlagName[];

function isFlagName(name: string): name is FlagName {
  return Object.hasOwn(FLAGS, name);
}

function spec(name: FlagName): FlagSpec {
  return FLAGS[name];
}

/** The `node:util` option table: numbers are read as strings and converted afterwards. */
const ARGV_OPTIONS = Object.fromEntries(FLAG_NAMES.map((name) => {
  const kind = spec(name).kind;
  if (kind === "boolean") return [name, { type: "boolean" as const }];
  return [name, { type: "string" as const, multiple: kind === "list" }];
}));

/** A value on its way into `FlagValues`: checked against its flag's kind by `convert`. */
type FlagValue = NonNullable<FlagValues[FlagName]>;

/** A value as argv, the environment or a config file gives it. */
type RawValue = string | boolean | (string | boolean)[];

/**
 * Parses argv (`--flag value`, `--flag=value`, `--no-<boolean>`; the last occurrence wins,
 * `--custom-header` accumulates), then fills gaps from the environment
 * (`JUPYTERHUB_TRAEFIK_REDIS_URL`; booleans as true/false/1/0/yes/no) and from a config file's
 * already-parsed contents (`redis-url` or `redis_url`).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseFlags } from "./flags.ts";
 * const { values } = parseFlags(["--ip", "", "--port=8000", "--log-level", "debug"], {
 *   env: { JUPYTERHUB_TRAEFIK_PROVIDER: "redis" },
 * });
 * assert.deepEqual(values, { ip: "", port: 8000, "log-level": "debug", provider: "redis" });
 * ```
 * @throws {ConfigError} for an unknown flag, a missing value or a value of the wrong type.
 */
export function parseFlags(argv: string[], options: ParseFlagsOptions = {}): ParsedFlags {
  const found = new Map<FlagName, FlagValue>();
  for (const [name, raw] of Object.entries(readArgv(argv))) {
    if (!isFlagName(name) || raw === undefined) continue;
    found.set(name, convert(name, raw, `--${name}`));
  }
  const env = options.env ?? {};
  for (const name of FLAG_NAMES) {
    const variable = ENV_PREFIX + name.toUpperCase().replaceAll("-", "_");
    const raw = env[variable];
    if (!found.has(name) && raw !== undefined) found.set(name, convert(name, raw, variable));
  }
  for (const [key, raw] of Object.entries(options.config ?? {})) {
    const name = key.replaceAll("_", "-");
    if (!isFlagName(name) || name === "config") {
      throw new ConfigError(`unknown option ${key} in --config file`);
    }
    if (found.has(name)) continue;
    found.set(name, convert(name, fromConfigFile(raw), `${key} in --config file`));
  }
  const warnings: string[] = [];
  for (const [name, value] of found) {
    const flag = spec(name);
    if (flag.chp === "refused" && value !== false) {
      throw new ConfigError(`--${name} is refused: ${flag.refusal}`);
    }
    if (flag.chp === "warn") {
      warnings.push(
        `--${name} is accepted for compatibility with configurable-http-proxy ` +
          `but has no effect with traefik (${flag.help})`,
      );
    }
  }
  // Every value went through `convert`, which returns the type of its flag's kind.
  return { values: Object.fromEntries(found) as FlagValues, warnings };
}

function readArgv(argv: string[]): Record<string, RawValue | undefined> {
  try {
    return parseArgs({
      args: argv,
      options: ARGV_OPTIONS,
      strict: true,
      allowPositionals: false,
      allowNegative: true,
    }).values;
  } catch (error) {
    throw argvError(error);
  }
}

/** Rewrites `node:util`'s parse errors as one line saying what to type instead. */
function argvError(error: unknown): ConfigError {
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: unknown })?.code;
  const quoted = /'(.*)'/.exec(message)?.[1];
  if (quoted !== undefined) {
    const flag = quoted.replace(/ <value>$/, "");
    if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") {
      return new ConfigError(`unknown option ${flag}; see --help`);
    }
    if (code === "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL") {
      return new ConfigError(
        `unexpected argument ${JSON.stringify(flag)}; every option starts with --`,
      );
    }
    if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") {
      if (message.includes("argument missing")) {
        return new ConfigError(`${flag} needs a value`);
      }
      if (message.includes("ambiguous")) {
        return new ConfigError(
          `${flag} needs a value; write ${flag}=VALUE for a value that starts with '-'`,
        );
      }
      if (message.includes("does not take an argument")) {
        const name = flag.replace(/^--/, "");
        return new ConfigError(`${flag} takes no value; write --${name} or --no-${name}`);
      }
    }
  }
  return new ConfigError(`${message.replaceAll("\n", " ")}; see --help`, { cause: error });
}

/** A config-file value as argv would give it: booleans stay booleans, arrays stay lists. */
function fromConfigFile(raw: unknown): RawValue {
  if (typeof raw === "boolean") return raw;
  if (Array.isArray(raw)) return raw.map(String);
  return String(raw);
}

/** Checks and converts one raw value to the type of `name`'s kind. */
function convert(name: FlagName, raw: RawValue, where: string): FlagValue {
  const kind = spec(name).kind;
  if (kind === "list") return Array.isArray(raw) ? raw.map(String) : [String(raw)];
  if (kind === "boolean") return typeof raw === "boolean" ? raw : toBoolean(String(raw), where);
  const text = Array.isArray(raw) ? raw.join(",") : String(raw);
  if (kind === "string") return text;
  const n = Number(text);
  if (text.trim() === "" || !Number.isFinite(n) || n < 0) {
    throw new ConfigError(`${where} must be a non-negative number, not ${JSON.stringify(text)}`);
  }
  return n;
}

function toBoolean(raw: string, where: string): boolean {
  if (/^(1|true|yes|on)$/i.test(raw)) return true;
  if (/^(0|false|no|off|)$/i.test(raw)) return false;
  throw new ConfigError(`${where} must be true or false, not ${JSON.stringify(raw)}`);
}

/**
 * The `--help` text, generated from `FLAGS`.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { helpText } from "./flags.ts";
 * assert.match(helpText(), /--error-target URL/);
 * assert.match(helpText(), /--x-forward .*\[accepted, no effect\]/);
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
  const row = (name: FlagName) => {
    const flag = spec(name);
    const left = `  --${name}${flag.arg ? " " + flag.arg : ""}`;
    const note = flag.chp === "warn"
      ? " [accepted, no effect]"
      : flag.chp === "refused"
      ? " [refused at start]"
      : "";
    lines.push(left.padEnd(36) + flag.help + note);
  };
  lines.push("configurable-http-proxy options:");
  for (const name of FLAG_NAMES) if (spec(name).chp) row(name);
  lines.push("", "traefik options:");
  for (const name of FLAG_NAMES) if (!spec(name).chp) row(name);
  lines.push("", "Boolean options take no value; --no-<option> turns one off.");
  return lines.join("\n");
}
