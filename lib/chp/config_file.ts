/**
 * TOML/YAML files named on the command line: the `--config` file of options, and the
 * `--extra-static-config` / `--extra-dynamic-config` traefik configuration.
 *
 * @module
 */

import { ConfigError } from "../core/errors.ts";
import { formatOf, parseConfig } from "../core/config_format.ts";
import type { ConfigTree } from "../core/types.ts";
import { type ParsedFlags, parseFlags } from "./flags.ts";
import type { CliSettings } from "./settings.ts";
import type { TargetTls } from "../fallback/forward.ts";

/**
 * Reads and parses a TOML or YAML file (by its extension) that the flag `what` names.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { ConfigError } from "../core/errors.ts";
 * import { readConfigFile } from "./config_file.ts";
 * await assert.rejects(readConfigFile("/nonexistent.toml", "--config"), ConfigError);
 * ```
 * @throws {ConfigError} naming `what` when the file cannot be read or parsed.
 */
export async function readConfigFile(path: string, what: string): Promise<ConfigTree> {
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

/**
 * Parses the command line and, when it or the environment names a `--config` file, reads that
 * file and parses again with it as the last source (argv > environment > config file).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadFlags } from "./config_file.ts";
 * const { values } = await loadFlags(["--port", "8000"], { env: {} });
 * assert.deepEqual(values, { port: 8000 });
 * ```
 * @throws {ConfigError} for invalid flags or an unreadable config file.
 */
export async function loadFlags(
  argv: string[],
  options: { env?: Record<string, string | undefined> } = {},
): Promise<ParsedFlags> {
  const flags = parseFlags(argv, { env: options.env });
  if (!flags.values.config) return flags;
  const config = await readConfigFile(flags.values.config, "--config");
  return parseFlags(argv, { env: options.env, config });
}

/**
 * The traefik configuration files the settings name, parsed (`{}` for one not given).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { type ExtraConfig, readExtraConfig } from "./config_file.ts";
 * const extra: ExtraConfig = await readExtraConfig({});
 * assert.deepEqual(extra.extraDynamicConfig, {});
 * ```
 */
export interface ExtraConfig {
  /** Static configuration merged last (`--extra-static-config`). */
  extraStaticConfig: ConfigTree;
  /** Dynamic configuration written beside the routes (`--extra-dynamic-config`). */
  extraDynamicConfig: ConfigTree;
}

/**
 * Reads `--extra-static-config` and `--extra-dynamic-config`.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { readExtraConfig } from "./config_file.ts";
 * const settings = { extraStaticConfigFile: undefined, extraDynamicConfigFile: undefined };
 * assert.deepEqual(await readExtraConfig(settings), {
 *   extraStaticConfig: {},
 *   extraDynamicConfig: {},
 * });
 * ```
 * @throws {ConfigError} when a file cannot be read or parsed.
 */
export async function readExtraConfig(
  settings: Pick<CliSettings, "extraStaticConfigFile" | "extraDynamicConfigFile">,
): Promise<ExtraConfig> {
  const read = (path: string | undefined, what: string) =>
    path ? readConfigFile(path, what) : Promise.resolve({});
  return {
    extraStaticConfig: await read(settings.extraStaticConfigFile, "--extra-static-config"),
    extraDynamicConfig: await read(settings.extraDynamicConfigFile, "--extra-dynamic-config"),
  };
}

/**
 * Checks at start that every key, certificate and CA file the settings name can be read and is
 * PEM, so that a typo is one line naming the flag, not a traefik that cannot serve TLS.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { ConfigError } from "../core/errors.ts";
 * import { checkTlsFiles } from "./config_file.ts";
 * await checkTlsFiles({}); // nothing to check
 * await assert.rejects(
 *   checkTlsFiles({ tls: { certFile: "/nonexistent.crt", keyFile: "/nonexistent.key" } }),
 *   (error) => error instanceof ConfigError && /^--ssl-cert \/nonexistent\.crt/.test(error.message),
 * );
 * ```
 * @throws {ConfigError} naming the flag and the path of a file that cannot be read or is not PEM.
 */
export async function checkTlsFiles(
  settings: Pick<CliSettings, "tls" | "apiTls" | "targetTls" | "acme">,
): Promise<void> {
  const files: [string, string | undefined][] = [
    ["--ssl-cert", settings.tls?.certFile],
    ["--ssl-key", settings.tls?.keyFile],
    ["--ssl-ca", settings.tls?.clientCaFile],
    ["--api-ssl-cert", settings.apiTls?.cert],
    ["--api-ssl-key", settings.apiTls?.key],
    ["--api-ssl-ca", settings.apiTls?.clientCaFile],
    ["--client-ssl-cert", settings.targetTls?.certFile],
    ["--client-ssl-key", settings.targetTls?.keyFile],
    ["--client-ssl-ca", settings.targetTls?.caFile],
    ["--acme-ca-file", settings.acme?.caFile],
  ];
  for (const [flag, path] of files) {
    if (!path) continue;
    let text: string;
    try {
      text = await Deno.readTextFile(path);
    } catch (error) {
      throw new ConfigError(`${flag} ${path} cannot be read: ${(error as Error).message}`);
    }
    if (!text.includes("-----BEGIN ")) {
      throw new ConfigError(`${flag} ${path} is not a PEM file (no -----BEGIN line)`);
    }
  }
}

/**
 * The CA and client certificate the fallback reaches https targets with: the files of
 * `--client-ssl-ca/-cert/-key` (JupyterHub's internal SSL), read. Undefined without them.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { targetTls } from "./config_file.ts";
 * assert.equal(await targetTls({}), undefined);
 * ```
 * @throws {ConfigError} when a file cannot be read.
 */
export async function targetTls(
  settings: Pick<CliSettings, "targetTls">,
): Promise<TargetTls | undefined> {
  const tls = settings.targetTls;
  if (!tls) return undefined;
  const read = async (path: string | undefined, what: string) => {
    if (!path) return undefined;
    try {
      return await Deno.readTextFile(path);
    } catch (error) {
      throw new ConfigError(`cannot read ${what} ${path}: ${(error as Error).message}`);
    }
  };
  const ca = await read(tls.caFile, "--client-ssl-ca");
  const cert = await read(tls.certFile, "--client-ssl-cert");
  const key = await read(tls.keyFile, "--client-ssl-key");
  return { ...(ca ? { caCerts: [ca] } : {}), ...(cert && key ? { cert, key } : {}) };
}
