import assert from "node:assert/strict";
import { assemble, configPieces, renderPiece } from "./config_document.ts";
import { parseConfig } from "./config_format.ts";
import { deepMerge } from "./tree.ts";
import { tableConfig } from "./route_config.ts";
import type { ConfigTree, Route } from "./types.ts";

const routes: Route[] = [
  { routespec: "/", target: "http://127.0.0.1:8081", data: { hub: true } },
  {
    routespec: "/user/%7B%7B/",
    target: "http://127.0.0.1:9000",
    data: { user: "{{ .Env.X }}", n: 1, nested: { list: [1, { z: "a" }] }, empty: {} },
    lastActivity: "2026-01-01T00:00:00.000Z",
  },
];
// The private API router as lib/traefik/api_router.ts writes it, spelled out: the core's tests
// stay within the core.
const apiRouter: ConfigTree = {
  http: {
    routers: {
      route_api: {
        rule: 'PathPrefix("/api")',
        entryPoints: ["auth_api"],
        service: "api@internal",
        middlewares: ["auth_api"],
        priority: 1000,
      },
    },
    middlewares: { auth_api: { basicAuth: { users: ["u:$2b$04$x"] } } },
  },
};
const fixed = deepMerge(apiRouter, {
  tls: { certificates: [{ certFile: "/c.pem", keyFile: "/k.pem" }] },
  http: { middlewares: { extra: { headers: { customRequestHeaders: { "X-A": "1" } } } } },
});

for (const format of ["toml", "yaml"] as const) {
  Deno.test(`a ${format} document assembled from pieces equals the whole tree`, () => {
    const tree = deepMerge(fixed, tableConfig(routes, { entryPoint: "http" }));
    const pieces = configPieces(tree).map((piece) => renderPiece(piece, format));
    const text = [...assemble(pieces, format, 64)].join("");
    assert.ok(!text.includes("{{"), "never a template action");
    const normalize = (t: ConfigTree) => JSON.parse(JSON.stringify(t));
    assert.deepEqual(normalize(parseConfig(text, format)), normalize(tree));
  });
}

Deno.test("configPieces splits named tables into entries and keeps other values whole", () => {
  const pieces = configPieces({
    http: { routers: { a: { rule: "x" }, b: { rule: "y" } } },
    tls: { certificates: [{ certFile: "c" }], options: { default: { minVersion: "1.2" } } },
  });
  assert.deepEqual(pieces.map((p) => `${p.path.join(".")}:${p.name}`), [
    "http.routers:a",
    "http.routers:b",
    "tls:certificates",
    "tls.options:default",
  ]);
  assert.throws(() => configPieces({ bad: "scalar" }));
});
