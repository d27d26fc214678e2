/**
 * Reading and writing configuration trees as TOML or YAML, chosen by file extension, in a form
 * that traefik's file provider (which runs files through Go templates) reads back unchanged.
 *
 * @module
 */

import { parse as parseToml, stringify as stringifyToml } from "smol-toml";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { ConfigError } from "./errors.ts";
import { isPlainObject } from "./tree.ts";
import type { ConfigTree } from "./types.ts";

/** A configuration file format. */
export type ConfigFormat = "toml" | "yaml";

/**
 * The format of a file from its extension: `.toml`, or `.yaml` / `.yml`.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatOf } from "./config_format.ts";
 * assert.deepEqual(formatOf("rules.yml"), "yaml");
 * ```
 * @throws {ConfigError} for any other extension.
 */
export function formatOf(path: string): ConfigFormat {
  const lower = path.toLowerCase();
  if (lower.endsWith(".toml")) return "toml";
  if (lower.endsWith(".yaml") || lower.endsWith(".yml")) return "yaml";
  throw new ConfigError(
    `cannot tell the format of ${path}: name the file *.toml, *.yaml or *.yml`,
  );
}

/**
 * Parses TOML or YAML text into a tree (an empty document is `{}`).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseConfig } from "./config_format.ts";
 * const tree = parseConfig('[log]\nlevel = "INFO"\n', "toml");
 * assert.equal((tree.log as { level: string }).level, "INFO");
 * assert.deepEqual(parseConfig("", "yaml"), {});
 * ```
 * @throws {ConfigError} when the text is not valid, or is not a table/mapping at the top.
 */
export function parseConfig(text: string, format: ConfigFormat): ConfigTree {
  let value: unknown;
  try {
    value = format === "toml" ? parseToml(text) : parseYaml(text);
  } catch (error) {
    throw new ConfigError(`invalid ${format.toUpperCase()}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  if (value === null || value === undefined) return {};
  if (!isPlainObject(value)) {
    throw new ConfigError(`the ${format.toUpperCase()} document must be a table/mapping`);
  }
  return value;
}

/**
 * Serialises a tree as TOML or YAML. Every `{{` inside a string is written as `{\u007B`, an
 * escape both formats decode, so traefik's Go-template pass never sees a template action.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { stringifyConfig } from "./config_format.ts";
 * assert.deepEqual(stringifyConfig({ a: { b: "{{x}}" } }, "toml"), '[a]\nb = "{\\u007Bx}}"\n');
 * ```
 * @throws {ConfigError} if the output would still contain `{{` (a key that needs it).
 */
export function stringifyConfig(tree: ConfigTree, format: ConfigFormat): string {
  let text = format === "toml" ? stringifyToml(tree) : stringifyYaml(tree, {
    defaultStringType: "QUOTE_DOUBLE",
    defaultKeyType: "PLAIN",
    lineWidth: 0,
    aliasDuplicateObjects: false,
  });
  if (text.includes("{{")) text = escapeBraces(tree, format, text);
  if (text.includes("{{")) {
    throw new ConfigError("the configuration has '{{' in a key, which traefik's templates break");
  }
  return text.endsWith("\n") ? text : text + "\n";
}

// Re-serialise with a marker in place of "{{" in string values, then swap the marker for the
// escape; the marker contains no character either format escapes, and appears nowhere in the
// plain serialisation (so nowhere in the tree).
function escapeBraces(tree: ConfigTree, format: ConfigFormat, plain: string): string {
  let n = 0;
  while (plain.includes(`JHTPBRACE${n}X`)) n++;
  const marker = `JHTPBRACE${n}X`;
  const replace = (value: unknown): unknown => {
    if (typeof value === "string") return value.replaceAll("{{", "{" + marker);
    if (Array.isArray(value)) return value.map(replace);
    if (isPlainObject(value)) {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, replace(v)]));
    }
    return value;
  };
  const marked = stringifyConfig(replace(tree) as ConfigTree, format);
  return marked.replaceAll(marker, "\\u007B");
}
