/**
 * The layers of STYLE.md, checked on the sources: the core is pure and self-contained, and
 * nothing below the proxy imports the proxy, the CLI or the route functions.
 *
 * @module
 */

import assert from "node:assert/strict";

/** A source file, by its path from the repository root. */
interface Source {
  path: string;
  text: string;
}

/** One import of a source file. */
interface Import {
  line: number;
  /** As written; undefined for a dynamic import of a computed specifier. */
  specifier?: string;
  /** Repository path of a relative import (`lib/core/names.ts`), else the specifier. */
  target?: string;
}

/** Which files a rule is about, and the imports it allows them. */
interface ImportRule {
  files: (path: string) => boolean;
  allows: (imported: Import) => boolean;
  why: string;
}

const isTest = (path: string) => /_test\.[cm]?[jt]sx?$/.test(path);
const under = (dir: string) => (path: string) => path.startsWith(dir);
const inCore = under("lib/core/");

/** A relative `./` import of a file of lib/core, smol-toml or yaml. */
function coreImport({ specifier, target }: Import): boolean {
  if (specifier === undefined) return false;
  if (/^(?:npm:)?(?:smol-toml|yaml)(?:@[^/]*)?(?:\/.*)?$/.test(specifier)) return true;
  return specifier.startsWith("./") && !/(?:^|\/)\.\.(?:\/|$)/.test(specifier) && inCore(target!);
}

/** Everything above the providers and the traefik shell: folders end with `/`. */
const UPPER = ["lib/chp/", "lib/proxy.ts", "lib/routes.ts", "lib/cli.ts", "mod.ts"];
const upper = (target = "") =>
  UPPER.some((top) => top.endsWith("/") ? target.startsWith(top) : target === top);

const IMPORT_RULES: ImportRule[] = [
  {
    files: (path) => inCore(path) && !isTest(path),
    allows: coreImport,
    why: 'lib/core imports only "./" files of lib/core, smol-toml and yaml',
  },
  {
    files: (path) => inCore(path) && isTest(path),
    allows: (imported) =>
      coreImport(imported) || /^node:assert(?:\/strict)?$/.test(imported.specifier ?? ""),
    why: "a test of lib/core imports only lib/core, smol-toml, yaml and node:assert",
  },
  {
    files: under("lib/async/"),
    allows: ({ specifier, target }) =>
      specifier !== undefined && !upper(target) && !/^(?:providers|lib\/traefik)\//.test(target!),
    why: "lib/async imports nothing from providers/, lib/traefik, lib/chp, lib/proxy.ts, " +
      "lib/routes.ts, lib/cli.ts or mod.ts",
  },
  {
    files: under("lib/acme/"),
    allows: ({ specifier, target }) =>
      specifier !== undefined && !upper(target) &&
      !/^(?:providers|lib\/traefik|lib\/fallback)\//.test(target!),
    why: "lib/acme (certificates) imports nothing from providers/, lib/traefik, lib/fallback, " +
      "lib/chp, lib/proxy.ts, lib/routes.ts, lib/cli.ts or mod.ts",
  },
  {
    files: under("lib/net/"),
    allows: ({ specifier, target }) =>
      specifier !== undefined && !upper(target) &&
      !/^(?:providers|lib\/traefik|lib\/fallback)\//.test(target!),
    why:
      "lib/net (byte relays, the HTTP/2 and gRPC clients) imports nothing from providers/, lib/traefik, lib/fallback, " +
      "lib/chp, lib/proxy.ts, lib/routes.ts, lib/cli.ts or mod.ts",
  },
  {
    files: (path) => under("lib/activity/")(path) || under("lib/metrics/")(path),
    allows: ({ specifier, target }) =>
      specifier !== undefined && !upper(target) &&
      !/^(?:providers|lib\/traefik|lib\/fallback)\//.test(target!),
    why: "lib/activity and lib/metrics import nothing from providers/, lib/traefik, " +
      "lib/fallback, lib/chp, lib/proxy.ts, lib/routes.ts, lib/cli.ts or mod.ts",
  },
  {
    files: under("lib/fallback/"),
    allows: ({ specifier, target }) =>
      specifier !== undefined && !upper(target) && !/^(?:providers|lib\/traefik)\//.test(target!),
    why: "lib/fallback (the data plane) knows neither the stores nor traefik: it imports " +
      "nothing from providers/, lib/traefik, lib/chp, lib/proxy.ts, lib/routes.ts, lib/cli.ts " +
      "or mod.ts",
  },
  {
    files: (path) => under("providers/")(path) || under("lib/traefik/")(path),
    allows: ({ specifier, target }) => specifier !== undefined && !upper(target),
    why: "providers/ and lib/traefik import nothing from lib/chp, lib/proxy.ts, lib/routes.ts, " +
      "lib/cli.ts or mod.ts",
  },
];

/** What the pure core must not use, outside its tests. */
const IMPURE: [RegExp, string][] = [
  [/\bDeno\b/g, "Deno.*"],
  [/\b(?:setTimeout|setInterval|setImmediate)\b/g, "a timer"],
  [/\bDate\s*\.\s*now\b/g, "the clock"],
  [/\bnew\s+Date\b/g, "the clock"],
  [/\bperformance\b/g, "the clock"],
  [/\bcrypto\s*\.\s*(?:random\w*|getRandomValues)\b/g, "randomness"],
  [/\bMath\s*\.\s*random\b/g, "randomness"],
];

const EXPRESSION_KEYWORDS = new Set(
  "return typeof instanceof in of new delete void throw case do else yield await".split(" "),
);

/**
 * Two views of a source, each the same length with the same line breaks: `code` without
 * comments, and `bare` also without the text of strings, templates and regular expressions.
 */
function lex(source: string): { code: string; bare: string } {
  let code = "";
  let bare = "";
  const keep = (s: string) => {
    code += s;
    bare += s;
  };
  const quoted = (s: string) => {
    code += s;
    bare += s.replace(/[^\n]/g, " ");
  };
  const comment = (s: string) => {
    const blank = s.replace(/[^\n]/g, " ");
    code += blank;
    bare += blank;
  };
  const word = /[\w$]+/y;
  const templates: number[] = []; // brace depth at each open `${`
  let depth = 0;
  let regexMayStart = true;
  let i = 0;
  // The text of a template literal from `i`, up to its end or its next `${`.
  const template = () => {
    const start = i;
    while (i < source.length) {
      if (source[i] === "\\") i += 2;
      else if (source[i] === "`") {
        quoted(source.slice(start, i));
        keep("`");
        i++;
        regexMayStart = false;
        return;
      } else if (source.startsWith("${", i)) {
        quoted(source.slice(start, i));
        keep("${");
        i += 2;
        templates.push(depth++);
        regexMayStart = true;
        return;
      } else i++;
    }
    quoted(source.slice(start));
  };
  while (i < source.length) {
    const c = source[i];
    if (source.startsWith("//", i)) {
      const end = source.indexOf("\n", i);
      const stop = end < 0 ? source.length : end;
      comment(source.slice(i, stop));
      i = stop;
    } else if (source.startsWith("/*", i)) {
      const end = source.indexOf("*/", i + 2);
      const stop = end < 0 ? source.length : end + 2;
      comment(source.slice(i, stop));
      i = stop;
    } else if (c === '"' || c === "'") {
      let j = i + 1;
      while (j < source.length && source[j] !== c && source[j] !== "\n") {
        j += source[j] === "\\" ? 2 : 1;
      }
      keep(c);
      quoted(source.slice(i + 1, j));
      if (source[j] === c) keep(source[j++]);
      i = j;
      regexMayStart = false;
    } else if (c === "`") {
      keep(c);
      i++;
      template();
    } else if (c === "/" && regexMayStart) {
      let j = i + 1;
      let inClass = false;
      while (j < source.length && source[j] !== "\n") {
        const d = source[j];
        if (d === "\\") {
          j += 2;
          continue;
        }
        if (d === "/" && !inClass) break;
        if (d === "[") inClass = true;
        else if (d === "]") inClass = false;
        j++;
      }
      keep(c);
      quoted(source.slice(i + 1, j));
      if (source[j] === "/") keep(source[j++]);
      i = j;
      regexMayStart = false;
    } else if (c === "{") {
      depth++;
      keep(c);
      i++;
      regexMayStart = true;
    } else if (c === "}") {
      depth--;
      keep(c);
      i++;
      if (templates.at(-1) === depth) {
        templates.pop();
        template();
      } else regexMayStart = true;
    } else if (/[\w$]/.test(c)) {
      word.lastIndex = i;
      const name = word.exec(source)![0];
      keep(name);
      i += name.length;
      regexMayStart = EXPRESSION_KEYWORDS.has(name);
    } else {
      keep(c);
      i++;
      if (!/\s/.test(c)) regexMayStart = c !== ")" && c !== "]";
    }
  }
  return { code, bare };
}

const lineAt = (text: string, index: number) => text.slice(0, index).split("\n").length;

function resolve(from: string, specifier: string): string {
  if (!specifier.startsWith("./") && !specifier.startsWith("../")) return specifier;
  return new URL(specifier, "file:///" + from).pathname.slice(1);
}

/**
 * Static imports and re-exports (`import`/`export ... from`, bare `import "x"`) and `import()`.
 * Matched in the view without comments and string text, so that nothing quoted counts; the
 * specifier is then read at the same place of the view with the strings.
 */
function importsOf(source: Source): Import[] {
  const { code, bare } = lex(source.text);
  const found: Import[] = [];
  const patterns = [
    /(?<![\w$.])(?:import|export)\b[^;"'`]*?\bfrom\s*(["'])( *)\1/dg,
    /(?<![\w$.])import\s*(["'])( *)\1/dg,
    /(?<![\w$.])import\s*\(\s*(?:(["'])( *)\1\s*\))?/dg,
  ];
  for (const pattern of patterns) {
    for (const m of bare.matchAll(pattern)) {
      const at = m.indices![2];
      const specifier = at ? code.slice(at[0], at[1]) : undefined;
      found.push({
        line: lineAt(bare, at ? at[0] : m.index),
        specifier,
        target: specifier === undefined ? undefined : resolve(source.path, specifier),
      });
    }
  }
  return found.sort((a, b) => a.line - b.line);
}

/** Every layer violation in `sources`, as `path:line: what; why`. */
function layerViolations(sources: Source[]): string[] {
  const out: string[] = [];
  for (const source of sources) {
    for (const rule of IMPORT_RULES.filter((r) => r.files(source.path))) {
      for (const imported of importsOf(source)) {
        if (rule.allows(imported)) continue;
        const what = imported.specifier === undefined
          ? "imports a computed specifier, which cannot be checked"
          : `imports ${JSON.stringify(imported.specifier)}`;
        out.push(`${source.path}:${imported.line}: ${what}; ${rule.why}`);
      }
    }
    if (!inCore(source.path) || isTest(source.path)) continue;
    const { bare } = lex(source.text);
    const lines = source.text.split("\n");
    for (const [pattern, what] of IMPURE) {
      for (const m of bare.matchAll(pattern)) {
        const line = lineAt(bare, m.index);
        out.push(
          `${source.path}:${line}: uses ${what} (${lines[line - 1].trim()}); lib/core is pure: ` +
            "no Deno.*, timers, clock or randomness (take them as arguments)",
        );
      }
    }
  }
  return out.sort((a, b) => a.localeCompare(b, "en", { numeric: true }));
}

const ROOT = new URL("../", import.meta.url);

async function readSources(dir: string): Promise<Source[]> {
  const out: Source[] = [];
  for await (const entry of Deno.readDir(new URL(dir, ROOT))) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) out.push(...await readSources(path));
    else if (/\.[cm]?[jt]sx?$/.test(entry.name)) {
      out.push({ path, text: await Deno.readTextFile(new URL(path, ROOT)) });
    }
  }
  return out;
}

Deno.test("the sources keep their layers", async () => {
  const sources = [...await readSources("lib"), ...await readSources("providers")];
  for (const dir of ["lib/core/", "lib/async/", "lib/traefik/", "providers/"]) {
    assert.ok(sources.some((s) => s.path.startsWith(dir) && !isTest(s.path)), `no file in ${dir}`);
  }
  // The scanner sees every import written at the start of a line (multi-line ones by their
  // closing `} from "..."`), so no comment or string it misread hides one.
  const lineImports = /^(?:(?:import|export)\b[^\n]*?\bfrom|\}\s*from|import)\s*(["'])(.*?)\1/gm;
  for (const source of sources) {
    const seen = new Set(importsOf(source).map((i) => `${i.line} ${i.specifier}`));
    for (const m of source.text.matchAll(lineImports)) {
      const key = `${lineAt(source.text, m.index)} ${m[2]}`;
      assert.ok(seen.has(key), `${source.path}: the scanner missed the import at ${key}`);
    }
  }
  const violations = layerViolations(sources);
  assert.deepEqual(violations, [], `layer violations:\n${violations.join("\n")}`);
});

Deno.test("the layer check reports each violation by file and line, and nothing else", () => {
  const lines = (...text: string[]) => text.join("\n");
  const sources: Source[] = [
    {
      path: "lib/core/pure.ts",
      text: lines(
        '// import { main } from "../chp/main.ts"; Date.now()',
        "/* setTimeout(() => {}, 1); Deno.exit() */",
        'import { a } from "./a.ts";',
        "import {",
        "  b,",
        '} from "./b.ts";',
        'import { parse } from "smol-toml";',
        'import type { Document } from "yaml";',
        'export { c } from "./c.ts";',
        'export type { D } from "./d.ts";',
        'import "./side_effect.ts";',
        'const message = "new Date( and Deno.env in a string";',
        String.raw`const re = /['"]\/ import "x" Math.random()/;`,
        "const t = `Math.random() ${a(`${b}`)} performance`;",
        "/** @example",
        ' * import assert from "node:assert/strict";',
        " * const now = new Date();",
        " */",
        "export const now = (clock: { now(): Date }) => clock.now();",
        "export const parsed = Date.parse(message) / 2 / 3;",
      ),
    },
    {
      path: "lib/core/impure.ts",
      text: lines(
        'import assert from "node:assert/strict";',
        'import { traefikApi } from "../traefik/api.ts";',
        "import {",
        "  memoryStore,",
        '} from "../../providers/memory.ts";',
        'export * from "./ok.ts";',
        'const routes = await import("../routes.ts");',
        "const computed = await import(name);",
        "const t = Date.now();",
        "const d = new Date();",
        "setTimeout(() => {}, 1);",
        "const r = Math.random() + crypto.getRandomValues(new Uint8Array(1))[0];",
        "Deno.exit(1);",
        "const p = performance.now();",
        'import "npm:left-pad";',
        'import { x } from "./../core/x.ts";',
        "const u = `${setInterval(f, 1)}`;",
      ),
    },
    {
      path: "lib/core/pure_test.ts",
      text: lines(
        'import assert from "node:assert/strict";',
        'import { a } from "./a.ts";',
        'Deno.test("x", () => assert.ok(Date.now() < new Date().getTime() + 1));',
      ),
    },
    { path: "lib/core/leaky_test.ts", text: 'import { api } from "../traefik/api_router.ts";' },
    {
      path: "lib/async/wait.ts",
      text: lines(
        'import { memoryStore } from "../../providers/memory.ts";',
        'import { x } from "../core/x.ts";',
        'import { confirm } from "../traefik/confirm.ts";',
        "setTimeout(() => {}, 1);",
      ),
    },
    {
      path: "providers/store.ts",
      text: lines(
        'import { addRoute } from "../lib/routes.ts";',
        'import { handler } from "../lib/chp/api_handler.ts";',
        'import { startProxy } from "../lib/proxy.ts";',
        'import { x } from "../lib/core/x.ts";',
        'import { y } from "../lib/async/y.ts";',
        'import { createClient } from "redis";',
        'export { main } from "../mod.ts";',
      ),
    },
    {
      path: "lib/traefik/shell.ts",
      text: lines('import { startProxy } from "../proxy.ts";', 'import { t } from "./api.ts";'),
    },
    { path: "lib/chp/main.ts", text: 'import { startProxy } from "../proxy.ts";\nDate.now();' },
  ];
  const violations = layerViolations(sources);
  assert.deepEqual(violations.map((v) => v.slice(0, v.indexOf(": "))), [
    "lib/async/wait.ts:1",
    "lib/async/wait.ts:3",
    "lib/core/impure.ts:1",
    "lib/core/impure.ts:2",
    "lib/core/impure.ts:5",
    "lib/core/impure.ts:7",
    "lib/core/impure.ts:8",
    "lib/core/impure.ts:9",
    "lib/core/impure.ts:10",
    "lib/core/impure.ts:11",
    "lib/core/impure.ts:12",
    "lib/core/impure.ts:12",
    "lib/core/impure.ts:13",
    "lib/core/impure.ts:14",
    "lib/core/impure.ts:15",
    "lib/core/impure.ts:16",
    "lib/core/impure.ts:17",
    "lib/core/leaky_test.ts:1",
    "lib/traefik/shell.ts:1",
    "providers/store.ts:1",
    "providers/store.ts:2",
    "providers/store.ts:3",
    "providers/store.ts:7",
  ], violations.join("\n"));
  assert.ok(violations.includes(
    'lib/core/impure.ts:2: imports "../traefik/api.ts"; ' +
      'lib/core imports only "./" files of lib/core, smol-toml and yaml',
  ));
  assert.ok(violations.includes(
    "lib/core/impure.ts:9: uses the clock (const t = Date.now();); lib/core is pure: " +
      "no Deno.*, timers, clock or randomness (take them as arguments)",
  ));
});
