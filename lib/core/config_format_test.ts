import assert from "node:assert/strict";
import { parseConfig, stringifyConfig } from "./config_format.ts";

Deno.test("stringifyConfig round-trips TOML and YAML and never emits '{{'", () => {
  const tree = {
    http: { routers: { r: { rule: 'Path("/\\x7b")', entryPoints: ["http"], priority: 5 } } },
    jupyterhub: {
      routes: { r: { data: { s: "{{x}} {{{", b: false, n: 1.5, a: [1, { z: "{{" }] } } },
    },
  };
  for (const format of ["toml", "yaml"] as const) {
    const text = stringifyConfig(tree, format);
    assert.ok(!text.includes("{{"), text);
    assert.deepEqual(JSON.parse(JSON.stringify(parseConfig(text, format))), tree, format);
  }
});

Deno.test("stringifyConfig rejects a key that would put '{{' in the output", () => {
  assert.throws(() => stringifyConfig({ "{{k": 1 }, "yaml"));
});
