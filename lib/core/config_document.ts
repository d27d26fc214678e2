/**
 * A configuration document assembled from pieces that are rendered once each: a piece is one
 * named entry at a section path (`http.routers` + `router__2Fa_2F`). A routing table of N
 * routes is 3N pieces; when one route changes, only its three pieces are rendered again, and
 * the document is streamed out without ever building the whole tree or one big string.
 *
 * @module
 */

import { type ConfigFormat, stringifyConfig } from "./config_format.ts";
import { ConfigError } from "./errors.ts";
import { isPlainObject } from "./tree.ts";
import type { ConfigTree } from "./types.ts";

/** One named entry of a configuration and where it sits. */
export interface ConfigPiece {
  /** Section path, one or two keys deep: `["http", "routers"]`, `["tls"]`. */
  path: string[];
  /** The entry's key in its section. */
  name: string;
  /** The entry's value. */
  value: unknown;
}

/** A piece rendered in one format. */
export interface RenderedPiece {
  /** Section path of the piece. */
  path: string[];
  /** Its text in the document's format. */
  text: string;
}

/**
 * Splits a tree into pieces: the entries of second-level tables whose values are all tables
 * (`http.routers.<name>`, `jupyterhub.routes.<name>`), and every other second-level entry
 * (`tls.certificates`) as a piece of its own.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { configPieces } from "./config_document.ts";
 * assert.deepEqual(configPieces({ http: { routers: { a: { rule: "x" } } } }), [{ path: ["http", "routers"], name: "a", value: { rule: "x" } }]);
 * ```
 * @throws {ConfigError} for a top-level value that is not a table (not valid dynamic configuration).
 */
export function configPieces(tree: ConfigTree): ConfigPiece[] {
  const pieces: ConfigPiece[] = [];
  for (const [top, section] of Object.entries(tree)) {
    if (!isPlainObject(section)) {
      throw new ConfigError(`top-level key ${top} of a dynamic configuration must be a table`);
    }
    for (const [sub, value] of Object.entries(section)) {
      if (isPlainObject(value) && Object.values(value).every(isPlainObject)) {
        for (const [name, entry] of Object.entries(value)) {
          pieces.push({ path: [top, sub], name, value: entry });
        }
      } else pieces.push({ path: [top], name: sub, value });
    }
  }
  return pieces;
}

/**
 * Renders one piece. TOML pieces carry their full table path, so they can be concatenated in
 * any order; YAML pieces are indented to sit under their section's header.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { renderPiece } from "./config_document.ts";
 * assert.deepEqual(renderPiece({ path: ["http", "routers"], name: "a", value: { priority: 1 } }, "toml").text, "[http.routers.a]\npriority = 1\n");
 * ```
 * @throws {ConfigError} as `stringifyConfig`.
 */
export function renderPiece(piece: ConfigPiece, format: ConfigFormat): RenderedPiece {
  if (format === "toml") {
    let tree: ConfigTree = { [piece.name]: piece.value };
    for (const key of [...piece.path].reverse()) tree = { [key]: tree };
    return { path: piece.path, text: flat(stringifyConfig(tree, "toml")) };
  }
  const indent = "  ".repeat(piece.path.length);
  const text = stringifyConfig({ [piece.name]: piece.value } as ConfigTree, "yaml")
    .replace(/^(?=.)/gm, indent);
  return { path: piece.path, text: flat(text) };
}

/**
 * Joins TOML pieces into one that `assemble` writes as it would have written them: TOML pieces
 * carry their full table path, so one text can hold several (a route's router and service).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { assemble, joinTomlPieces, renderPiece } from "./config_document.ts";
 * const pieces = [
 *   renderPiece({ path: ["http", "routers"], name: "a", value: { priority: 1 } }, "toml"),
 *   renderPiece({ path: ["http", "services"], name: "a", value: { weighted: {} } }, "toml"),
 * ];
 * assert.equal([...assemble([joinTomlPieces(pieces)], "toml")].join(""), [...assemble(pieces, "toml")].join(""));
 * ```
 */
export function joinTomlPieces(pieces: readonly RenderedPiece[]): RenderedPiece {
  return { path: pieces[0]?.path ?? [], text: flat(pieces.map((piece) => piece.text).join("\n")) };
}

// A copy of `text` in one piece of memory: a string built by concatenation is a tree of parts
// that costs several times its length while it lives (as rendered pieces do, in the cache).
function flat(text: string): string {
  return JSON.parse(JSON.stringify(text));
}

/**
 * Yields the document's text in chunks of about `chunkSize` characters. YAML pieces are grouped
 * under one header per section (sections appear in the order first seen).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { assemble, renderPiece } from "./config_document.ts";
 * const piece = renderPiece({ path: ["http", "routers"], name: "a", value: { priority: 1 } }, "yaml");
 * assert.deepEqual([...assemble([piece], "yaml")].join(""), "http:\n  routers:\n    a:\n      priority: 1\n");
 * ```
 */
export function* assemble(
  pieces: Iterable<RenderedPiece>,
  format: ConfigFormat,
  chunkSize = 256 * 1024,
): Generator<string> {
  let buffer: string[] = [];
  let size = 0;
  function* emit(text: string): Generator<string> {
    buffer.push(text);
    size += text.length;
    if (size >= chunkSize) {
      yield buffer.join("");
      buffer = [];
      size = 0;
    }
  }
  if (format === "toml") {
    for (const piece of pieces) yield* emit(piece.text + "\n");
  } else {
    // top key -> (section key or "" for direct entries) -> texts
    const groups = new Map<string, Map<string, string[]>>();
    for (const piece of pieces) {
      const [top, sub = ""] = piece.path;
      let sections = groups.get(top);
      if (!sections) groups.set(top, sections = new Map());
      let texts = sections.get(sub);
      if (!texts) sections.set(sub, texts = []);
      texts.push(piece.text);
    }
    for (const [top, sections] of groups) {
      yield* emit(`${top}:\n`);
      for (const text of sections.get("") ?? []) yield* emit(text);
      for (const [sub, texts] of sections) {
        if (sub === "") continue;
        yield* emit(`  ${sub}:\n`);
        for (const text of texts) yield* emit(text);
      }
    }
  }
  if (buffer.length > 0) yield buffer.join("");
}
